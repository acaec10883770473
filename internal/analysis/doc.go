// Package analysis runs canary analyses over time: it waits out the
// warm-up, judges every interval of a run on the baseline and canary series
// of a Prometheus-compatible store, stores the evidence, stops early on
// failure and ends with a verdict that waits for a human (or for
// auto_promote).
//
//	a, cfg, err := analysis.Prepare(deploy, configYAML, time.Time{}, time.Time{}, time.Now())
//	a, err = db.CreateAnalysis(ctx, a)                  // internal/store
//	r, err := analysis.NewRunner(analysis.Options{Store: db, Source: promClient, Owner: hostname})
//	go r.Run(ctx)                                        // on every replica
//	r.Notify()                                           // after a create: look now
//
// Replicas share the runs through row leases in the store: a runner claims
// a due analysis, judges its next interval and records it in one
// transaction that succeeds only while its lease is current, so every
// interval is judged once even when a replica dies mid-run (its lease
// ends and another replica takes the run over). Nothing is held while
// waiting: a run that must wait or retry is released with its next due time.
//
// Missing data is never a pass: a query without series is NoData "no series
// for <query>", a metric store that stays down until the next interval is
// due records the interval as NoData with the reason, a query the store
// rejects ends the run in state error.
//
// It imports the domain packages (gohere, judge), the store's types and the
// prom client's series type; it reaches the store and the metric source
// only through the small interfaces Store and Source. It must not import
// gin or net/http handlers.
package analysis
