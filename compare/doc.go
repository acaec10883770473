// Package compare builds the GO HERE link: it picks the baseline version a
// deploy is compared with, builds the Grafana comparison URL (or the URL of
// gohere's built-in compare page when no Grafana is configured), and models
// that built-in page: its query, the PromQL signals it draws and their
// resolved queries.
//
// It is pure: no clock, no network, no database. It imports only the domain
// package gohere of ours, and never database/sql, gin or internal/...
package compare
