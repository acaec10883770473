package main

import (
	"bytes"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/tsdbtest"
)

// TestJudgeKayentaLiveBehindGateway: a Kayenta canary config as Spinnaker
// exports it runs live, unedited, with `gohere judge --source` against a
// real VictoriaMetrics behind an HTTPS gateway that wants a bearer token and
// a tenant header: the ${scope} and ${location} of its templates become the
// versions and the env, and the canary's 50 % slower latency fails it.
func TestJudgeKayentaLiveBehindGateway(t *testing.T) {
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	var data []tsdbtest.Sample
	for _, side := range []struct {
		version        string
		latency, phase float64
	}{{"v1", 0.100, 0}, {"v2", 0.150, 0.5}} {
		lat := tsdbtest.Sample{Labels: map[string]string{"__name__": "request_latency_seconds", "service": "checkout", "env": "prod", "version": side.version}}
		cpu := tsdbtest.Sample{Labels: map[string]string{"__name__": "process_cpu_ratio", "service": "checkout", "env": "prod", "version": side.version, "mode": "user"}}
		for k := range 181 {
			ts := start.Add(time.Duration(k) * 10 * time.Second).UnixMilli()
			noise := math.Mod(float64(k)*0.618+side.phase, 1) // spread over [0, 1)
			lat.Timestamps, lat.Values = append(lat.Timestamps, ts), append(lat.Values, side.latency+0.01*noise)
			cpu.Timestamps, cpu.Values = append(cpu.Timestamps, ts), append(cpu.Values, 0.5+0.05*noise)
		}
		data = append(data, lat, cpu)
	}
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, data)
	gateway, caFile := tsdbtest.Gateway(t, vm.URL(), http.Header{"Authorization": {"Bearer s3cret-token"}, "X-Scope-OrgID": {"team-a"}}, true)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	judgeArgs := func(extra ...string) []string {
		return append([]string{"judge", "--config", "../../judge/testdata/config/valid/kayenta-live.json", "--source", gateway,
			"--service", "checkout", "--env", "prod", "--baseline", "v1", "--canary", "v2",
			"--from", start.Add(time.Minute).Format(time.RFC3339), "--to", start.Add(29 * time.Minute).Format(time.RFC3339)}, extra...)
	}
	auth := []string{"--prometheus-bearer-token-file", tokenFile, "--prometheus-header", "X-Scope-OrgID: team-a", "--prometheus-ca-file", caFile}

	var stdout, stderr bytes.Buffer
	code := run(t.Context(), judgeArgs(auth...), strings.NewReader(""), &stdout, &stderr)
	out := stdout.String()
	if code != exitFail || !strings.Contains(out, "Verdict: Fail") {
		t.Fatalf("exit %d, want %d (Fail)\nstdout:\n%s\nstderr: %s", code, exitFail, out, stderr.String())
	}
	for _, q := range []string{
		`avg(request_latency_seconds{service="checkout",version="v2",env="prod"})`,
		`quantile_over_time(0.9, request_latency_seconds{service="checkout",version="v1",env="prod"}[1m])`,
		`avg(process_cpu_ratio{service="checkout",env="prod",version="v2",mode="user"})`,
	} {
		if !strings.Contains(out, q) {
			t.Errorf("the report lacks the resolved query %s:\n%s", q, out)
		}
	}

	for _, c := range []struct {
		name string
		args []string
		want string // on stderr, one line
	}{
		{"no tenant", []string{"--prometheus-bearer-token-file", tokenFile, "--prometheus-ca-file", caFile}, "401"},
		{"hop-by-hop header", append(auth[:4:4], "--prometheus-header", "Connection: close"), "Connection"},
		{"missing token file", []string{"--prometheus-bearer-token-file", "/nonexistent/token"}, "/nonexistent/token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), judgeArgs(c.args...), strings.NewReader(""), &stdout, &stderr)
			if code != exitError || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), c.want) ||
				strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("exit %d, stderr %q; want exit %d, one line naming %q, no token", code, stderr.String(), exitError, c.want)
			}
		})
	}
}
