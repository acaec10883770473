package prom_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/tsdbtest"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		opts prom.Options
		ok   bool
	}{
		{"plain", prom.Options{URL: "http://127.0.0.1:8428"}, true},
		{"path prefix", prom.Options{URL: "https://mimir.example/prometheus"}, true},
		{"bearer", prom.Options{URL: "http://h", BearerToken: "s3cret-token"}, true},
		{"basic in URL", prom.Options{URL: "http://alice:s3cret-pw@h"}, true},
		{"empty", prom.Options{}, false},
		{"no scheme", prom.Options{URL: "localhost:9090"}, false},
		{"ftp", prom.Options{URL: "ftp://h"}, false},
		{"query", prom.Options{URL: "http://h/?token=s3cret-token"}, false},
		{"bearer and basic", prom.Options{URL: "http://h", BearerToken: "s3cret-token", Username: "alice", Password: "s3cret-pw"}, false},
		{"URL and option users", prom.Options{URL: "http://alice:s3cret-pw@h", Username: "bob"}, false},
		{"URL user and option password", prom.Options{URL: "http://alice@h", Password: "s3cret-pw"}, false},
		{"fragment", prom.Options{URL: "http://h/#s3cret-token"}, false},
		{"negative timeout", prom.Options{URL: "http://h", Timeout: -time.Second}, false},
		{"unparsable with password", prom.Options{URL: "http://alice:s3cret-pw@h:port/%zz"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := prom.New(tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("New error = %v, want ok %v", err, tt.ok)
			}
			if err == nil {
				return
			}
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind = %v, want invalid", k)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a credential: %v", err)
			}
		})
	}
}

func TestStep(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		span time.Duration
		want time.Duration
		step time.Duration
	}{
		{"short range keeps want", time.Hour, 30 * time.Second, 30 * time.Second},
		{"exactly the limit", 10999 * time.Second, time.Second, time.Second},
		{"one second more", 11000 * time.Second, time.Second, 2 * time.Second},
		{"a week at 15s", 7 * 24 * time.Hour, 15 * time.Second, 55 * time.Second},
		{"sub-second rounds up to a nanosecond", 100 * time.Second, time.Millisecond, 9091736},
		{"empty range", 0, 30 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := prom.Step(t0, t0.Add(tt.span), tt.want)
			if got != tt.step {
				t.Errorf("Step = %s, want %s", got, tt.step)
			}
			if points := int64(tt.span/got) + 1; points > prom.MaxPoints {
				t.Errorf("%d points per series > %d", points, prom.MaxPoints)
			}
		})
	}
}

// stores starts each real store with the same data and runs f against it.
func stores(t *testing.T, data []tsdbtest.Sample, f func(t *testing.T, s *tsdbtest.Server)) {
	t.Run("victoriametrics", func(t *testing.T) {
		t.Parallel()
		s := tsdbtest.StartVictoriaMetrics(t)
		s.Import(t, data)
		f(t, s)
	})
	t.Run("prometheus", func(t *testing.T) {
		t.Parallel()
		f(t, tsdbtest.StartPrometheus(t, data))
	})
}

func client(t *testing.T, url string) *prom.Client {
	t.Helper()
	c, err := prom.New(prom.Options{URL: url, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestQueryRealStores(t *testing.T) {
	// Whole minutes in the past: both stores answer identically there.
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	ts := make([]int64, 10)
	for i := range ts {
		ts[i] = t0.Add(time.Duration(i) * 30 * time.Second).UnixMilli()
	}
	data := []tsdbtest.Sample{
		{Labels: map[string]string{"__name__": "req_total", "version": "v1"}, Timestamps: ts,
			Values: []float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}},
		{Labels: map[string]string{"__name__": "req_total", "version": "v2"}, Timestamps: ts,
			Values: []float64{1, 2, 3, 4, math.Inf(1), 6, 7, 8, 9, 1e-9}},
	}
	at := func(i int) time.Time { return time.UnixMilli(ts[i]) }
	stores(t, data, func(t *testing.T, s *tsdbtest.Server) {
		c := client(t, s.URL())
		ctx := t.Context()

		got, err := c.QueryRange(ctx, `req_total{version="v1"}`, at(2), at(5), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		want := []prom.Series{{
			Labels: map[string]string{"__name__": "req_total", "version": "v1"},
			Points: []prom.Point{{at(2), 20}, {at(4), 40}},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("QueryRange (-want +got):\n%s", diff)
		}

		got, err = c.QueryRange(ctx, `req_total{version="v2"}`, at(3), at(5), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want = []prom.Series{{
			Labels: map[string]string{"__name__": "req_total", "version": "v2"},
			Points: []prom.Point{{at(3), 4}, {at(4), math.Inf(1)}, {at(5), 6}},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("QueryRange with +Inf (-want +got):\n%s", diff)
		}

		got, err = c.Query(ctx, `sum by (version) (req_total)`, at(9))
		if err != nil {
			t.Fatal(err)
		}
		want = []prom.Series{
			{Labels: map[string]string{"version": "v1"}, Points: []prom.Point{{at(9), 90}}},
			{Labels: map[string]string{"version": "v2"}, Points: []prom.Point{{at(9), 1e-9}}},
		}
		sortSeries := cmpopts.SortSlices(func(a, b prom.Series) bool { return a.Labels["version"] < b.Labels["version"] })
		if diff := cmp.Diff(want, got, sortSeries); diff != "" {
			t.Errorf("Query vector (-want +got):\n%s", diff)
		}

		got, err = c.Query(ctx, `scalar(sum(req_total{version="v1"}))`, at(1))
		if err != nil {
			t.Fatal(err)
		}
		want = []prom.Series{{Labels: map[string]string{}, Points: []prom.Point{{at(1), 10}}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Query scalar (-want +got):\n%s", diff)
		}

		got, err = c.QueryRange(ctx, `req_total{version="none"}`, at(0), at(9), 30*time.Second)
		if err != nil || len(got) != 0 {
			t.Errorf("no series: got %v, %v; want none, nil", got, err)
		}

		_, err = c.QueryRange(ctx, `sum(req_total`, at(0), at(9), 30*time.Second)
		if k := gohere.KindOf(err); k != gohere.Invalid || prom.Retryable(err) {
			t.Errorf("bad query: kind %v, retryable %v (%v); want invalid, not retryable", k, prom.Retryable(err), err)
		}
	})
}

func TestQueryArguments(t *testing.T) {
	c := client(t, "http://127.0.0.1:1")
	t0 := time.Now()
	for name, call := range map[string]func() error{
		"empty query": func() error { _, err := c.QueryRange(t.Context(), " ", t0, t0, time.Second); return err },
		"end before":  func() error { _, err := c.QueryRange(t.Context(), "up", t0, t0.Add(-1), time.Second); return err },
		"zero step":   func() error { _, err := c.QueryRange(t.Context(), "up", t0, t0, 0); return err },
		"too many": func() error {
			_, err := c.QueryRange(t.Context(), "up", t0, t0.Add(11000*time.Second), time.Second)
			return err
		},
		"empty instant": func() error { _, err := c.Query(t.Context(), "", t0); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind = %v, want invalid (%v)", k, err)
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestConnectionRefused(t *testing.T) {
	c, err := prom.New(prom.Options{URL: "http://alice:s3cret-pw@" + closedPort(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Query(t.Context(), "up", time.Now())
	if !prom.Retryable(err) || gohere.KindOf(err) != gohere.Unavailable {
		t.Errorf("kind %v, retryable %v (%v); want unavailable, retryable", gohere.KindOf(err), prom.Retryable(err), err)
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "alice") {
		t.Errorf("error shows credentials: %v", err)
	}
}

// TestStoreOutage stops a real store between queries: the failure is
// retryable, and the same client works again once the store is back.
func TestStoreOutage(t *testing.T) {
	now := time.Now().Add(-time.Minute)
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, []tsdbtest.Sample{{Labels: map[string]string{"__name__": "up"}, Timestamps: []int64{now.UnixMilli()}, Values: []float64{1}}})
	c := client(t, vm.URL())
	if _, err := c.Query(t.Context(), "up", now); err != nil {
		t.Fatal(err)
	}
	vm.Stop(t)
	_, err := c.Query(t.Context(), "up", now)
	if !prom.Retryable(err) {
		t.Fatalf("store down: retryable = false (%v)", err)
	}
	vm.Start(t)
	got, err := c.Query(t.Context(), "up", now)
	if err != nil || len(got) != 1 {
		t.Fatalf("store back: %v, %v; want one series", got, err)
	}
}

// fixed answers every request with the same status and body: only for the
// error paths a real store cannot be made to take.
func fixed(t *testing.T, status int, body string, seen func(*http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen(r)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestServerErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
		kind   gohere.Kind
	}{
		{"503 from a proxy", 503, "<html>Service Unavailable</html>", gohere.Unavailable},
		{"garbage 200", 200, "\x00\x01garbage", gohere.Invalid},
		{"401", 401, "Unauthorized", gohere.Unauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, fixed(t, tt.status, tt.body, nil))
			_, err := c.Query(t.Context(), "up", time.Now())
			if k := gohere.KindOf(err); k != tt.kind {
				t.Errorf("kind = %v, want %v (%v)", k, tt.kind, err)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	const ok = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	for _, tt := range []struct {
		name string
		opts prom.Options
		auth string
	}{
		{"bearer", prom.Options{BearerToken: "tok"}, "Bearer tok"},
		{"basic", prom.Options{Username: "alice", Password: "pw"}, "Basic YWxpY2U6cHc="},
		{"basic in URL", prom.Options{URL: "alice:pw@"}, "Basic YWxpY2U6cHc="},
		{"none", prom.Options{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got *http.Request
			base := fixed(t, 200, ok, func(r *http.Request) {
				r.ParseForm()
				mu.Lock()
				got = r
				mu.Unlock()
			})
			tt.opts.URL = strings.Replace(base, "http://", "http://"+tt.opts.URL, 1) + "/prefix"
			tt.opts.Timeout = 7 * time.Second
			c, err := prom.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.UnixMilli(1700000000123)
			if _, err := c.QueryRange(t.Context(), `up{a="b"}`, start, start.Add(time.Hour), 15*time.Second); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if got.Method != http.MethodPost || got.URL.Path != "/prefix/api/v1/query_range" {
				t.Errorf("request %s %s, want POST /prefix/api/v1/query_range", got.Method, got.URL.Path)
			}
			if a := got.Header.Get("Authorization"); a != tt.auth {
				t.Errorf("Authorization = %q, want %q", a, tt.auth)
			}
			form := map[string]string{}
			for k := range got.PostForm {
				form[k] = got.PostForm.Get(k)
			}
			want := map[string]string{"query": `up{a="b"}`, "start": "1700000000.123", "end": "1700003600.123", "step": "15", "timeout": "7.000"}
			if diff := cmp.Diff(want, form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeadlines(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })

	t.Run("own timeout is retryable", func(t *testing.T) {
		c, err := prom.New(prom.Options{URL: srv.URL, Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Query(t.Context(), "up", time.Now())
		if !prom.Retryable(err) {
			t.Errorf("retryable = false (%v)", err)
		}
	})
	t.Run("caller deadline is retryable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := client(t, srv.URL).Query(ctx, "up", time.Now())
		if !prom.Retryable(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("retryable %v, deadline %v (%v); want both", prom.Retryable(err), errors.Is(err, context.DeadlineExceeded), err)
		}
	})
	t.Run("caller cancel is not retryable", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := client(t, srv.URL).Query(ctx, "up", time.Now())
		if prom.Retryable(err) || !errors.Is(err, context.Canceled) {
			t.Errorf("retryable %v, canceled %v (%v); want false, true", prom.Retryable(err), errors.Is(err, context.Canceled), err)
		}
	})
}
