// Package prom is a small client of the Prometheus HTTP API (/api/v1/query
// and /api/v1/query_range) for Prometheus, VictoriaMetrics, Mimir and Thanos.
//
// Recipe:
//
//	c, err := prom.New(prom.Options{URL: "http://vm:8428", BearerToken: tok})
//	tenant, err := prom.ParseHeaders([]string{"X-Scope-OrgID: team-a"})
//	c, err = prom.New(prom.Options{URL: "https://mimir/prometheus", BearerTokenFile: "/run/token",
//		Headers: tenant, CAFile: "/etc/ssl/private-ca.pem"})
//	series, err := c.QueryRange(ctx, q, start, end, prom.Step(start, end, 30*time.Second))
//	if prom.Retryable(err) { /* the store is down or slow: try again later */ }
//
// Errors carry a gohere.Kind: Invalid for a bad query or URL (retrying will
// not help), Unavailable for a store that is down, slow or failing
// (Retryable), Unauthorized for rejected credentials. Credentials never
// appear in errors.
//
// It imports gohere only (of ours); the analysis runner reaches it through its
// own small interface.
package prom
