package notify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPostClassifiesAnswers: what a chat answers decides between done,
// retry (with its Retry-After) and drop; no error shows the URL's secret.
func TestPostClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		header    map[string]string
		wantErr   bool
		permanent bool
		after     time.Duration
	}{
		{"ok", 200, nil, false, false, 0},
		{"rate limited", 429, map[string]string{"Retry-After": "7"}, true, false, 7 * time.Second},
		{"unavailable", 503, nil, true, false, 0},
		{"request timeout", 408, nil, true, false, 0},
		{"deleted webhook", 404, nil, true, true, 0},
		{"revoked token", 403, nil, true, true, 0},
		{"moved", 302, map[string]string{"Location": "https://elsewhere.example/"}, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte("no_service"))
			}))
			defer srv.Close()
			client := &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			err := post(context.Background(), client, Destination{URL: srv.URL + "/services/T0/B0/s3cr3t", Format: FormatSlack}, []byte(`{}`))
			if (err != nil) != tc.wantErr || permanentError(err) != tc.permanent {
				t.Fatalf("post: %v (permanent %v); want error %v, permanent %v", err, permanentError(err), tc.wantErr, tc.permanent)
			}
			if se, ok := errors.AsType[*sendError](err); ok && se.after != tc.after {
				t.Errorf("Retry-After read as %v, want %v", se.after, tc.after)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "30": 30 * time.Second, "0": 0, "-5": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
