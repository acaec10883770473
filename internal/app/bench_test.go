package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/judge/stats"
)

// BenchmarkCreateDeploy measures POST /api/v1/deploys end to end, as
// `gohere serve --db gohere.db` runs it: the real HTTP server, middleware
// (auth, metrics, tracing, a text log line per request) and SQLite, with a
// change per deploy and the default baseline looked up. Clients send
// back to back (a closed loop; four per CPU), so a latency includes waiting
// behind the others; cmd/loadgen measures the issue-2 target at a fixed rate.
func BenchmarkCreateDeploy(b *testing.B) {
	tokens, err := auth.Parse("ci:bench:" + ciSecret)
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(b.Context(), Options{
		DB:     filepath.Join(b.TempDir(), "gohere.db"),
		Listen: "127.0.0.1:0",
		Tokens: tokens,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
		if err := a.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	}()

	const clientsPerCPU = 4
	url := "http://" + a.Addr() + "/api/v1/deploys"
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clientsPerCPU * runtime.GOMAXPROCS(0)}}
	var (
		seq       atomic.Int64
		mu        sync.Mutex
		latencies []float64 // milliseconds
	)
	b.SetParallelism(clientsPerCPU)
	b.RunParallel(func(pb *testing.PB) {
		var mine []float64
		defer func() {
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			n := seq.Add(1)
			body := fmt.Appendf(nil, `{"service":"bench","env":"prod","version":"v%d","author":"bench","changes":[{"commit":"c%d","author":"bench","title":"load"}]}`, n, n)
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+ciSecret)
			start := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, float64(time.Since(start).Microseconds())/1000)
			if err != nil || resp.StatusCode != http.StatusCreated {
				b.Errorf("POST /api/v1/deploys: %d, %v; want 201", resp.StatusCode, err)
				return
			}
		}
	})
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(stats.Quantile(latencies, 0.5), "p50-ms")
	b.ReportMetric(stats.Quantile(latencies, 0.99), "p99-ms")
}
