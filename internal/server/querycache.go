package server

import (
	"context"
	"sync"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
)

// The pages are public: anyone with a link makes the metric store work.
// Their range queries therefore share a cache and a bound per process.
const (
	queryConcurrency = 8 // store queries the pages run at once
	queriesPerPage   = 4 // of which one page runs at most
	// queryWait is how long a page waits for its first query slot before
	// it answers 503: a store this busy will not be helped by more.
	queryWait      = 2 * time.Second
	busyRetryAfter = "5" // seconds, the 503's Retry-After
	// liveTTL keeps answers about windows that may still get data (they
	// reach now, or ended less than settleAfter ago); older windows are
	// kept until evicted.
	liveTTL     = 30 * time.Second
	settleAfter = 5 * time.Minute
	// The cache holds at most this many answers and about this many bytes.
	cacheEntries = 4096
	cacheBytes   = 32 << 20
)

// errBusy is a page query that found every slot taken for queryWait.
var errBusy = gohere.Errorf(gohere.Unavailable, "the metric store is busy with other page views: try again in a few seconds")

// queryKey is a resolved range query; to is 0 for a window that ends now,
// so that views within liveTTL share it.
type queryKey struct {
	query    string
	from, to int64 // Unix ms
	step     time.Duration
}

// flight is a query some page runs; the pages that want the same query
// meanwhile wait for it instead of asking the store again.
type flight struct {
	done   chan struct{}
	series []prom.Series
	err    error
}

// queryCache keeps store answers, the flights under way, and the slots
// that bound concurrent store queries. The series of an answer are shared
// by every page that reads them: read only.
type queryCache struct {
	slots chan struct{}

	mu      sync.Mutex
	answers *lru[queryKey, []prom.Series]
	flights map[queryKey]*flight
}

func newQueryCache(slots, maxEntries, maxBytes int) *queryCache {
	return &queryCache{slots: make(chan struct{}, slots), answers: newLRU[queryKey, []prom.Series](maxEntries, maxBytes), flights: map[queryKey]*flight{}}
}

// lookup returns the cached answer of k at now (hit), or the flight that
// will answer it; lead says the caller started that flight and must end it
// with land.
func (c *queryCache) lookup(k queryKey, now time.Time) (series []prom.Series, hit bool, f *flight, lead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if series, ok := c.answers.get(k, now); ok {
		return series, true, nil, false
	}
	if f, ok := c.flights[k]; ok {
		return nil, false, f, false
	}
	f = &flight{done: make(chan struct{})}
	c.flights[k] = f
	return nil, false, f, true
}

// land ends the flight of k with its answer, which is kept until expires
// (zero: until evicted) unless it is an error.
func (c *queryCache) land(k queryKey, f *flight, series []prom.Series, err error, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.flights, k)
	f.series, f.err = series, err
	close(f.done)
	if err == nil {
		c.answers.put(k, series, answerSize(k, series), expires)
	}
}

// answerSize estimates the bytes an answer holds.
func answerSize(k queryKey, series []prom.Series) int {
	n := 128 + len(k.query)
	for _, s := range series {
		n += 64 + 16*len(s.Points)
		for name, v := range s.Labels {
			n += 32 + len(name) + len(v)
		}
	}
	return n
}

// acquire takes up to n query slots: the first waits at most wait (and
// ctx), the others only if free now. It returns how many it took, each to
// be given back with release.
func (c *queryCache) acquire(ctx context.Context, n int, wait time.Duration) int {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
	case <-t.C:
		return 0
	case <-ctx.Done():
		return 0
	}
	got := 1
	for got < n {
		select {
		case c.slots <- struct{}{}:
			got++
		default:
			return got
		}
	}
	return got
}

func (c *queryCache) release() { <-c.slots }
