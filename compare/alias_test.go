package compare_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
)

// TestLoadSignalsAliasBomb: issue 13, defect 1. A compare config of nested
// aliases (10^8 nodes once expanded) is refused quickly.
func TestLoadSignalsAliasBomb(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := compare.LoadSignalsFile("testdata/signals/bad-alias-bomb.yaml")
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("still loading after 5s")
	}
	if k := gohere.KindOf(err); err == nil || k != gohere.Invalid {
		t.Fatalf("err = %v (kind %v), want an Invalid error", err, k)
	}
	for _, want := range []string{"bad-alias-bomb.yaml", "line 5, column ", "aliases expand beyond 10000 nodes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
