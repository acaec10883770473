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
		{"estimate noise", estimate(judge.MetricResult{Test: &judge.Test{Estimate: 2.011e-14}, RelativeShift: f(2.011e-16)}, judge.UnitSeconds), "no change"},
		{"estimate zero", estimate(judge.MetricResult{Test: &judge.Test{}}, ""), "no change"},
		{"estimate without reference", estimate(judge.MetricResult{Test: &judge.Test{Estimate: 0.5}}, ""), "+0.5"},
		{"no test", estimate(judge.MetricResult{}, ""), ""},
		{"level", level(0.98), "98 %"},
		{"level achieved", level(0.9762), "97.62 %"},
		{"runner", runner("vm/19904"), "host vm, process 19904"},
		{"runner other", runner("replica-a"), "replica-a"},
		{"runner no pid", runner("a/b"), "a/b"},
		{"seconds as ms", inUnit(0.14893, judge.UnitSeconds), "148.9 ms"},
		{"trailing zero kept", inUnit(0.194, judge.UnitSeconds), "194.0 ms"},
		{"seconds", inUnit(2.5, judge.UnitSeconds), "2.500 s"},
		{"microseconds", inUnit(0.0000425, judge.UnitSeconds), "42.50 µs"},
		{"milliseconds", inUnit(148.93, judge.UnitMilliseconds), "148.9 ms"},
		{"milliseconds as s", inUnit(1500, judge.UnitMilliseconds), "1.500 s"},
		{"bytes", inUnit(1536, judge.UnitBytes), "1.500 KiB"},
		{"big bytes", inUnit(3.5*1024*1024*1024, judge.UnitBytes), "3.500 GiB"},
		{"ratio", inUnit(127.0/33810, judge.UnitRatio), "0.3756 %"},
		{"percent", inUnit(42.5, judge.UnitPercent), "42.50 %"},
		{"count whole", inUnit(1234567, judge.UnitCount), "1,234,567"},
		{"count mean", inUnit(12.345, judge.UnitCount), "12.35"},
		{"per second", inUnit(33810.4, judge.UnitPerSecond), "33,810/s"},
		{"zero", inUnit(0, judge.UnitSeconds), "0 s"},
		{"rounds up a digit", inUnit(999.96, judge.UnitCount), "1,000"},
		{"no unit", inUnit(0.0037563, ""), "0.003756"},
		{"diff", diffInUnit(0.0451, judge.UnitSeconds), "+45.10 ms"},
		{"negative diff", diffInUnit(-0.0025, judge.UnitSeconds), "−2.500 ms"},
		{"diff of a ratio", diffInUnit(0.06413, judge.UnitRatio), "+6.413 pp"},
		{"diff without unit", diffInUnit(0.045, ""), "+0.045"},
		{"negative diff without unit", diffInUnit(-1e-7, ""), "−1e-07"},
		{"negative value", inUnit(-0.005, judge.UnitSeconds), "−5.000 ms"},
		{"estimate in unit", estimate(judge.MetricResult{Test: &judge.Test{Estimate: 0.0451}, RelativeShift: f(0.303)}, judge.UnitSeconds), "+45.10 ms (+30.3 %)"},
		{"axis shares a scale", axisInUnit(judge.UnitSeconds)(0.9, 1.2), "0.9 s"},
		{"axis in ms", axisInUnit(judge.UnitSeconds)(0.15, 0.2), "150 ms"},
		{"axis without unit", axisInUnit("")(12500, 20000), "12,500"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
