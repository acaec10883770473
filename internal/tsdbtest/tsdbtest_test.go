package tsdbtest_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere/internal/tsdbtest"
)

// point is a sample as the query API returns it: seconds and value text.
type point struct {
	T float64
	V string
}

// query runs an instant query with the raw HTTP API (this package must not
// depend on the client it serves) and returns value text per label set.
func query(t *testing.T, base, q string, at time.Time) map[string]string {
	t.Helper()
	u := base + "/api/v1/query?" + url.Values{
		"query": {q},
		"time":  {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
	}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	if body.Status != "success" {
		t.Fatalf("%s: %s %s", u, body.Status, body.Error)
	}
	out := map[string]string{}
	for _, r := range body.Data.Result {
		b, _ := json.Marshal(r.Metric)
		out[string(b)] = r.Value[1].(string)
	}
	return out
}

// fixture has two series whose newest sample is now: what a test placing a
// scenario in "the last minutes" imports. The label value needs escaping.
func fixture(now time.Time) []tsdbtest.Sample {
	ms := now.UnixMilli()
	ts := []int64{ms - 90_000, ms - 60_000, ms - 30_000, ms}
	return []tsdbtest.Sample{
		{
			Labels:     map[string]string{"__name__": "http_requests_total", "version": "v1", "path": `/a "b" \c`},
			Timestamps: ts,
			Values:     []float64{1, 2, 3, 4},
		},
		{
			Labels:     map[string]string{"__name__": "http_requests_total", "version": "v2", "path": "/"},
			Timestamps: ts,
			Values:     []float64{10, math.Inf(1), 30, 40.5},
		},
	}
}

var wantNow = map[string]string{
	`{"__name__":"http_requests_total","path":"/a \"b\" \\c","version":"v1"}`: "4",
	`{"__name__":"http_requests_total","path":"/","version":"v2"}`:            "40.5",
}

var wantBefore = map[string]string{
	`{"__name__":"http_requests_total","path":"/a \"b\" \\c","version":"v1"}`: "3",
	`{"__name__":"http_requests_total","path":"/","version":"v2"}`:            "30",
}

var wantInf = map[string]string{
	`{"__name__":"http_requests_total","path":"/a \"b\" \\c","version":"v1"}`: "2",
	`{"__name__":"http_requests_total","path":"/","version":"v2"}`:            "+Inf",
}

func TestVictoriaMetrics(t *testing.T) {
	// VictoriaMetrics answers a query for the last second as of a second ago
	// (its minimum -search.latencyOffset), so "now" is a little in the past.
	now := time.Now().Add(-2 * time.Second).Truncate(time.Millisecond)
	vm := tsdbtest.StartVictoriaMetrics(t)
	if got := query(t, vm.URL(), "http_requests_total", now); len(got) != 0 {
		t.Fatalf("empty store answered %v", got)
	}
	vm.Import(t, fixture(now))
	check := func(t *testing.T) {
		t.Helper()
		for _, c := range []struct {
			at   time.Time
			want map[string]string
		}{
			{now, wantNow},
			{now.Add(-30 * time.Second), wantBefore},
			{now.Add(-60 * time.Second), wantInf},
		} {
			if diff := cmp.Diff(c.want, query(t, vm.URL(), "http_requests_total", c.at)); diff != "" {
				t.Errorf("at %s (-want +got):\n%s", c.at, diff)
			}
		}
	}
	check(t)

	url := vm.URL()
	vm.Stop(t)
	if _, err := http.Get(url + "/health"); err == nil {
		t.Fatal("stopped server still answers")
	}
	vm.Start(t)
	if vm.URL() != url {
		t.Fatalf("URL after restart = %s, want %s", vm.URL(), url)
	}
	check(t)
}

func TestPrometheus(t *testing.T) {
	now := time.Now().Truncate(time.Millisecond)
	data := fixture(now)
	pr := tsdbtest.StartPrometheus(t, data[:1])
	if diff := cmp.Diff(map[string]string{
		`{"__name__":"http_requests_total","path":"/a \"b\" \\c","version":"v1"}`: "4",
	}, query(t, pr.URL(), "http_requests_total", now)); diff != "" {
		t.Errorf("backfilled before start (-want +got):\n%s", diff)
	}

	// Import after start restarts it on the same URL with both blocks.
	url := pr.URL()
	pr.Import(t, data[1:])
	if pr.URL() != url {
		t.Fatalf("URL after import = %s, want %s", pr.URL(), url)
	}
	for _, c := range []struct {
		at   time.Time
		want map[string]string
	}{
		{now, wantNow},
		{now.Add(-30 * time.Second), wantBefore},
		{now.Add(-60 * time.Second), wantInf},
	} {
		if diff := cmp.Diff(c.want, query(t, pr.URL(), "http_requests_total", c.at)); diff != "" {
			t.Errorf("at %s (-want +got):\n%s", c.at, diff)
		}
	}
}

func TestPrometheusNaN(t *testing.T) {
	// Prometheus keeps NaN samples (VictoriaMetrics drops them on import).
	ms := time.Now().UnixMilli()
	pr := tsdbtest.StartPrometheus(t, []tsdbtest.Sample{{
		Labels:     map[string]string{"__name__": "up"},
		Timestamps: []int64{ms - 1000, ms},
		Values:     []float64{1, math.NaN()},
	}})
	if diff := cmp.Diff(map[string]string{`{"__name__":"up"}`: "NaN"},
		query(t, pr.URL(), "up", time.UnixMilli(ms))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPrometheusMergesSeries(t *testing.T) {
	// One series split over two Samples, the later one first, with a
	// duplicate timestamp: the backfill must still accept it.
	ms := time.Now().Add(-time.Minute).UnixMilli()
	up := map[string]string{"__name__": "up", "job": "a"}
	pr := tsdbtest.StartPrometheus(t, []tsdbtest.Sample{
		{Labels: up, Timestamps: []int64{ms, ms + 15_000}, Values: []float64{2, 3}},
		{Labels: up, Timestamps: []int64{ms - 15_000, ms}, Values: []float64{1, 2}},
	})
	for i, want := range []string{"1", "2", "3"} {
		at := time.UnixMilli(ms + int64(i-1)*15_000)
		if diff := cmp.Diff(map[string]string{`{"__name__":"up","job":"a"}`: want}, query(t, pr.URL(), "up", at)); diff != "" {
			t.Errorf("at %s (-want +got):\n%s", at, diff)
		}
	}
}

// fatalTB records the message of a Fatal and ends the goroutine, as a
// testing.T would end the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, c := range []struct {
		name, bin string // bin: the first binary the start looks up
		start     func(testing.TB)
	}{
		{"victoria-metrics", "victoria-metrics", func(tb testing.TB) { tsdbtest.StartVictoriaMetrics(tb) }},
		{"prometheus", "promtool", func(tb testing.TB) { tsdbtest.StartPrometheus(tb, nil) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := &fatalTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.start(tb)
			}()
			<-done
			if !strings.Contains(tb.msg, c.bin) || !strings.Contains(tb.msg, "scripts/install-test-deps.sh") {
				t.Errorf("Fatal message %q, want the binary and the install hint", tb.msg)
			}
		})
	}
}
