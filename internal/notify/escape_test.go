package notify

import (
	"strings"
	"testing"
)

// TestNamesStayCopyable: formatting characters inside a word never format
// in mrkdwn, so they stay bare and a name copied from a message is the
// name; at a word's edge they are disarmed.
func TestNamesStayCopyable(t *testing.T) {
	for _, s := range []string{"latency_p99", "v1_4~2", "ops@example.com", "a*b*c", "snake_case_name"} {
		if got := text(s, 100); got != s {
			t.Errorf("text(%q) = %q; want it unchanged", s, got)
		}
	}
	for _, s := range []string{"*bold*", "_it_", "~gone~", "`code`", "@here", "x *y* z"} {
		if got := text(s, 100); !strings.Contains(got, zwsp) {
			t.Errorf("text(%q) = %q; want its formatting disarmed", s, got)
		}
	}
}
