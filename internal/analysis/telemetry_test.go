package analysis_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/spantest"
)

// recordingMetrics counts what the runner observes.
type recordingMetrics struct {
	mu sync.Mutex
	o  observed
}

type observed struct {
	Intervals map[string]int
	Queries   map[string]int
	Judged    int
}

func (m *recordingMetrics) ObserveInterval(verdict string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.o.Intervals[verdict]++
}

func (m *recordingMetrics) ObserveJudge(time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.o.Judged++
}

func (m *recordingMetrics) ObserveQuery(result string, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.o.Queries[result]++
}

// TestTelemetry checks the runner's own metrics and its spans: one per
// interval, with a child per query and one for the judgement.
func TestTelemetry(t *testing.T) {
	sr := spantest.Record(t)

	e := newEnv(t, "")
	e.src.empty = func(version string) bool { return version == "v2" }
	start := time.Now().Add(-time.Hour)
	a := e.analysis("  interval: 5m\n", start, start.Add(10*time.Minute))
	m := &recordingMetrics{o: observed{Intervals: map[string]int{}, Queries: map[string]int{}}}
	kill := e.run("r1", e.src, func(o *analysis.Options) { o.Metrics, o.Poll = m, 10*time.Millisecond })
	defer kill()
	e.waitDone(a.ID, 30*time.Second)

	m.mu.Lock()
	got := m.o
	m.mu.Unlock()
	want := observed{Intervals: map[string]int{"NoData": 2}, Queries: map[string]int{"ok": 2, "empty": 2}, Judged: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}

	children := map[string]map[string]int{} // interval span id → child name → count
	intervals := 0
	for _, s := range sr.Ended() {
		if s.Name() == "analysis.interval" {
			intervals++
			if children[s.SpanContext().SpanID().String()] == nil {
				children[s.SpanContext().SpanID().String()] = map[string]int{}
			}
		}
	}
	for _, s := range sr.Ended() {
		if c, ok := children[s.Parent().SpanID().String()]; ok {
			c[s.Name()]++
		}
	}
	if intervals != 2 {
		t.Errorf("%d interval spans, want 2", intervals)
	}
	for id, c := range children {
		if diff := cmp.Diff(map[string]int{"analysis.query": 2, "analysis.judge": 1, "store.RecordInterval": 1}, c); diff != "" {
			t.Errorf("children of interval span %s (-want +got):\n%s", id, diff)
		}
	}
}
