// Package server is gohere's HTTP face (gin): the JSON API under /api/v1
// with bearer-token auth, /healthz, /readyz, /metrics and the read-only HTML
// pages (deploy timeline, deploy page). Error kinds become HTTP statuses in
// one place (statusOf).
//
// It imports the domain package gohere and internal/auth and
// internal/telemetry; the store is reached through the small interfaces
// declared here, never by importing internal/store.
package server
