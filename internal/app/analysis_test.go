package app

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/tsdbtest"
	"github.com/gohere/gohere/judge"
)

// TestAnalysisThroughTheAPI runs canary analyses the way a user does:
// `gohere serve --prometheus-url` against a real VictoriaMetrics holding
// two recorded scenarios, deploys and analyses posted over HTTP. Each ends
// with the scenario's verdict, waiting for a human, and the server's own
// metrics count the judged intervals and queries.
func TestAnalysisThroughTheAPI(t *testing.T) {
	vm := tsdbtest.StartVictoriaMetrics(t)
	first := time.Now().Truncate(time.Hour).Add(-2 * time.Hour)
	var scenarios []fixtures.Scenario
	for i, name := range []string{"healthy", "latency-regression"} {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		scenarios = append(scenarios, sc)
		vm.Import(t, tsdbtest.Scenario(sc, first.Add(time.Duration(i)*time.Hour)))
	}
	a, c := start(t, Options{PrometheusURL: vm.URL()})

	for i, sc := range scenarios {
		from := first.Add(time.Duration(i) * time.Hour)
		d, err := c.StartDeploy(t.Context(), client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline})
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + a.Addr() + "/api/v1/deploys/" + d.ID + "/analyses?start=" + from.Format(time.RFC3339) +
			"&end=" + from.Add(sc.Duration).Format(time.RFC3339)
		var created store.Analysis
		if code := call(t, "POST", url, sc.Config, &created); code != http.StatusCreated {
			t.Fatalf("%s: POST analysis: %d", sc.Name, code)
		}
		var got store.Analysis
		waitFor(t, sc.Name+" analysis to end", func() bool {
			call(t, "GET", "http://"+a.Addr()+"/api/v1/analyses/"+created.ID, nil, &got)
			return !got.State.Active()
		})
		if got.Verdict != sc.Expected || !got.State.AwaitsDecision() || len(got.Intervals) == 0 {
			t.Errorf("%s: %s %s after %d intervals; want %s awaiting a decision", sc.Name, got.State, got.Verdict, len(got.Intervals), sc.Expected)
		}
		if q := string(got.Intervals[0].Queries); !strings.Contains(q, sc.Canary) || !strings.Contains(q, sc.Baseline) {
			t.Errorf("%s: interval 1 does not record the resolved queries of both sides: %.300s", sc.Name, q)
		}
		// The deploy page shows the evidence: verdict, the per-metric
		// table and the resolved queries.
		page := get(t, d.ReportURL)
		for _, want := range []string{`class="verdict verdict-` + string(sc.Expected) + `"`, "p99_latency", "error_rate",
			"Resolved queries of interval", html.EscapeString(`version="` + sc.Canary + `"`), "adjusted p"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the deploy page lacks %s", sc.Name, want)
			}
		}
		checkPlots(t, sc.Name, page, got.Intervals[len(got.Intervals)-1])
	}

	body := get(t, "http://"+a.Addr()+"/metrics")
	for _, want := range []string{`gohere_analysis_intervals_total{verdict="Pass"}`, `gohere_analysis_intervals_total{verdict="Fail"}`,
		`gohere_metric_queries_total{result="ok"}`, "gohere_judge_duration_seconds_bucket", "gohere_metric_query_duration_seconds_bucket",
		"gohere_dora_deploys_per_day "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// checkPlots: the deploy page draws, under the metrics table, baseline
// and canary of every metric judged in the latest interval, queried again
// from the store: rate metrics as their rate per step.
func checkPlots(t *testing.T, scenario, page string, latest store.Interval) {
	t.Helper()
	var report judge.Report
	if err := json.Unmarshal(latest.Report, &report); err != nil {
		t.Fatalf("%s: report of interval %d: %v", scenario, latest.Seq, err)
	}
	values := 0
	for _, m := range report.Metrics {
		_, rest, found := strings.Cut(page, `<figure class="metric-plot" data-metric="`+m.Name+`">`)
		if !m.Rate {
			values++
		}
		if !found {
			t.Errorf("%s: no plot of %s", scenario, m.Name)
			continue
		}
		fig, _, _ := strings.Cut(rest, "</figure>")
		for _, role := range []string{"baseline", "canary"} {
			d := regexp.MustCompile(`<path class="series ` + role + `" fill="none" d="([^"]*)"`).FindStringSubmatch(fig)
			if d == nil || !strings.Contains(d[1], "M") {
				t.Errorf("%s: plot of %s lacks a drawn %s line:\n%s", scenario, m.Name, role, fig)
			}
		}
	}
	if values == 0 {
		t.Errorf("%s: the report judged no value metric, nothing to plot", scenario)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

// call sends a canary config (YAML) or nothing with the CI token and
// decodes the JSON answer into out.
func call(t *testing.T, method, url string, config []byte, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ciSecret)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %v", method, url, resp.StatusCode, err)
	}
	return resp.StatusCode
}
