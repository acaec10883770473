package server_test

import (
	"slices"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/gohere/gohere/internal/spantest"
)

// TestRequestSpansJoinTheCallersTrace checks that an inbound request with a
// W3C traceparent (as `gohere deploy start` sends from CI) gets a server span
// in that trace, with the store's spans beneath it.
func TestRequestSpansJoinTheCallersTrace(t *testing.T) {
	// The middleware takes the propagator when the server is built, as
	// `gohere serve` sets it before: first the propagator, then the server.
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	e := newEnv(t, nil)
	rec := spantest.Record(t)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	w := e.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret,
		body:   `{"service": "checkout", "env": "prod", "version": "v1"}`,
		header: map[string]string{"Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}})
	if w.Code != 201 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	var server sdktrace.ReadOnlySpan
	var names []string
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() != traceID {
			t.Errorf("span %q is in trace %s, want the caller's %s", s.Name(), s.SpanContext().TraceID(), traceID)
		}
		names = append(names, s.Name())
		if s.Name() == "POST /api/v1/deploys" {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span named after the route; spans: %v", names)
	}
	if got := server.Parent().SpanID().String(); got != "00f067aa0ba902b7" {
		t.Errorf("server span's parent = %s, want the caller's span", got)
	}
	for _, want := range []string{"store.LastSucceeded", "store.CreateDeploy"} {
		i := slices.Index(names, want)
		if i < 0 {
			t.Errorf("no %s span; spans: %v", want, names)
			continue
		}
		if p := rec.Ended()[i].Parent().SpanID(); p != server.SpanContext().SpanID() {
			t.Errorf("%s's parent is %s, want the server span %s", want, p, server.SpanContext().SpanID())
		}
	}
}
