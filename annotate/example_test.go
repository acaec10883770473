package annotate_test

import (
	"fmt"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
)

func ExampleTags() {
	d := gohere.Deploy{ID: "d-42", Service: "checkout", Env: "prod", Version: "3f2a1c", Stage: gohere.StageCanary, Status: gohere.StatusRunning}
	fmt.Println(annotate.Tags(d))
	d.Status = gohere.StatusSucceeded
	fmt.Println(annotate.Tags(d))
	// Output:
	// [deploy gohere service:checkout env:prod version:3f2a1c stage:canary deploy-id:d-42]
	// [deploy gohere service:checkout env:prod version:3f2a1c stage:canary deploy-id:d-42 status:succeeded]
}
