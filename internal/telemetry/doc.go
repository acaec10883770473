// Package telemetry is gohere's own observability: the VictoriaMetrics/metrics
// set behind /metrics, the OpenTelemetry tracer provider and the slog logger.
//
//	m := telemetry.NewMetrics()
//	m.ObserveHTTP("/api/v1/deploys", 201, elapsed)
//	m.WritePrometheus(w) // in the /metrics handler
//
// Label values come from bounded sets only (route templates, status codes,
// environments, stages, write results). It imports nothing of ours.
package telemetry
