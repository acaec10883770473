package server

import (
	"testing"

	"github.com/gohere/gohere/judge"
)

func TestReportFormatting(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tt := range []struct{ name, got, want string }{
		{"count", count(33810), "33,810"},
		{"big count", count(1234567), "1,234,567"},
		{"negative count", num(-4500.0), "-4,500"},
		{"whole num", num(127.0), "127"},
		{"int num", num(40), "40"},
		{"large fraction", num(33810.25), "33,810.2"},
		{"statistic", num(148.93), "148.9"},
		{"small statistic", num(0.0037563), "0.003756"},
		{"nil", num((*float64)(nil)), ""},
		{"shift up", shift(f(0.303), 45), "+30.3 %"},
		{"shift down", shift(f(0.5), -1), "−50.0 %"},
		{"shift noise", shift(f(2.011e-16), 1e-14), "no change"},
		{"tiny real shift", shift(f(2e-5), 1), "+0.002 %"},
		{"estimate noise", estimate(judge.MetricResult{Test: &judge.Test{Estimate: 2.011e-14}, RelativeShift: f(2.011e-16)}), "no change"},
		{"estimate zero", estimate(judge.MetricResult{Test: &judge.Test{}}), "no change"},
		{"estimate without reference", estimate(judge.MetricResult{Test: &judge.Test{Estimate: 0.5}}), "+0.5"},
		{"no test", estimate(judge.MetricResult{}), ""},
		{"level", level(0.98), "98 %"},
		{"level achieved", level(0.9762), "97.62 %"},
		{"runner", runner("vm/19904"), "host vm, process 19904"},
		{"runner other", runner("replica-a"), "replica-a"},
		{"runner no pid", runner("a/b"), "a/b"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
