// Package client is the HTTP client the CLI uses to talk to a gohere server's
// /api/v1. It maps error responses back to gohere error kinds so the CLI
// exits with the documented codes, and propagates the CI job's trace context.
//
// It must not import internal/server or internal/store: it speaks only HTTP.
package client
