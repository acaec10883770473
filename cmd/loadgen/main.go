// Command loadgen sends deploy starts to a gohere server at a constant rate
// (open loop, so a slow server cannot hide its latency by slowing the sender)
// and prints throughput, errors and latency quantiles. It measures the
// issue-2 target: POST /api/v1/deploys at 1,000 req/s for 30 s, p99 < 5 ms.
//
//	go run ./cmd/loadgen -server http://127.0.0.1:8080 -token $TOKEN -rate 1000 -duration 30s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "gohere server")
	token := flag.String("token", os.Getenv("GOHERE_TOKEN"), "ci token (env GOHERE_TOKEN)")
	rate := flag.Int("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 30*time.Second, "how long to send")
	flag.Parse()
	if *rate <= 0 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -rate and -duration must be positive")
		os.Exit(3)
	}
	r := run(context.Background(), *server, *token, *rate, *duration)
	fmt.Println(r)
	if r.errors > 0 {
		os.Exit(1)
	}
}

type result struct {
	sent, errors int64
	elapsed      time.Duration
	latencies    []time.Duration
}

func (r result) String() string {
	slices.Sort(r.latencies)
	q := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[int(p*float64(len(r.latencies)-1))]
	}
	return fmt.Sprintf("sent %d in %s (%.0f req/s), errors %d, latency p50 %s p90 %s p99 %s max %s",
		r.sent, r.elapsed.Round(time.Millisecond), float64(r.sent)/r.elapsed.Seconds(), r.errors,
		q(0.50), q(0.90), q(0.99), q(1))
}

func run(ctx context.Context, server, token string, rate int, d time.Duration) result {
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256},
	}
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, rate*int(d.Seconds()+1))
		errors    atomic.Int64
		wg        sync.WaitGroup
	)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var sent int64
	for next := start; time.Since(start) < d; next = next.Add(interval) {
		time.Sleep(time.Until(next))
		sent++
		n := sent
		wg.Go(func() {
			body := fmt.Appendf(nil, `{"service":"load","env":"bench","version":"v%d","author":"loadgen","changes":[{"commit":"c%d","author":"loadgen","title":"load"}]}`, n, n)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/api/v1/deploys", bytes.NewReader(body))
			if err != nil {
				errors.Add(1)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			t0 := time.Now()
			resp, err := hc.Do(req)
			lat := time.Since(t0)
			if err != nil {
				errors.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				errors.Add(1)
			}
			mu.Lock()
			latencies = append(latencies, lat)
			mu.Unlock()
		})
	}
	wg.Wait()
	return result{sent: sent, errors: errors.Load(), elapsed: time.Since(start), latencies: latencies}
}
