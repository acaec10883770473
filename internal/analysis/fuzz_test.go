package analysis_test

import (
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
)

// FuzzPrepare feeds arbitrary canary configs to Prepare: it accepts them
// with a usable schedule or rejects them as Invalid (or TooLarge), and
// never panics.
func FuzzPrepare(f *testing.F) {
	f.Add([]byte(canaryYAML + "  lifetime: 30m\n  interval: 5m\n  warmup: 2m\n"))
	f.Add([]byte(canaryYAML + "  lifetime: 1h\n  mode: before_after\n  offset: 24h\n  lookback: 10m\n"))
	f.Add([]byte("metrics:\n  - name: e\n    numerator: 'a{v=\"{{.Baseline}}\"}'\n    denominator: '{{.Vars.x}}'\nanalysis:\n  lifetime: 1m\n  vars: {x: y}\n"))
	f.Add([]byte("metrics:\n  - name: m\n    query: '{{template \"x\"}}'\nanalysis:\n  lifetime: 1m\n"))
	f.Add([]byte(`{"metrics":[{"name":"m","query":"{{.Role}}"}],"analysis":{"lifetime":"2m","interval":"1s"}}`))
	// One query for both sides: refused in concurrent mode, fine before_after.
	f.Add([]byte("metrics:\n  - name: m\n    query: 'up{service=\"{{.Service}}\"}'\nanalysis:\n  lifetime: 1m\n"))
	f.Add([]byte("metrics:\n  - name: m\n    query: 'up{service=\"{{.Service}}\"}'\nanalysis:\n  lifetime: 1m\n  mode: before_after\n  offset: 1h\n"))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := gohere.Deploy{ID: "d1", Service: "checkout", Env: "prod", Version: "v2", BaselineVersion: "v1", StartedAt: now}
	f.Fuzz(func(t *testing.T, config []byte) {
		a, err := analysis.Prepare(d, config, time.Time{}, time.Time{}, now)
		if err != nil {
			if k := gohere.KindOf(err); k != gohere.Invalid && k != gohere.TooLarge {
				t.Fatalf("Prepare: %v (kind %v), want Invalid", err, k)
			}
			return
		}
		if !a.EndAt.After(a.StartAt) || a.Config != string(config) || a.CanaryVersion != "v2" || a.Retrospective {
			t.Fatalf("Prepare accepted %q as %+v", config, a)
		}
	})
}
