// Package spantest lets tests record the spans of code that uses the
// global OpenTelemetry tracer provider, in a test binary that runs them
// more than once (-count).
package spantest

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The global provider is installed once per process: tracers obtained
// before it was set delegate to the first provider installed, never to a
// later one, so a test that installs its own the second time records
// nothing. Each test swaps the recorder behind it instead.
var (
	installOnce sync.Once
	current     = &forward{}
)

// Record makes the spans ended from now on until the test ends go to a
// fresh recorder, and returns it.
func Record(tb testing.TB) *tracetest.SpanRecorder {
	installOnce.Do(func() {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(current)))
	})
	rec := tracetest.NewSpanRecorder()
	current.set(rec)
	tb.Cleanup(func() { current.set(nil) })
	return rec
}

// forward is a span processor passing spans to the current recorder.
type forward struct {
	mu  sync.Mutex
	rec *tracetest.SpanRecorder
}

func (f *forward) set(rec *tracetest.SpanRecorder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec = rec
}

func (f *forward) get() *tracetest.SpanRecorder {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec
}

func (f *forward) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	if rec := f.get(); rec != nil {
		rec.OnStart(ctx, s)
	}
}

func (f *forward) OnEnd(s sdktrace.ReadOnlySpan) {
	if rec := f.get(); rec != nil {
		rec.OnEnd(s)
	}
}

func (f *forward) Shutdown(context.Context) error   { return nil }
func (f *forward) ForceFlush(context.Context) error { return nil }
