package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/tsdbtest"
)

// TestStartLogSaysWhatItUses: the start log names the metric store, Grafana
// and public URL (without passwords), warns when links would name a
// wildcard address, and says whether the metric store answers — a store
// that does not is a warning, and the server serves anyway.
func TestStartLogSaysWhatItUses(t *testing.T) {
	vm := tsdbtest.StartVictoriaMetrics(t)
	for _, tt := range []struct {
		name     string
		opts     Options
		want     []string
		wantNot  []string
		lastLine string // the store check's line, which comes last
	}{
		{
			name: "wildcard listen without public URL, store down",
			opts: Options{Listen: "0.0.0.0:0", PrometheusURL: "http://vm:s3cr3t@127.0.0.1:1"},
			want: []string{`msg="gohere serving"`, `metric_store=http://vm:xxxxx@127.0.0.1:1`, `grafana="none (GO HERE links open the built-in /compare page)"`,
				`level=WARN msg="listening on every interface without --public-url: links will read http://`},
			wantNot:  []string{"s3cr3t"},
			lastLine: `level=WARN msg="metric store does not answer: analyses and the compare page fail until it does"`,
		},
		{
			name: "public URL, Grafana and a store that answers",
			opts: Options{Listen: "[::]:0", PublicURL: "https://gohere.example.com", PrometheusURL: vm.URL(),
				GrafanaURL: "https://grafana.example.com", GrafanaToken: "glsa_token"},
			want:     []string{`url=https://gohere.example.com`, `metric_store=` + vm.URL(), `grafana=https://grafana.example.com`},
			wantNot:  []string{"every interface", "glsa_token"},
			lastLine: `level=INFO msg="metric store answers"`,
		},
		{
			name:    "no store: nothing to check",
			opts:    Options{Listen: "127.0.0.1:0"},
			want:    []string{`metric_store="none (no analyses; the compare page says so)"`},
			wantNot: []string{"every interface", "metric store answers", "does not answer"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A file, not a buffer: slog writes it under its own lock while
			// the test reads it.
			log, err := os.Create(filepath.Join(t.TempDir(), "log"))
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			logged := func() string {
				b, err := os.ReadFile(log.Name())
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			tokens, err := auth.Parse("ci:pipeline:" + ciSecret)
			if err != nil {
				t.Fatal(err)
			}
			opts := tt.opts
			opts.DB, opts.Tokens = filepath.Join(t.TempDir(), "gohere.db"), tokens
			opts.Logger = slog.New(slog.NewTextHandler(log, nil))
			a, err := New(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			if tt.lastLine != "" {
				waitFor(t, "the metric store check", func() bool { return strings.Contains(logged(), tt.lastLine) })
			} else {
				waitFor(t, "the start log", func() bool { return strings.Contains(logged(), "gohere serving") })
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			a.Close()
			got := logged()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("log lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("log shows %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestWildcardHost(t *testing.T) {
	for host, want := range map[string]bool{"": true, "0.0.0.0": true, "::": true, "127.0.0.1": false, "::1": false, "gohere.internal": false, "10.0.0.5": false} {
		if got := wildcardHost(host); got != want {
			t.Errorf("wildcardHost(%q) = %t, want %t", host, got, want)
		}
	}
}
