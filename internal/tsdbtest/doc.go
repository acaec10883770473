// Package tsdbtest starts real Prometheus-compatible stores for tests:
// Debian's victoria-metrics and prometheus packages, each in a temp dir,
// listening on a free port of 127.0.0.1, stopped in tb.Cleanup.
//
// Recipe:
//
//	vm := tsdbtest.StartVictoriaMetrics(t)
//	vm.Import(t, samples)                         // visible to queries on return
//	pr := tsdbtest.StartPrometheus(t, samples)    // backfilled with promtool before start
//	url := vm.URL()                               // e.g. http://127.0.0.1:38421
//	vm.Stop(t); vm.Start(t)                       // an outage, same data and URL
//	gw, ca := tsdbtest.Gateway(t, url, want, true) // HTTPS, 401 without the headers of want
//
// Data reaches VictoriaMetrics through /api/v1/import (JSON lines) and
// Prometheus through TSDB backfill (`promtool tsdb create-blocks-from
// openmetrics`), because remote write needs snappy and protobuf, which the
// module does not depend on. Importing into a running Prometheus therefore
// restarts it (Stop, backfill, Start; about a second or two).
//
// VictoriaMetrics answers a query for the last second as of one second ago
// (its minimum -search.latencyOffset, even when set to 0): a test that
// imports a sample stamped "now" and queries at "now" at once sees the sample
// before it. Place test data at least a second in the past.
//
// Missing binaries fail the test with a hint to run
// scripts/install-test-deps.sh; they never skip it.
//
// It is test plumbing: it imports nothing of ours and must never be imported
// by non-test code.
package tsdbtest
