package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/tsdbtest"
)

// rangeCounter stands between gohere and a real store and counts the range
// queries that pass (the store's own /metrics refreshes only every second).
type rangeCounter struct {
	n     atomic.Int64
	proxy *httptest.Server
}

func countRanges(t *testing.T, storeURL string) *rangeCounter {
	t.Helper()
	target, err := url.Parse(storeURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rangeCounter{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rc.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/query_range" {
			rc.n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(rc.proxy.Close)
	return rc
}

// healthyStore is a real VictoriaMetrics holding the healthy recording,
// which ends five minutes ago and starts at t0, and a compare env on it
// through rc.
func healthyStore(t *testing.T) (rc *rangeCounter, e *env, sc fixtures.Scenario, t0 time.Time) {
	t.Helper()
	sc, err := fixtures.Load("healthy")
	if err != nil {
		t.Fatal(err)
	}
	t0 = time.Now().Add(-sc.Duration - 5*time.Minute).Truncate(time.Second)
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, tsdbtest.Scenario(sc, t0))
	rc = countRanges(t, vm.URL())
	client, err := prom.New(prom.Options{URL: rc.proxy.URL})
	if err != nil {
		t.Fatal(err)
	}
	return rc, newCompareEnv(t, client, compare.SignalSet{}), sc, t0
}

// TestComparePageLoadsTheStoreOnce: the GO HERE link of a deploy is public;
// views of it share the answers of the metric store instead of each asking
// it again (issue 13: 10 views cost 120 queries).
func TestComparePageLoadsTheStoreOnce(t *testing.T) {
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		t.Fatal(err)
	}
	perView := 2 * len(signals) // baseline and canary of each
	rc, e, sc, t0 := healthyStore(t)
	view := func(link string) {
		w := e.do(t, req{method: "GET", path: link})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `class="series canary"`) {
			t.Fatalf("GET %s: %d, want a page with lines\n%.2000s", link, w.Code, w.Body)
		}
	}
	relative := func(d gohere.Deploy) string { return compare.URL(compare.Config{}, d) }

	t.Run("finished deploy", func(t *testing.T) {
		// It finished long enough ago that its window gets no more data.
		link := relative(gohere.Deploy{
			Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline,
			Status: gohere.StatusSucceeded, StartedAt: t0.Add(10 * time.Minute), FinishedAt: t0.Add(sc.Duration - 25*time.Minute),
		})
		before := rc.n.Load()
		for range 10 {
			view(link)
		}
		if got := rc.n.Load() - before; got != int64(perView) {
			t.Errorf("10 views of a finished deploy sent %d range queries, want %d (one view's)", got, perView)
		}
	})
	t.Run("running deploy, views at once", func(t *testing.T) {
		link := relative(gohere.Deploy{
			Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline,
			Status: gohere.StatusRunning, StartedAt: t0.Add(20 * time.Minute),
		})
		if !strings.Contains(link, "to=now") {
			t.Fatalf("link %s does not reach now", link)
		}
		before := rc.n.Load()
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { view(link) })
		}
		wg.Wait()
		if got := rc.n.Load() - before; got != int64(perView) {
			t.Errorf("10 concurrent views of a running deploy sent %d range queries, want %d (one view's)", got, perView)
		}
	})
}

// TestComparePageBusy: when the metric store's query slots stay taken, a
// further view answers 503 with Retry-After after a short wait, instead of
// piling more queries on the store or hanging; once they are free, it
// draws again.
func TestComparePageBusy(t *testing.T) {
	release := make(chan struct{})
	var inFlight atomic.Int64
	src := sourceFunc(func(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		select {
		case <-release:
			return ramp(ctx, query, start, end, step)
		case <-ctx.Done():
			return nil, gohere.Errorf(gohere.Unavailable, "prometheus: %w", ctx.Err())
		}
	})
	e := newCompareEnv(t, src, compare.SignalSet{})
	// Views of different windows: none shares another's queries.
	link := func(from int) string {
		return "/compare?service=checkout&env=prod&baseline=v1&canary=v2&from=" + strconv.Itoa(from) + "&to=1795430100000"
	}
	var wg sync.WaitGroup
	slow := make([]*httptest.ResponseRecorder, 2)
	for i := range slow {
		wg.Go(func() { slow[i] = e.do(t, req{method: "GET", path: link(1795428000000 + i*60000)}) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for inFlight.Load() < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("%d store queries in flight, want the 8 slots taken", inFlight.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}

	asked := time.Now()
	w := e.do(t, req{method: "GET", path: link(1795428000000 + 5*60000)})
	waited := time.Since(asked)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("view while the store is saturated: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if body := w.Body.String(); !strings.Contains(body, "metric store is busy") || !strings.Contains(body, "try again") {
		t.Errorf("busy page does not say why:\n%s", body)
	}
	if n := inFlight.Load(); n > 8 {
		t.Errorf("%d store queries in flight, want at most 8", n)
	}
	if waited > 10*time.Second {
		t.Errorf("the busy answer took %s: a saturated store must not hold the view", waited)
	}

	close(release)
	wg.Wait()
	for i, w := range slow {
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "nodata") {
			t.Errorf("slow view %d: %d, want it drawn once the store answered", i, w.Code)
		}
	}
	if w := e.do(t, req{method: "GET", path: link(1795428000000 + 5*60000)}); w.Code != http.StatusOK {
		t.Errorf("view after the store is free again: %d, want 200", w.Code)
	}
}
