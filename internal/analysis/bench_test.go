package analysis_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/tsdbtest"
	"github.com/gohere/gohere/judge"
)

// BenchmarkInterval is one interval of an analysis of 50 metrics against a
// local VictoriaMetrics: 100 range queries of 360 points (30 minutes at a
// 5 s step), then the judgement.
func BenchmarkInterval(b *testing.B) {
	w := benchWorld(b)
	for b.Loop() {
		res, err := analysis.JudgeWindow(b.Context(), w.src, nil, w.cfg, w.target, w.from, w.to)
		if err != nil {
			b.Fatal(err)
		}
		if res.Report.Verdict != gohere.VerdictPass || res.CanarySamples != benchMetrics*benchPoints {
			b.Fatalf("verdict %s with %d canary samples; want Pass on %d", res.Report.Verdict, res.CanarySamples, benchMetrics*benchPoints)
		}
	}
}

const benchMetrics, benchPoints = 50, 360

type bench struct {
	src      *prom.Client
	cfg      judge.Config
	yaml     string
	target   analysis.Target
	from, to time.Time
}

// benchWorld is a local VictoriaMetrics holding 50 metrics of both versions
// over 30 minutes at a 5 s step, and the config that judges them.
func benchWorld(b *testing.B) bench {
	b.Helper()
	step := 5 * time.Second
	w := bench{to: time.Now().Truncate(time.Hour).Add(-time.Hour),
		target: analysis.Target{Service: "checkout", Env: "prod", Baseline: "v1", Canary: "v2"}}
	w.from = w.to.Add(-time.Duration(benchPoints-1) * step)
	var samples []tsdbtest.Sample
	var cfg strings.Builder
	cfg.WriteString("metrics:\n")
	for m := range benchMetrics {
		fmt.Fprintf(&cfg, "  - name: m%02d\n    query: 'bench{metric=\"m%02d\",version=\"{{.Version}}\"}'\n    direction: increase\n", m, m)
		for _, v := range []string{"v1", "v2"} {
			s := tsdbtest.Sample{Labels: map[string]string{"__name__": "bench", "metric": fmt.Sprintf("m%02d", m), "version": v}}
			for i := range benchPoints {
				s.Timestamps = append(s.Timestamps, w.from.Add(time.Duration(i)*step).UnixMilli())
				s.Values = append(s.Values, 100+10*math.Sin(float64(i*(m+1))))
			}
			samples = append(samples, s)
		}
	}
	cfg.WriteString("analysis:\n  step: 5s\n")
	w.yaml = cfg.String()
	var err error
	if w.cfg, err = judge.LoadConfig(strings.NewReader(w.yaml)); err != nil {
		b.Fatal(err)
	}
	vm := tsdbtest.StartVictoriaMetrics(b)
	vm.Import(b, samples)
	if w.src, err = prom.New(prom.Options{URL: vm.URL()}); err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkConcurrentAnalyses runs 100 analyses of the 50-metric config at
// once (3 intervals each, retrospective so they are all due) through one
// runner on SQLite, and reports the peak RSS of the process and the
// intervals judged per second. Run with -benchtime 1x.
func BenchmarkConcurrentAnalyses(b *testing.B) {
	const analyses = 100
	w := benchWorld(b)
	for b.Loop() {
		db, err := store.Open(b.Context(), filepath.Join(b.TempDir(), "gohere.db"))
		if err != nil {
			b.Fatal(err)
		}
		dep, _, err := db.CreateDeploy(b.Context(), gohere.Deploy{Service: "checkout", Env: "prod", Version: "v2", BaselineVersion: "v1", StartedAt: w.from}, "")
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, analyses)
		for i := range analyses {
			a, err := analysis.Prepare(dep, []byte(w.yaml+"  interval: 10m\n"), w.from, w.to, time.Now())
			if err == nil {
				a, err = db.CreateAnalysis(b.Context(), a)
			}
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = a.ID
		}
		r, err := analysis.NewRunner(analysis.Options{Store: db, Source: w.src, Owner: "bench", Workers: 8,
			Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan struct{})
		began := time.Now()
		go func() { defer close(done); r.Run(ctx) }()
		for _, id := range ids {
			for {
				a, err := db.GetAnalysis(b.Context(), id)
				if err != nil {
					b.Fatal(err)
				}
				if !a.State.Active() {
					if a.Verdict != gohere.VerdictPass || len(a.Intervals) != 3 {
						b.Fatalf("analysis %s: %s after %d intervals", id, a.Verdict, len(a.Intervals))
					}
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		b.ReportMetric(float64(3*analyses)/time.Since(began).Seconds(), "intervals/s")
		cancel()
		<-done
		db.Close()
	}
	b.ReportMetric(peakRSS(b)/(1<<20), "peak-RSS-MiB")
}

// peakRSS reads the process' high-water mark of resident memory (Linux).
func peakRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
