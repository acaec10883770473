package server_test

import (
	"encoding/json"
	"encoding/xml"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

// TestSequentialReport: the deploy page of a sequential analysis plots
// each metric's confidence sequence over the looks as a band, the allowed
// band's edge as a line and the look where the test rejected, in SVG that
// parses as XML, with the table of the anytime-valid p-values.
func TestSequentialReport(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var looks []judge.SequentialLook
	var base, can []float64
	for j := range 12 {
		for range 40 {
			base = append(base, 0.1*math.Exp(0.5*rng.NormFloat64()))
			can = append(can, 0.13*math.Exp(0.5*rng.NormFloat64()))
		}
		looks = append(looks, judge.SequentialLook{At: start.Add(time.Duration(j+1) * 5 * time.Minute),
			Baseline: judge.Data{"latency": {Values: base[:len(base):len(base)]}},
			Canary:   judge.Data{"latency": {Values: can[:len(can):len(can)]}}})
	}
	const config = "metrics:\n  - {name: latency, query: 'q{version=\"{{.Version}}\"}', direction: increase}\nanalysis: {mode: sequential, lifetime: 1h, interval: 5m}\n"
	cfg, err := judge.LoadConfig(strings.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	rep, ev := judge.JudgeSequential(cfg, looks)
	if ev.Metrics[0].RejectedAt == 0 {
		t.Fatalf("the +30 %% canary is never rejected: %+v", ev.Metrics[0])
	}
	stored, err := json.Marshal(struct {
		judge.Report
		Sequential judge.SequentialEvidence `json:"sequential"`
	}{rep, ev})
	if err != nil {
		t.Fatal(err)
	}
	e, id := reportDeploy(t, config, store.Interval{Report: stored, Verdict: rep.Verdict, Score: rep.Score})
	body := getPage(t, e, "/deploys/"+id)
	sec := cut(t, body, `<section class="sequential">`, `</section>`)
	for _, want := range []string{"Sequential tests over 12 looks", "latency", "rejected at look", `class="area cs"`, "allowed increase", "+2%"} {
		if !strings.Contains(sec, want) {
			t.Errorf("the sequential section lacks %q:\n%s", want, sec)
		}
	}
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(sec, -1)
	if len(svgs) != 1 {
		t.Fatalf("%d charts, want 1", len(svgs))
	}
	if err := xml.Unmarshal([]byte(svgs[0]), new(struct{})); err != nil {
		t.Errorf("the chart is not well-formed: %v", err)
	}
	// One band area per run of looks with a finite sequence.
	if n := strings.Count(svgs[0], `<path class="area cs"`); n < 1 {
		t.Errorf("%d band areas", n)
	}
}
