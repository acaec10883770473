package gohere_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
)

// aliasBomb is the 8-level "billion laughs" of issue 13 (about 1.2 KB): ten
// aliases of the level below on every level, 10^8 nodes expanded, under the
// given top-level key.
func aliasBomb(key string) string {
	var b strings.Builder
	b.WriteString("laughter0: &laughter0 [" + strings.TrimSuffix(strings.Repeat(`"lol", `, 10), ", ") + "]\n")
	for i := 1; i <= 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*laughter%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "laughter%d: &laughter%d [%s]\n", i, i, refs)
	}
	b.WriteString(key + ": *laughter8\n")
	return b.String()
}

func TestCheckYAMLAliases(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string // "" means accepted
	}{
		{"no aliases", "metrics: [{name: a, query: q}]\n", ""},
		{"shared definitions", "common: &c {direction: increase, groups: [latency]}\nmetrics:\n  - {name: a, <<: *c}\n  - {name: b, <<: *c}\n", ""},
		{"aliases up to the cap", "a: &a [" + strings.TrimSuffix(strings.Repeat("1,", 99), ",") + "]\nb: [" + strings.TrimSuffix(strings.Repeat("*a,", 99), ",") + "]\n", ""},
		{"8-level bomb", aliasBomb("metrics"), "line 4, column "},
		{"bomb through merge keys", "a: &a {x: 1, y: 2, z: 3, w: 4, v: 5, u: 6, t: 7, s: 8, r: 9, q: 10}\n" +
			"b: &b {k1: *a, k2: *a, k3: *a, k4: *a, k5: *a, k6: *a, k7: *a, k8: *a, k9: *a, k10: *a}\n" +
			"c: &c {k1: *b, k2: *b, k3: *b, k4: *b, k5: *b, k6: *b, k7: *b, k8: *b, k9: *b, k10: *b}\n" +
			"d: {<<: *c, e: *c, f: *c, g: *c, h: *c, i: *c, j: *c, k: *c, l: *c, m: *c}\n", "aliases expand beyond"},
		// The largest anchor of a name counts, wherever it is defined.
		{"redefined anchor", "x: &a 1\ny: [" + strings.TrimSuffix(strings.Repeat("*a,", 50), ",") + "]\nz: &a [" + strings.TrimSuffix(strings.Repeat("1,", 200), ",") + "]\n", "line 2, column "},
		{"across documents", "a: &a [" + strings.TrimSuffix(strings.Repeat("1,", 200), ",") + "]\n---\nb: [" + strings.TrimSuffix(strings.Repeat("*a,", 60), ",") + "]\n", "aliases expand beyond"},
		{"self reference", "a: &a [1, *a]\nb: *a\n", ""},
		{"unknown alias", "a: *nope\n", ""},
		{"not YAML", "a: [\n", ""},
		{"empty", "", ""},
		{"anchor only", "base: &b {a: 1, b: 2}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := gohere.CheckYAMLAliases([]byte(tt.yaml))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckYAMLAliases = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckYAMLAliases = nil, want an error with %q", tt.wantErr)
			}
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind = %v, want invalid", k)
			}
			want := fmt.Sprintf("aliases expand beyond %d nodes", gohere.MaxYAMLAliasNodes)
			for _, w := range []string{tt.wantErr, want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestCheckYAMLAliasesBounded: the bomb is refused in linear time and
// memory, not by expanding it.
func TestCheckYAMLAliasesBounded(t *testing.T) {
	bomb := []byte(aliasBomb("metrics"))
	if n := len(bomb); n < 1000 || n > 1400 {
		t.Fatalf("bomb is %d bytes, want about 1.2 KB", n)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := gohere.CheckYAMLAliases(bomb)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("bomb accepted")
	}
	if took > time.Second {
		t.Errorf("took %v, want well under a second", took)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("allocated %d bytes, want under 8 MiB", alloc)
	}
}
