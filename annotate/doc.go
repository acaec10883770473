// Package annotate marks deploys on Grafana: the tag rules and text of a
// deploy's region annotation, and the Grafana writer behind the outbox.
//
// Tags and ForDeploy are pure (the caller passes the clock). Grafana wraps
// the mandated client, github.com/grafana/grafana-api-golang-client v0.27.0,
// which has no context: every call builds a client whose transport puts the
// caller's ctx back on each request (cancellation, timeout, otelhttp span
// parents) and turns off the client's own retries, because retrying belongs
// to gohere's durable outbox. Errors carry gohere kinds (Unavailable is the
// retryable one) and never contain the token.
//
// A domain package: it imports only the root gohere package of ours, never
// database/sql, gin or internal/....
package annotate
