package notify

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere/judge"
)

func TestFailingFrom(t *testing.T) {
	rep := judge.Report{Metrics: []judge.MetricResult{
		{Name: "ok", Label: judge.LabelPass, RelativeShift: ptr(0.01)},
		{Name: "small", Label: judge.LabelHigh, RelativeShift: ptr(0.1), Reason: "10 % higher"},
		{Name: "muted", Label: judge.LabelHigh, Muted: true, RelativeShift: ptr(9.0)},
		{Name: "nodata", Label: judge.LabelNoData},
		{Name: "error", Label: judge.LabelError},
		{Name: "must_have_data", Label: judge.LabelNoDataFail, Critical: true},
		{Name: "big", Label: judge.LabelLow, RelativeShift: ptr(0.8)},
		{Name: "critical_small", Label: judge.LabelHigh, Critical: true, CriticalFailure: true, RelativeShift: ptr(0.2)},
		{Name: "critical_big", Label: judge.LabelHigh, Critical: true, CriticalFailure: true, RelativeShift: ptr(0.5)},
		{Name: "critical_undefined", Label: judge.LabelNoDataFail, Critical: true, CriticalFailure: true},
		{Name: "also_small", Label: judge.LabelHigh, RelativeShift: ptr(0.1)},
	}}
	got := FailingFrom(rep)
	want := []FailingMetric{
		{Name: "critical_big", Label: "High", Critical: true, Shift: ptr(0.5)},
		{Name: "critical_small", Label: "High", Critical: true, Shift: ptr(0.2)},
		{Name: "critical_undefined", Label: "NoDataFail", Critical: true},
		{Name: "big", Label: "Low", Shift: ptr(0.8)},
		{Name: "small", Label: "High", Shift: ptr(0.1), Reason: "10 % higher"},
		{Name: "also_small", Label: "High", Shift: ptr(0.1)},
		// Configured critical, but it did not fail the canary.
		{Name: "must_have_data", Label: "NoDataFail"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FailingFrom (-want +got):\n%s", diff)
	}
	*rep.Metrics[6].RelativeShift = 0
	if *got[3].Shift != 0.8 {
		t.Error("FailingFrom shares the report's shifts")
	}
	if got := FailingFrom(judge.Report{Metrics: rep.Metrics[:1]}); got != nil {
		t.Errorf("FailingFrom(a passing report) = %v, want none", got)
	}
}
