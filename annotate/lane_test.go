package annotate_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
)

func TestFastLane(t *testing.T) {
	tests := []struct {
		name     string
		titles   []string
		wantTags []string // of dark and config
		fast     bool
	}{
		{"no changes", nil, nil, false},
		{"code", []string{"fix the cart"}, nil, false},
		{"dark", []string{"DARK new flow"}, []string{"dark"}, true},
		{"config only", []string{"CONFIG raise the pool", "CONFIG timeouts"}, []string{"config"}, true},
		{"config and code", []string{"CONFIG raise the pool", "fix the cart"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dep("a", "prod", gohere.StageFull, -time.Minute, 0, tt.titles...)
			if got := annotate.FastLane(d); got != tt.fast {
				t.Errorf("FastLane = %v, want %v", got, tt.fast)
			}
			var lane []string
			for _, tag := range annotate.Tags(d) {
				if tag == "dark" || tag == "config" {
					lane = append(lane, tag)
				}
			}
			if !slices.Equal(lane, tt.wantTags) {
				t.Errorf("lane tags %v, want %v", lane, tt.wantTags)
			}
		})
	}
}

// TestConfigOnlyRanksLast: like DARK, a config-only deploy is the least
// likely cause of an alert.
func TestConfigOnlyRanksLast(t *testing.T) {
	alert := gohere.Alert{Name: "HighLatency", Service: "checkout", Env: "prod", StartsAt: alertAt}
	got := annotate.Correlate(alert, []gohere.Deploy{
		dep("config-canary", "prod", gohere.StageCanary, -time.Minute, 0, "CONFIG pool size"),
		dep("old-finished", "prod", gohere.StageFull, -50*time.Minute, -40*time.Minute),
	}, annotate.DefaultCorrelationWindow)
	if want := []string{"old-finished", "config-canary"}; !slices.Equal(ids(got), want) {
		t.Fatalf("correlated %v, want %v", ids(got), want)
	}
	if !strings.Contains(got[1].Reason, "config-only canary") {
		t.Errorf("reason %q: want it to say config-only", got[1].Reason)
	}
}
