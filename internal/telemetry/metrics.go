package telemetry

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// durationBuckets resolve the sub-millisecond latencies of SQLite writes as
// well as slow page renders; the default buckets start at 5ms.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// annotationResults is the bounded set of AnnotationWrite results.
var annotationResults = []string{"ok", "error", "retry"}

// Metrics is gohere's own metrics set.
type Metrics struct {
	set *metrics.Set

	outboxOnce sync.Once
	outboxMu   sync.Mutex
	outbox     func() []Queue

	envMu sync.Mutex
	envs  map[string]bool // the env label values given out so far
}

// MaxEnvLabels is how many distinct envs get a label value of their own in
// gohere_deploys_total; deploys to any later one count as env="other", so
// that a client inventing envs cannot grow /metrics without bound.
const MaxEnvLabels = 50

// NewMetrics returns a fresh set. Counters with a known, bounded label set
// start at zero so that rate() works from the first scrape.
func NewMetrics() *Metrics {
	m := &Metrics{set: metrics.NewSet(), envs: map[string]bool{}}
	for _, r := range annotationResults {
		m.set.GetOrCreateCounter(`gohere_annotation_writes_total{result="` + r + `"}`)
	}
	for _, r := range notificationResults {
		m.set.GetOrCreateCounter(`gohere_notifications_total{result="` + r + `"}`)
	}
	return m
}

// Set is the underlying set, for components that register their own metrics.
func (m *Metrics) Set() *metrics.Set { return m.set }

// WritePrometheus writes the set and the process metrics in the Prometheus
// text format.
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}

// DeployRecorded counts a newly recorded deploy by env (the first
// MaxEnvLabels envs seen, then "other") and stage.
func (m *Metrics) DeployRecorded(env, stage string) {
	m.set.GetOrCreateCounter(`gohere_deploys_total{env=` + quote(m.envLabel(env)) + `,stage=` + quote(stage) + `}`).Inc()
}

func (m *Metrics) envLabel(env string) string {
	m.envMu.Lock()
	defer m.envMu.Unlock()
	if !m.envs[env] && len(m.envs) >= MaxEnvLabels {
		return "other"
	}
	m.envs[env] = true
	return env
}

// ObserveHTTP records one served request. route must be a route template
// (never a raw path) so that the label set stays bounded.
func (m *Metrics) ObserveHTTP(route string, code int, d time.Duration) {
	r := quote(route)
	m.set.GetOrCreateCounter(`gohere_http_requests_total{route=` + r + `,code="` + strconv.Itoa(code) + `"}`).Inc()
	m.set.GetOrCreatePrometheusHistogramExt(`gohere_http_request_duration_seconds{route=`+r+`}`, durationBuckets).Update(d.Seconds())
}

// AnnotationWrite counts one Grafana annotation write by result: ok, error
// or retry; anything else is counted as "other" to keep the label bounded.
func (m *Metrics) AnnotationWrite(result string) {
	m.set.GetOrCreateCounter(`gohere_annotation_writes_total{result="` + bounded(result, annotationResults...) + `"}`).Inc()
}

// Queue is one kind of durable outbox entry and how it stands.
type Queue struct {
	Kind          string // annotation, notification
	Pending       int
	OldestSeconds float64 // how long the oldest pending entry has waited
}

// OutboxGauges exposes gohere_outbox_pending{kind} and
// gohere_outbox_oldest_seconds{kind}, all computed by one call of f per
// scrape (f usually queries the database). A later call replaces f.
func (m *Metrics) OutboxGauges(f func() []Queue) {
	m.outboxMu.Lock()
	m.outbox = f
	m.outboxMu.Unlock()
	m.outboxOnce.Do(func() {
		m.set.RegisterMetricsWriter(func(w io.Writer) {
			m.outboxMu.Lock()
			f := m.outbox
			m.outboxMu.Unlock()
			for _, q := range f() {
				kind := "{kind=" + quote(q.Kind) + "}"
				metrics.WriteGaugeUint64(w, "gohere_outbox_pending"+kind, uint64(max(q.Pending, 0)))
				metrics.WriteGaugeFloat64(w, "gohere_outbox_oldest_seconds"+kind, q.OldestSeconds)
			}
		})
	})
}

// notificationResults is the bounded set of Notification results.
var notificationResults = []string{"ok", "error", "dropped"}

// Notification counts one push-channel delivery by result: ok, error (to be
// retried) or dropped (refused for good, e.g. a deleted webhook).
func (m *Metrics) Notification(result string) {
	m.set.GetOrCreateCounter(`gohere_notifications_total{result="` + bounded(result, notificationResults...) + `"}`).Inc()
}

// analysisBuckets span one query of a local store (milliseconds) to an
// interval of 50 metrics against a slow remote one (tens of seconds).
var analysisBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// ObserveInterval counts one judged analysis interval by its verdict.
func (m *Metrics) ObserveInterval(verdict string) {
	m.set.GetOrCreateCounter(`gohere_analysis_intervals_total{verdict=` + quote(bounded(verdict, "Pass", "Marginal", "Fail", "NoData")) + `}`).Inc()
}

// ObserveJudge records how long one judgement took.
func (m *Metrics) ObserveJudge(d time.Duration) {
	m.set.GetOrCreatePrometheusHistogramExt(`gohere_judge_duration_seconds`, analysisBuckets).Update(d.Seconds())
}

// ObserveQuery counts one metric-store query by result (ok, empty, invalid,
// unavailable, error) and records its duration.
func (m *Metrics) ObserveQuery(result string, d time.Duration) {
	m.set.GetOrCreateCounter(`gohere_metric_queries_total{result=` + quote(bounded(result, "ok", "empty", "invalid", "unavailable", "error")) + `}`).Inc()
	m.set.GetOrCreatePrometheusHistogramExt(`gohere_metric_query_duration_seconds`, analysisBuckets).Update(d.Seconds())
}

// bounded keeps a label value within its known set; anything else is
// "other".
func bounded(v string, known ...string) string {
	if slices.Contains(known, v) {
		return v
	}
	return "other"
}

// quote renders a label value in the exposition format's escaping.
func quote(v string) string {
	return `"` + labelEscaper.Replace(v) + `"`
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Keys are the DORA four keys of the last 30 days, all services; a nil key
// is unknown (no data) and left out of the exposition.
type Keys struct {
	DeploysPerDay     float64
	LeadTime          *float64 // seconds
	ChangeFailureRate *float64
	TimeToRestore     *float64 // seconds
}

// DORAGauges exposes gohere_dora_deploys_per_day, gohere_dora_lead_time_seconds,
// gohere_dora_change_failure_ratio and gohere_dora_time_to_restore_seconds,
// from one call of f per scrape (f caches: the keys aggregate 30 days).
// Without labels: per-service keys are the API's (/api/v1/dora).
func (m *Metrics) DORAGauges(f func() (Keys, bool)) {
	m.set.RegisterMetricsWriter(func(w io.Writer) {
		k, ok := f()
		if !ok {
			return
		}
		metrics.WriteGaugeFloat64(w, "gohere_dora_deploys_per_day", k.DeploysPerDay)
		for _, g := range []struct {
			name string
			v    *float64
		}{
			{"gohere_dora_lead_time_seconds", k.LeadTime},
			{"gohere_dora_change_failure_ratio", k.ChangeFailureRate},
			{"gohere_dora_time_to_restore_seconds", k.TimeToRestore},
		} {
			if g.v != nil {
				metrics.WriteGaugeFloat64(w, g.name, *g.v)
			}
		}
	})
}
