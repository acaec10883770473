package notify

import (
	"cmp"
	"slices"

	"github.com/gohere/gohere/judge"
)

// FailingFrom lists the metrics that failed an interval's report, worst
// first: critical failures, then by relative shift, largest first (a shift
// that is undefined last). Muted metrics do not fail anything.
func FailingFrom(rep judge.Report) []FailingMetric {
	var out []FailingMetric
	for _, m := range rep.Metrics {
		if m.Muted || (m.Label != judge.LabelHigh && m.Label != judge.LabelLow && m.Label != judge.LabelNoDataFail) {
			continue
		}
		f := FailingMetric{Name: m.Name, Label: string(m.Label), Critical: m.CriticalFailure, Reason: m.Reason}
		if m.RelativeShift != nil {
			shift := *m.RelativeShift // a copy: the event must not share the report's memory
			f.Shift = &shift
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b FailingMetric) int {
		if a.Critical != b.Critical {
			if a.Critical {
				return -1
			}
			return 1
		}
		switch {
		case a.Shift == nil && b.Shift == nil:
			return 0
		case a.Shift == nil:
			return 1
		case b.Shift == nil:
			return -1
		}
		return cmp.Compare(*b.Shift, *a.Shift)
	})
	return out
}
