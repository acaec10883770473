package judge

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
)

// TestLoadConfigAliasBomb: issue 13, defect 1. The 1.4 KB config of nested
// aliases in testdata is refused quickly, not expanded to 10^8 nodes (it
// took 51 s and gigabytes before the cap).
func TestLoadConfigAliasBomb(t *testing.T) {
	const path = "testdata/config/invalid/alias-bomb.yaml"
	bomb, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		load func() error
	}{
		{"LoadConfig", func() error { _, err := LoadConfig(strings.NewReader(string(bomb))); return err }},
		{"LoadConfigFile", func() error { _, err := LoadConfigFile(path); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := within(t, 5*time.Second, tt.load)
			if k := gohere.KindOf(err); err == nil || k != gohere.Invalid {
				t.Fatalf("err = %v (kind %v), want an Invalid error", err, k)
			}
			if want := "aliases expand beyond 10000 nodes"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		})
	}
}

// within runs f and fails the test when it takes longer than d; f keeps
// running in the background then, until the test binary exits.
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
		return nil
	}
}
