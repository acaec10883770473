package dashboards_test

import (
	"testing"

	"github.com/gohere/gohere/dashboards"
)

// BenchmarkRender: install and export render every dashboard once.
func BenchmarkRender(b *testing.B) {
	for b.Loop() {
		if _, err := dashboards.Render(dashboards.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
