package replay

import (
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/prom"
)

// TestReplay runs every scenario's analysis from its recording placed at a
// time other than the recorded one, as `gohere demo` does: every query is
// answered (no interval has an error) and each scenario ends with its
// expected verdict; so is every query of its deploy's compare page and
// of its report page's plots.
func TestReplay(t *testing.T) {
	hour := time.Now().Truncate(time.Hour)
	var ps []placed
	var placements []Placement
	for i, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		p := placed{sc: sc, start: hour.Add(-time.Duration(i+1) * time.Hour)}
		_, p.end = rec.Window(p.start)
		ps = append(ps, p)
		placements = append(placements, Placement{Recording: rec, Start: p.start})
	}
	src := New(placements...)
	runs, db := analyze(t, src, ps)
	checkVerdicts(t, ps, runs)
	for _, p := range ps {
		queryComparePage(t, src, p)
	}
	queryDeployPages(t, src, db, runs)
}

// TestComparePagesEndWithTheirData: the replayed compare page of every
// scenario's deploy has data to its end, as a store scraping a service
// that keeps running has, and its request rate and CPU do not jump there.
// (The series once ended with the scenario, a quarter of an hour before
// the page; rate() over windows reaching past their last sample then came
// from the last increments alone, and rose off the chart.)
func TestComparePagesEndWithTheirData(t *testing.T) {
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	for _, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		src := New(Placement{Recording: rec, Start: start})
		d := gohere.Deploy{Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline,
			Status: gohere.StatusSucceeded, StartedAt: start, FinishedAt: start.Add(sc.Duration)}
		link, err := url.Parse(compare.URL(compare.Config{}, d))
		if err != nil {
			t.Fatal(err)
		}
		q, err := compare.ParsePageQuery(link.Query())
		if err != nil {
			t.Fatal(err)
		}
		page, err := compare.NewPage(q, signals, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, pn := range page.Panels {
			for _, query := range []string{pn.Baseline, pn.Canary} {
				series, err := src.QueryRange(t.Context(), query, page.From, page.To, page.Step)
				if err != nil {
					t.Fatalf("%s: %s: %v", name, pn.Name, err)
				}
				for _, s := range series {
					checkEnd(t, name+": "+query, s.Points, page.To.Add(-page.Step), pn.Name == "request_rate" || pn.Name == "cpu")
				}
			}
		}
	}
}

// checkEnd wants points up to end and, for a steady signal, none of the
// last five more than twice the median of all.
func checkEnd(t *testing.T, what string, pts []prom.Point, end time.Time, steady bool) {
	t.Helper()
	if len(pts) == 0 {
		return // a signal without data (memory), or a side without it
	}
	if last := pts[len(pts)-1].T; last.Before(end) {
		t.Errorf("%s: the data ends at %s, %s before the page", what, last.UTC().Format(time.TimeOnly), end.Sub(last))
	}
	vs := make([]float64, len(pts))
	for i, p := range pts {
		vs[i] = p.V
	}
	slices.Sort(vs)
	median := vs[len(vs)/2]
	if !steady || median <= 0 {
		return
	}
	for _, p := range pts[len(pts)-5:] {
		if p.V > 2*median {
			t.Errorf("%s: %.3g at %s, more than twice the median %.3g: a spike at the end", what, p.V, p.T.UTC().Format(time.TimeOnly), median)
		}
	}
}

func TestSource(t *testing.T) {
	rec, err := Load("latency-regression")
	if err != nil {
		t.Fatal(err)
	}
	const q = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout",env="prod",version="v1.4.2"}[1m])))`
	start := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	src := New(Placement{Recording: rec, Start: start})

	t.Run("shifted to the placement", func(t *testing.T) {
		got, err := src.QueryRange(t.Context(), q, start.Add(2*time.Minute), start.Add(7*time.Minute), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || len(got[0].Points) != 11 {
			t.Fatalf("got %d series (%v); want one of 11 points", len(got), got)
		}
		if first, want := got[0].Points[0].T, start.Add(2*time.Minute); !first.Equal(want) {
			t.Errorf("first point at %s, want %s", first, want)
		}
		if v := got[0].Points[0].V; v < 0.1 || v > 0.2 {
			t.Errorf("first p99 %v s, want the recorded ≈0.148 s", v)
		}
	})
	for _, tc := range []struct {
		name       string
		query      string
		start, end time.Duration
		step       time.Duration
	}{
		{"another query", `up`, 2 * time.Minute, 7 * time.Minute, 30 * time.Second},
		{"another window", q, 2*time.Minute + time.Second, 7 * time.Minute, 30 * time.Second},
		{"another step", q, 2 * time.Minute, 7 * time.Minute, 15 * time.Second},
		{"another placement", q, 2*time.Minute + time.Hour, 7*time.Minute + time.Hour, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := src.QueryRange(t.Context(), tc.query, start.Add(tc.start), start.Add(tc.end), tc.step)
			if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), "no recording of") {
				t.Errorf("got %v, %v; want an Invalid error: no recording of the query", got, err)
			}
		})
	}
	t.Run("nothing of the future", func(t *testing.T) {
		lately := time.Now().Add(-5 * time.Minute)
		got, err := New(Placement{Recording: rec, Start: lately}).QueryRange(t.Context(), q,
			lately.Add(2*time.Minute), lately.Add(7*time.Minute), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || len(got[0].Points) != 7 || got[0].Points[6].T.After(time.Now()) {
			t.Errorf("got %v; want the 7 points up to now of the 11 recorded", got)
		}
	})
	t.Run("ambiguous", func(t *testing.T) {
		twice := New(Placement{Recording: rec, Start: start}, Placement{Recording: rec, Start: start})
		_, err := twice.QueryRange(t.Context(), q, start.Add(2*time.Minute), start.Add(7*time.Minute), 30*time.Second)
		if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), "2 placed recordings") {
			t.Errorf("got %v; want an Invalid error naming the ambiguity", err)
		}
	})
	t.Run("unknown scenario", func(t *testing.T) {
		if _, err := Load("nope"); gohere.KindOf(err) != gohere.NotFound {
			t.Errorf("Load(nope) = %v; want NotFound", err)
		}
	})
}

// TestValueJSON: values that JSON has no numbers for round-trip, written as
// Prometheus writes them.
func TestValueJSON(t *testing.T) {
	in := []value{0.1, -2.5e-300, value(math.NaN()), value(math.Inf(1)), value(math.Inf(-1)), 0}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[0.1,-2.5e-300,"NaN","+Inf","-Inf",0]`; string(b) != want {
		t.Errorf("marshal: %s, want %s", b, want)
	}
	var out []value
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i] != in[i] && !(math.IsNaN(float64(out[i])) && math.IsNaN(float64(in[i]))) {
			t.Errorf("value %d: %v, want %v", i, out[i], in[i])
		}
	}
	if err := json.Unmarshal([]byte(`["Infinity"]`), &out); err == nil {
		t.Error(`"Infinity" was accepted`)
	}
}
