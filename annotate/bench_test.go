package annotate_test

import (
	"testing"
	"time"

	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/grafanatest"
)

// BenchmarkUpdate is one annotation write through the mandated client to the
// double on loopback, spec checks included: the floor of outbox delivery lag.
func BenchmarkUpdate(b *testing.B) {
	g := grafanatest.New(b, grafanatest.Options{})
	w, err := annotate.NewGrafana(g.URL(), g.Token(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	a := annotate.ForDeploy(deploy(), links, start)
	id, err := w.Create(b.Context(), a)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := w.Update(b.Context(), id, a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkForDeploy(b *testing.B) {
	d := deploy()
	for b.Loop() {
		annotate.ForDeploy(d, links, start)
	}
}
