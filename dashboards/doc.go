// Package dashboards builds gohere's Grafana dashboards (the baseline-versus-
// canary comparison the GO HERE link opens, and the deploy overview), writes
// them as files for provisioning, and installs them through a small client
// interface that the mandated Grafana API client satisfies.
//
// The dashboards are generated from Go values, so the output is deterministic
// and the comparison panels draw the same signals as gohere's built-in compare
// page (compare.DefaultSignals). It imports gohere and compare of ours, and
// never database/sql, gin or internal/...
package dashboards
