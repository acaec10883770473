package compare_test

import (
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
)

// BenchmarkURL: the link is built on every deploy start and page view.
func BenchmarkURL(b *testing.B) {
	d := deploy("1", "checkout", "prod", "v2", gohere.StatusSucceeded, 0, 20*time.Minute)
	d.BaselineVersion = "v1"
	cfg := compare.Config{GrafanaURL: "https://grafana.example.com"}
	for b.Loop() {
		_ = compare.URL(cfg, d)
	}
}

// BenchmarkNewPage: every view of the built-in page resolves all signals.
func BenchmarkNewPage(b *testing.B) {
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		b.Fatal(err)
	}
	q := compare.PageQuery{Service: "checkout", Env: "prod", Baseline: "v1", Canary: "v2", From: start, To: start.Add(time.Hour)}
	for b.Loop() {
		if _, err := compare.NewPage(q, signals, nil, start); err != nil {
			b.Fatal(err)
		}
	}
}
