package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gohere/gohere/internal/telemetry"
)

func TestTracingIsNoopWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	shutdown, err := telemetry.SetupTracing(t.Context(), "gohere", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.WithoutCancel(t.Context()))
	_, span := otel.Tracer("test").Start(t.Context(), "op")
	defer span.End()
	if span.SpanContext().IsValid() {
		t.Error("span has a valid context, want the no-op provider's")
	}
	assertTraceContextPropagator(t)
}

// TestTracingExportsOverOTLPHTTP points the exporter at a loopback collector
// and checks that a span arrives there on shutdown.
func TestTracingExportsOverOTLPHTTP(t *testing.T) {
	got := make(chan string, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		got <- r.URL.Path + " " + r.Header.Get("Content-Type") + " " + b.String()
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	shutdown, err := telemetry.SetupTracing(t.Context(), "gohere-test", "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	defer otel.SetTracerProvider(noop.NewTracerProvider()) // keep later tests off the shut-down exporter
	_, span := otel.Tracer("test").Start(t.Context(), "recorded-op")
	if !span.SpanContext().IsValid() {
		t.Error("span has no valid context with an OTLP endpoint configured")
	}
	span.End()
	if err := shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case req := <-got:
		for _, want := range []string{"/v1/traces", "application/x-protobuf", "recorded-op", "gohere-test"} {
			if !strings.Contains(req, want) {
				t.Errorf("export request lacks %q", want)
			}
		}
	default:
		t.Fatal("no export request reached the collector")
	}
	assertTraceContextPropagator(t)
}

func assertTraceContextPropagator(t *testing.T) {
	t.Helper()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := otel.GetTextMapPropagator().Extract(t.Context(), propagation.MapCarrier{"traceparent": parent})
	out := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, out)
	if out["traceparent"] != parent {
		t.Errorf("traceparent round trip = %q, want %q", out["traceparent"], parent)
	}
}

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		name string
		json bool
		want string
	}{
		{"text", false, `msg=hello n=1`},
		{"json", true, `"msg":"hello","n":1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			log := telemetry.NewLogger(&b, slog.LevelInfo, tc.json)
			log.Debug("hidden")
			log.Info("hello", "n", 1)
			if !strings.Contains(b.String(), tc.want) || strings.Contains(b.String(), "hidden") {
				t.Errorf("log output %q: want %q and no debug record", b.String(), tc.want)
			}
			if tc.json {
				var rec map[string]any
				if err := json.Unmarshal(b.Bytes(), &rec); err != nil {
					t.Errorf("json record: %v", err)
				}
			}
		})
	}
}
