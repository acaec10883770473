package client

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/gohere/gohere"
)

// TestCIJobTraceContextIsSent checks that a deploy recorded from CI carries
// the job's W3C trace context, so the server's spans join the pipeline trace.
func TestCIJobTraceContextIsSent(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"id":"d1","service":"checkout","env":"prod","version":"v1"}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL, "secret", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := propagation.TraceContext{}.Extract(t.Context(), propagation.MapCarrier{"traceparent": parent})
	if _, err := c.StartDeploy(ctx, StartRequest{Service: "checkout", Env: "prod", Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	if tp := <-got; !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Errorf("traceparent sent = %q, want the CI job's trace id", tp)
	}
}

// TestErrorResponsesKeepTheirKind: an error answer becomes an error of
// the matching kind, without the token. gohere's own message (a canary
// config's problems, one a line) comes through whole; anything else, a
// proxy's page, is cut.
func TestErrorResponsesKeepTheirKind(t *testing.T) {
	problems := "12 problems:" + strings.Repeat("\nconfig: metrics[0].query (line 3): a query is required", 12)
	for _, tc := range []struct {
		status int
		body   string
		want   gohere.Kind
		end    string // of the message; "": not checked
	}{
		{http.StatusBadRequest, `{"error":"service: required"}`, gohere.Invalid, ""},
		{http.StatusUnauthorized, `{"error":"unauthorized"}`, gohere.Unauthorized, ""},
		{http.StatusForbidden, `{"error":"forbidden"}`, gohere.Forbidden, ""},
		{http.StatusNotFound, `{"error":"deploy x: not found"}`, gohere.NotFound, ""},
		{http.StatusConflict, `{"error":"already finished"}`, gohere.Conflict, ""},
		{http.StatusRequestEntityTooLarge, `{"error":"too large"}`, gohere.TooLarge, ""},
		{http.StatusServiceUnavailable, `<html>bad gateway</html>`, gohere.Unavailable, ""},
		{http.StatusBadRequest, `{"error":` + strconv.Quote(problems) + `}`, gohere.Invalid, problems},
		{http.StatusBadGateway, "<html>" + strings.Repeat("x", 1000) + "</html>", gohere.Unavailable, strings.Repeat("x", 294) + "…"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := New(srv.URL, "secret", 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetDeploy(t.Context(), "x")
			if got := gohere.KindOf(err); got != tc.want {
				t.Errorf("kind = %v (%v), want %v", got, err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the token", err)
			}
			if !strings.HasSuffix(err.Error(), tc.end) {
				t.Errorf("error %q, want it to end with %q", err, tc.end)
			}
		})
	}
}
