// Package replay answers range queries from recordings of what a real
// Prometheus-compatible store answered, so that `gohere demo` runs the
// fixture scenarios through the real analysis runner with no store at all.
//
//	rec, err := replay.Load("healthy")                    // embedded recordings/healthy.json
//	src := replay.New(replay.Placement{Recording: rec, Start: t0})
//	start, end := rec.Window(t0)                          // the analysis window that was recorded
//	series, err := src.QueryRange(ctx, query, from, to, step)
//
// A recording keeps every query of one scenario's analysis, and those of
// the built-in compare page of its canary deploy (started at the scenario's
// start, finished the scenario's Duration later, default signals; over the
// link's range and each of compare.Ranges around the start), with their
// window and step relative to the scenario's start, and the series that
// came back with timestamps relative to it too; placed at another start it
// answers the same queries shifted there, up to now. The store it was
// recorded from held the scenario's series continued on both sides, as a
// service runs before and after its canary: otherwise every compare page
// ended in the spikes rate() makes where a series stops. A query it has no recording of (another
// text, window or step) is an Invalid error, never an empty answer: the
// runner then records the interval as not judged instead of judging
// missing data.
//
// The recordings are made by TestRecordings against a real VictoriaMetrics
// (`go test ./internal/replay -run TestRecordings -update`); without
// -update the same test fails when they no longer match what the store
// answers.
//
// It imports the domain root and the prom client's series type only; it
// must not import the store, the server or the runner.
package replay
