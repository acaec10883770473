package telemetry_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/telemetry"
)

func scrape(m *telemetry.Metrics) string {
	var b bytes.Buffer
	m.WritePrometheus(&b)
	return b.String()
}

func TestExposition(t *testing.T) {
	m := telemetry.NewMetrics()
	m.DeployRecorded("prod", "canary")
	m.DeployRecorded("prod", "canary")
	m.ObserveHTTP("/api/v1/deploys", 201, 3*time.Millisecond)
	m.ObserveHTTP("/api/v1/deploys", 201, 700*time.Millisecond)
	m.ObserveHTTP("unmatched", 404, time.Millisecond)
	m.AnnotationWrite("ok")
	m.AnnotationWrite("retry")
	m.AnnotationWrite("exploded") // not a known result: counted as other
	m.Notification("ok")
	m.Notification("dropped")
	m.OutboxGauges(func() []telemetry.Queue {
		return []telemetry.Queue{{Kind: "annotation", Pending: 3, OldestSeconds: 12.5}, {Kind: "notification", Pending: 1}}
	})
	got := scrape(m)
	for _, want := range []string{
		`gohere_deploys_total{env="prod",stage="canary"} 2`,
		`gohere_http_requests_total{route="/api/v1/deploys",code="201"} 2`,
		`gohere_http_requests_total{route="unmatched",code="404"} 1`,
		`gohere_http_request_duration_seconds_bucket{route="/api/v1/deploys",le="0.005"} 1`,
		`gohere_http_request_duration_seconds_bucket{route="/api/v1/deploys",le="1"} 2`,
		`gohere_http_request_duration_seconds_bucket{route="/api/v1/deploys",le="+Inf"} 2`,
		`gohere_http_request_duration_seconds_count{route="/api/v1/deploys"} 2`,
		`gohere_annotation_writes_total{result="ok"} 1`,
		`gohere_annotation_writes_total{result="retry"} 1`,
		`gohere_annotation_writes_total{result="error"} 0`,
		`gohere_annotation_writes_total{result="other"} 1`,
		`gohere_notifications_total{result="ok"} 1`,
		`gohere_notifications_total{result="dropped"} 1`,
		`gohere_notifications_total{result="error"} 0`,
		`gohere_outbox_pending{kind="annotation"} 3` + "\n",
		`gohere_outbox_oldest_seconds{kind="annotation"} 12.5` + "\n",
		`gohere_outbox_pending{kind="notification"} 1` + "\n",
		"process_resident_memory_bytes",
		"go_goroutines",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "exploded") {
		t.Error("an unknown annotation result became a label value")
	}
}

func TestLabelValuesAreEscaped(t *testing.T) {
	m := telemetry.NewMetrics()
	m.DeployRecorded(`pr"od\`, "line\nbreak") // must not panic or break the format
	if want := `gohere_deploys_total{env="pr\"od\\",stage="line\nbreak"} 1`; !strings.Contains(scrape(m), want) {
		t.Errorf("exposition lacks %q:\n%s", want, scrape(m))
	}
}

func TestOutboxGaugesCallFOncePerScrape(t *testing.T) {
	m := telemetry.NewMetrics()
	calls := 0
	m.OutboxGauges(func() []telemetry.Queue { calls++; return []telemetry.Queue{{Kind: "annotation", Pending: -1}} })
	for i := range 3 {
		got := scrape(m)
		if calls != i+1 {
			t.Fatalf("after %d scrapes f was called %d times", i+1, calls)
		}
		if !strings.Contains(got, `gohere_outbox_pending{kind="annotation"} 0`+"\n") {
			t.Errorf("a negative pending count is not clamped to 0:\n%s", got)
		}
	}
	// A second registration replaces f instead of writing the gauges twice.
	m.OutboxGauges(func() []telemetry.Queue { return []telemetry.Queue{{Kind: "annotation", Pending: 7}} })
	got := scrape(m)
	if n := strings.Count(got, "gohere_outbox_pending{"); n != 1 {
		t.Errorf("gohere_outbox_pending written %d times, want once", n)
	}
	if !strings.Contains(got, `gohere_outbox_pending{kind="annotation"} 7`+"\n") {
		t.Errorf("exposition does not use the replaced f:\n%s", got)
	}
}

// TestDeployEnvLabelIsBounded: 5,000 invented envs add at most
// telemetry.MaxEnvLabels+1 series to gohere_deploys_total.
func TestDeployEnvLabelIsBounded(t *testing.T) {
	m := telemetry.NewMetrics()
	for i := range 5000 {
		m.DeployRecorded(fmt.Sprintf("env-%d", i), "canary")
	}
	m.DeployRecorded("env-3", "canary") // an early env keeps its own label
	out := scrape(m)
	var series int
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "gohere_deploys_total{") {
			series++
		}
	}
	if series != telemetry.MaxEnvLabels+1 {
		t.Errorf("%d gohere_deploys_total series, want %d (the first envs and other)", series, telemetry.MaxEnvLabels+1)
	}
	for _, want := range []string{`gohere_deploys_total{env="env-3",stage="canary"} 2`, `gohere_deploys_total{env="other",stage="canary"} 4950`} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestDORAGaugesLeaveUnknownKeysOut(t *testing.T) {
	m := telemetry.NewMetrics()
	rate := 0.25
	m.DORAGauges(func() (telemetry.Keys, bool) {
		return telemetry.Keys{DeploysPerDay: 12.5, ChangeFailureRate: &rate}, true
	})
	got := scrape(m)
	for _, want := range []string{"gohere_dora_deploys_per_day 12.5\n", "gohere_dora_change_failure_ratio 0.25\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	for _, unknown := range []string{"gohere_dora_lead_time_seconds", "gohere_dora_time_to_restore_seconds"} {
		if strings.Contains(got, unknown) {
			t.Errorf("an unknown key is exposed: %s", unknown)
		}
	}
}
