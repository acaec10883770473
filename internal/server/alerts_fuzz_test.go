package server_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/server"
)

// FuzzAlertHook feeds arbitrary payloads to /hooks/alertmanager (handler,
// validation, correlation, real SQLite store): the answer is a 200 that
// lists every alert it took, or a 4xx with an error body that stored
// nothing; never a 5xx or a panic.
func FuzzAlertHook(f *testing.F) {
	for _, name := range []string{"alertmanager-v4.json", "grafana.json"} {
		b, err := os.ReadFile("testdata/alerts/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.ReplaceAll(string(b), "STARTS_AT", time.Now().UTC().Format(time.RFC3339)))
	}
	for _, seed := range []string{
		`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","service":"checkout"},"startsAt":"2026-11-27T10:00:00Z"}]}`,
		`{"version":"4","alerts":[{"status":"resolved","labels":{"alertname":"A"},"startsAt":"2026-11-27T10:00:00Z","endsAt":"2026-11-27T09:00:00Z"}]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"\u0000","service":"\ud800"},"startsAt":"0001-01-01T00:00:00Z"}]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","env":"prod"},"startsAt":"2026-11-27T10:00:00.123456789+05:30","fingerprint":""}]}`,
		`{"version":"4","alerts":null}`,
		`{"version":4}`,
	} {
		f.Add(seed)
	}
	e := newEnv(f, nil)
	e.create(f, `{"service":"checkout","env":"prod","version":"v1"}`)
	f.Fuzz(func(t *testing.T, body string) {
		before := len(e.alerts(t))
		r := httptest.NewRequestWithContext(t.Context(), "POST", "/hooks/alertmanager", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+ciSecret)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		after := len(e.alerts(t))
		switch {
		case w.Code == http.StatusOK:
			got := decode[server.AlertHookAnswer](t, w)
			if after != before+got.New || len(got.Alerts) == 0 {
				t.Fatalf("200 with %d new of %d, but %d → %d alerts stored", got.New, len(got.Alerts), before, after)
			}
		case w.Code >= 400 && w.Code < 500:
			if after != before {
				t.Fatalf("%d but %d → %d alerts stored", w.Code, before, after)
			}
			if errorBody(t, w) == "" {
				t.Fatalf("%d without an error message", w.Code)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
