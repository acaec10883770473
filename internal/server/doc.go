// Package server is gohere's HTTP face (gin): the JSON API under /api/v1
// with bearer-token auth, the gate that pipelines and rollout controllers
// long-poll, the Flagger webhooks under /hooks/flagger, /healthz, /readyz,
// /metrics and the HTML pages (deploy timeline, deploy report with the
// Approve / Halt form for a signed-in person, compare page, sign-in).
// Error kinds become HTTP statuses in one place (statusOf).
//
// It imports the domain packages and internal/auth, internal/analysis and
// internal/telemetry; the database is reached through the small interfaces
// declared here (it uses internal/store's types, never its connections).
package server
