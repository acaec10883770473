package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/judge"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mins(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

func loadConfig(t *testing.T, yaml string) judge.Config {
	t.Helper()
	cfg, err := judge.LoadConfig(strings.NewReader(yaml))
	if err != nil {
		t.Fatalf("LoadConfig: %v\n%s", err, yaml)
	}
	return cfg
}

const metricsYAML = `metrics:
  - name: latency
    query: 'latency{version="{{.Version}}"}'
`

func TestPlan(t *testing.T) {
	type iv struct {
		Due              time.Time
		Canary, Baseline Window
	}
	w := func(a, b float64) Window { return Window{mins(a), mins(b)} }
	for _, tc := range []struct {
		name     string
		analysis string
		end      time.Time
		want     []iv
	}{
		{"growing after warm-up", "lifetime: 5m\n  interval: 1m\n  warmup: 1m", time.Time{}, []iv{
			{mins(2), w(1, 2), w(1, 2)}, {mins(3), w(1, 3), w(1, 3)}, {mins(4), w(1, 4), w(1, 4)}, {mins(5), w(1, 5), w(1, 5)},
		}},
		{"sliding", "lifetime: 5m\n  interval: 1m\n  warmup: 1m\n  lookback: 90s", time.Time{}, []iv{
			{mins(2), w(1, 2), w(1, 2)}, {mins(3), w(1.5, 3), w(1.5, 3)}, {mins(4), w(2.5, 4), w(2.5, 4)}, {mins(5), w(3.5, 5), w(3.5, 5)},
		}},
		{"last interval cut at the end", "lifetime: 5m\n  interval: 3m", time.Time{}, []iv{
			{mins(3), w(0, 3), w(0, 3)}, {mins(5), w(0, 5), w(0, 5)},
		}},
		{"no interval: one judgement at the end", "lifetime: 30m\n  warmup: 5m", time.Time{}, []iv{
			{mins(30), w(5, 30), w(5, 30)},
		}},
		{"before_after shifts the baseline", "lifetime: 2m\n  interval: 1m\n  mode: before_after\n  offset: 1h", time.Time{}, []iv{
			{mins(1), w(0, 1), w(-60, -59)}, {mins(2), w(0, 2), w(-60, -58)},
		}},
		{"an end overrides the lifetime", "lifetime: 5m\n  interval: 1m", mins(2), []iv{
			{mins(1), w(0, 1), w(0, 1)}, {mins(2), w(0, 2), w(0, 2)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, metricsYAML+"analysis:\n  "+tc.analysis+"\n")
			end := tc.end
			if end.IsZero() {
				end = t0.Add(time.Duration(cfg.Analysis.Lifetime))
			}
			p, err := newPlan(cfg, t0, end)
			if err != nil {
				t.Fatalf("newPlan: %v", err)
			}
			var got []iv
			for seq := 1; seq <= p.n; seq++ {
				c, b := p.windows(seq)
				got = append(got, iv{p.due(seq), c, b})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("schedule (-want +got):\n%s", diff)
			}
			if last := p.deadline(p.n); !last.Equal(p.due(p.n).Add(p.interval)) {
				t.Errorf("deadline of the last interval = %v, want one interval after its due time", last)
			}
			if p.n > 1 && !p.deadline(1).Equal(p.due(2)) {
				t.Errorf("deadline(1) = %v, want due(2) = %v", p.deadline(1), p.due(2))
			}
		})
	}
}

func TestPlanRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		analysis string
		end      time.Time
	}{
		{"warm-up eats the window", "lifetime: 1h\n  warmup: 10m", mins(10)},
		{"too many intervals", "lifetime: 24h\n  interval: 1s", mins(24 * 60)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, metricsYAML+"analysis:\n  "+tc.analysis+"\n")
			if _, err := newPlan(cfg, t0, tc.end); gohere.KindOf(err) != gohere.Invalid {
				t.Errorf("newPlan = %v, want an Invalid error", err)
			}
		})
	}
}
