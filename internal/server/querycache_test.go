package server

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gohere/gohere/internal/prom"
)

func someSeries(points int) []prom.Series {
	return []prom.Series{{Labels: map[string]string{"version": "v1"}, Points: make([]prom.Point, points)}}
}

// fetch answers k from c as fetchLines does, asking the store (counted in
// asked) only when the cache and the flights cannot.
func fetch(c *queryCache, k queryKey, expires time.Time, asked *int) []prom.Series {
	series, hit, f, lead := c.lookup(k, time.Now())
	if hit {
		return series
	}
	if lead {
		*asked++
		c.land(k, f, someSeries(10), nil, expires)
	}
	<-f.done
	return f.series
}

func TestQueryCacheKeepsAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newQueryCache(1, 10, 1<<20)
		live := queryKey{query: "up", from: 1}
		settled := queryKey{query: "up", from: 1, to: 2}
		var asked int
		for range 3 {
			fetch(c, live, time.Now().Add(liveTTL), &asked)
			fetch(c, settled, time.Time{}, &asked)
		}
		if asked != 2 {
			t.Fatalf("asked the store %d times for 2 queries viewed 3 times, want 2", asked)
		}
		time.Sleep(liveTTL)
		fetch(c, live, time.Now().Add(liveTTL), &asked)
		fetch(c, settled, time.Time{}, &asked)
		if asked != 3 {
			t.Errorf("after %s asked %d times, want 3: the live answer again, the settled one kept", liveTTL, asked)
		}
	})
}

func TestQueryCacheNeverKeepsErrors(t *testing.T) {
	c := newQueryCache(1, 10, 1<<20)
	k := queryKey{query: "up"}
	_, _, f, lead := c.lookup(k, time.Now())
	if !lead {
		t.Fatal("first lookup does not lead")
	}
	_, _, joined, lead := c.lookup(k, time.Now())
	if lead || joined != f {
		t.Fatal("a second lookup during the flight does not join it")
	}
	c.land(k, f, nil, errors.New("store down"), time.Time{})
	if joined.err == nil {
		t.Error("the flight's waiters do not get its error")
	}
	if _, hit, _, lead := c.lookup(k, time.Now()); hit || !lead {
		t.Errorf("after a failed query: hit %v, lead %v; want it asked again", hit, lead)
	}
}

func TestQueryCacheEvictsLeastRecentlyUsed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		entries  int
		bytes    int
		wantKept int
	}{
		{"by entries", 3, 1 << 20, 3},
		{"by bytes", 100, 3 * answerSize(queryKey{query: "q0"}, someSeries(10)), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newQueryCache(1, tc.entries, tc.bytes)
			var asked int
			key := func(i int) queryKey { return queryKey{query: "q" + strconv.Itoa(i)} }
			fetch(c, key(0), time.Time{}, &asked)
			fetch(c, key(1), time.Time{}, &asked)
			fetch(c, key(2), time.Time{}, &asked)
			fetch(c, key(0), time.Time{}, &asked) // q0 is now the most recent
			fetch(c, key(3), time.Time{}, &asked) // evicts q1
			if c.answers.len() != tc.wantKept || c.answers.bytes > tc.bytes {
				t.Errorf("%d entries of %d bytes kept, want %d within %d bytes", c.answers.len(), c.answers.bytes, tc.wantKept, tc.bytes)
			}
			asked = 0
			fetch(c, key(0), time.Time{}, &asked)
			fetch(c, key(2), time.Time{}, &asked)
			fetch(c, key(3), time.Time{}, &asked)
			if asked != 0 {
				t.Errorf("asked %d times for the recently used answers, want 0", asked)
			}
			fetch(c, key(1), time.Time{}, &asked)
			if asked != 1 {
				t.Error("the least recently used answer was kept")
			}
		})
	}
	c := newQueryCache(1, 10, 100)
	var asked int
	fetch(c, queryKey{query: "huge"}, time.Time{}, &asked)
	if c.answers.len() != 0 {
		t.Error("kept an answer larger than the whole cache")
	}
}

func TestQuerySlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newQueryCache(3, 10, 1<<20)
		if got := c.acquire(t.Context(), 2, time.Second); got != 2 {
			t.Fatalf("acquire(2) of 3 free = %d", got)
		}
		if got := c.acquire(t.Context(), 5, time.Second); got != 1 {
			t.Fatalf("acquire(5) with 1 free = %d, want 1: the others only if free", got)
		}
		start := time.Now()
		if got := c.acquire(t.Context(), 1, time.Second); got != 0 || time.Since(start) != time.Second {
			t.Fatalf("acquire with none free = %d after %s, want 0 after the 1s wait", got, time.Since(start))
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			c.release()
		}()
		if got := c.acquire(t.Context(), 1, time.Second); got != 1 || time.Since(start) != 1100*time.Millisecond {
			t.Errorf("acquire while one is released after 100ms = %d at %s", got, time.Since(start))
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if got := c.acquire(ctx, 1, time.Second); got != 0 {
			t.Errorf("acquire with a cancelled context = %d", got)
		}
	})
}
