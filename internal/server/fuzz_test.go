package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzCreateDeploy feeds arbitrary bodies and idempotency keys through the
// whole create path (handler, validation, real SQLite store): the answer is
// always a deploy (201, or 200 for a replay) or a 4xx with an error body,
// never a 500 or a panic, and only a 201 writes anything.
func FuzzCreateDeploy(f *testing.F) {
	for _, seed := range []struct{ body, key string }{
		{`{"service":"checkout","env":"prod","version":"v1"}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1"}`, "run-1"},
		{`{"service":"checkout","env":"prod","version":"v2","idempotency_key":"run-1"}`, ""},
		{`{"service":"checkout","env":"prod","version":"v3","baseline_version":"v2","stage":"full","commit":"3f2a1c","author":"alice","merged_by":"bob","pr":"https://git.example/pr/1","changes":[{"commit":"3f2a1c","author":"alice","title":"fix: tax, rounding"}]}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1","changes":null}`, ""},
		{`{"service":"a\u0000","env":"prod","version":"v1"}`, ""},
		{`{"service":"\ud800","env":"prod","version":"v1"}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1","author":"\u2028"}`, "k\u00ff"},
		{`{"service":"checkout","env":"prod","version":"v1","changes":[{"commit":""}]}`, ""},
		{`{"service":["x"]}`, ""},
		{`{"Service":"checkout","ENV":"prod","version":"v1"}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1"}{}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1","stage":"canary","stage":"full"}`, ""},
		{`null`, ""},
		{`"`, ""},
		{`{"service":1e999}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1","started_at":"2026-11-27T10:00:00Z"}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1","started_at":"2999-01-01T00:00:00Z"}`, ""},
		{`{"service":"checkout","env":"prod","version":"v1","started_at":"yesterday"}`, ""},
	} {
		f.Add([]byte(seed.body), seed.key)
	}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		before := pendingCreates(t, e)
		r := httptest.NewRequestWithContext(t.Context(), "POST", "/api/v1/deploys", strings.NewReader(string(body)))
		r.Header.Set("Authorization", "Bearer "+ciSecret)
		r.Header.Set("Content-Type", "application/json")
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		after := pendingCreates(t, e)
		switch {
		case w.Code == http.StatusCreated:
			if after != before+1 {
				t.Fatalf("201 but %d → %d outbox entries", before, after)
			}
			d := decode[struct{ ID string }](t, w)
			if _, err := e.db.GetDeploy(t.Context(), d.ID); err != nil {
				t.Fatalf("201 but deploy %q is not stored: %v", d.ID, err)
			}
		case w.Code == http.StatusOK:
			if after != before {
				t.Fatalf("replay (200) wrote: %d → %d outbox entries", before, after)
			}
		case w.Code >= 400 && w.Code < 500:
			errorBody(t, w)
			if after != before {
				t.Fatalf("rejected (%d) but wrote: %d → %d outbox entries", w.Code, before, after)
			}
		default:
			t.Fatalf("status %d %s for body %q key %q", w.Code, w.Body, body, key)
		}
	})
}

// pendingCreates counts outbox entries: one per recorded deploy here, as no
// worker delivers them.
func pendingCreates(t *testing.T, e *env) int {
	t.Helper()
	n, _, err := e.db.OutboxStats(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// BenchmarkCreateDeploy measures POST /api/v1/deploys through the whole
// handler stack on SQLite (WAL, synchronous=NORMAL, group commit).
// "baseline-given" skips the baseline lookup; "baseline-lookup" runs it for a
// service without history (a partial index makes it one index probe).
func BenchmarkCreateDeploy(b *testing.B) {
	for _, bc := range []struct {
		name     string
		baseline string
	}{
		{"baseline-given", `"baseline_version":"v0",`},
		{"baseline-lookup", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, nil)
			i := 0
			for b.Loop() {
				i++
				body := fmt.Sprintf(`{"service":"svc%d","env":"prod","version":"v%d",%s"author":"alice","changes":[{"commit":"c%d","author":"alice","title":"change"}]}`, i, i, bc.baseline, i)
				r := httptest.NewRequestWithContext(b.Context(), "POST", "/api/v1/deploys", strings.NewReader(body))
				r.Header.Set("Authorization", "Bearer "+ciSecret)
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					b.Fatalf("status %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
