// Package amtest runs a real Alertmanager (Debian's
// prometheus-alertmanager) for tests, on loopback with its data in a temp
// dir, configured to send every alert to one webhook receiver.
package amtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/freeport"
)

// Alertmanager is one running Alertmanager.
type Alertmanager struct {
	URL string // its API, e.g. http://127.0.0.1:39093
	log *bytes.Buffer
}

// Receiver is where Alertmanager sends: a webhook URL and the basic-auth
// credentials it sends along (empty: none).
type Receiver struct {
	URL                string
	Username, Password string
}

// Start runs Alertmanager until the end of the test. Groups are sent
// quickly (group_wait 200ms, group_interval 1s) and resolutions too.
func Start(t *testing.T, r Receiver) *Alertmanager {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if bin, err = exec.LookPath("alertmanager"); err != nil {
			t.Fatalf("no prometheus-alertmanager in PATH: run scripts/install-test-deps.sh")
		}
	}
	dir := t.TempDir()
	auth := ""
	if r.Password != "" {
		auth = fmt.Sprintf("\n        http_config:\n          basic_auth: {username: %q, password: %q}", r.Username, r.Password)
	}
	config := fmt.Sprintf(`route:
  receiver: gohere
  group_by: [alertname, service, env]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: gohere
    webhook_configs:
      - url: %q
        send_resolved: true%s
`, r.URL, auth)
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	am := &Alertmanager{URL: "http://127.0.0.1:" + strconv.Itoa(port), log: &bytes.Buffer{}}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--cluster.listen-address=", "--log.level=debug")
	cmd.Stdout, cmd.Stderr = am.log, am.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", am.log)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return am
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready after 30s: %v\n%s", err, am.log)
		}
	}
}

// Alert is an alert as Alertmanager's API v2 takes it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Push posts alerts to /api/v2/alerts, as Prometheus does.
func (am *Alertmanager) Push(t *testing.T, alerts ...Alert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("push alerts: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push alerts: HTTP %d", resp.StatusCode)
	}
}
