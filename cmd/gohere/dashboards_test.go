package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gapi "github.com/grafana/grafana-api-golang-client"

	"github.com/gohere/gohere/internal/grafanatest"
)

// runCmd runs one command line with the environment of the test.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDashboardsExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, out, stderr := runCmd(t, "dashboards", "export", dir, "--version-label", "app_version")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	want := "wrote " + filepath.Join(dir, "gohere-compare.json") + "\nwrote " + filepath.Join(dir, "gohere-deploys.json") + "\n"
	if out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "gohere-compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID string `json:"uid"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.UID != "gohere-compare" {
		t.Errorf("exported file: uid %q, err %v", d.UID, err)
	}
	if !strings.Contains(string(b), `app_version=\"$canary\"`) {
		t.Error("--version-label not honoured")
	}
}

func TestDashboardsErrors(t *testing.T) {
	const secret = "glsa_s3cr3t-token-value"
	// A Grafana that refuses the token and echoes it, as some proxies do: the
	// message must not show it.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"invalid token `+r.Header.Get("Authorization")+`"}`, http.StatusUnauthorized)
	}))
	t.Cleanup(echo.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		want  string // in the one stderr line
		wantN string // must not appear
	}{
		{name: "no grafana url", env: map[string]string{"GOHERE_GRAFANA_TOKEN": secret},
			args: []string{"dashboards", "install"}, want: "no Grafana: set --grafana-url"},
		{name: "not an http url", env: map[string]string{"GOHERE_GRAFANA_TOKEN": secret},
			args: []string{"dashboards", "install", "--grafana-url", "ftp://user:pw@grafana"}, want: "want an http(s) URL", wantN: "pw"},
		{name: "no token", args: []string{"dashboards", "install", "--grafana-url", echo.URL}, want: "no Grafana token"},
		{name: "empty token file", args: []string{"dashboards", "install", "--grafana-url", echo.URL, "--grafana-token-file", emptyFile}, want: "is empty"},
		{name: "missing token file", args: []string{"dashboards", "install", "--grafana-url", echo.URL, "--grafana-token-file", filepath.Join(t.TempDir(), "nope")}, want: "--grafana-token-file"},
		{name: "bad label", env: map[string]string{"GOHERE_GRAFANA_TOKEN": secret},
			args: []string{"dashboards", "install", "--grafana-url", echo.URL, "--env-label", "env-name"}, want: "env_label"},
		{name: "token refused and echoed: redacted", args: []string{"dashboards", "install", "--grafana-url", echo.URL, "--grafana-token-file", tokenFile},
			want: "token was refused", wantN: secret},
		{name: "token from env refused: redacted", env: map[string]string{"GOHERE_GRAFANA_TOKEN": secret},
			args: []string{"dashboards", "install", "--grafana-url", echo.URL}, want: "[redacted]", wantN: secret},
		{name: "grafana down", env: map[string]string{"GOHERE_GRAFANA_TOKEN": secret},
			args: []string{"dashboards", "install", "--grafana-url", closed, "--timeout", "5s"}, want: "grafana: list folders", wantN: secret},
		{name: "export without dir", args: []string{"dashboards", "export"}, want: "want a directory"},
		{name: "export bad label", args: []string{"dashboards", "export", t.TempDir(), "--service-label", "0"}, want: "service_label"},
		{name: "unknown flag", args: []string{"dashboards", "install", "--grafana-token", secret}, want: "unknown flag", wantN: secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOHERE_GRAFANA_TOKEN", tt.env["GOHERE_GRAFANA_TOKEN"])
			t.Setenv("GOHERE_GRAFANA_URL", "")
			code, out, stderr := runCmd(t, tt.args...)
			if code != exitError {
				t.Errorf("exit %d, want %d (stdout %q)", code, exitError, out)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q: want one line containing %q", stderr, tt.want)
			}
			if tt.wantN != "" && strings.Contains(stderr+out, tt.wantN) {
				t.Errorf("output shows %q: %q", tt.wantN, stderr)
			}
		})
	}
}

func TestDashboardsHelpListsSubcommands(t *testing.T) {
	code, out, _ := runCmd(t, "dashboards", "--help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var got []string
	for _, sub := range []string{"install", "export"} {
		if strings.Contains(out, sub) {
			got = append(got, sub)
		}
	}
	if diff := cmp.Diff([]string{"install", "export"}, got); diff != "" {
		t.Errorf("help (-want +got):\n%s\n%s", diff, out)
	}
}

// TestDashboardsInstallAgainstGrafana installs into the Grafana double, which
// checks every request against Grafana's OpenAPI description, and shows that
// installing is idempotent: unchanged dashboards are left alone, changed ones
// kept unless --overwrite, and nothing is ever duplicated.
func TestDashboardsInstallAgainstGrafana(t *testing.T) {
	srv := grafanatest.New(t, grafanatest.Options{Token: "glsa_test-token"})
	t.Setenv("GOHERE_GRAFANA_TOKEN", srv.Token())
	t.Setenv("GOHERE_GRAFANA_URL", srv.URL())
	api, err := gapi.New(srv.URL(), gapi.Config{APIKey: srv.Token()})
	if err != nil {
		t.Fatal(err)
	}
	stored := func(uid string) *gapi.Dashboard {
		t.Helper()
		d, err := api.DashboardByUID(uid)
		if err != nil {
			t.Fatalf("get %s: %v", uid, err)
		}
		return d
	}
	install := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCmd(t, append([]string{"dashboards", "install"}, args...)...)
		if code != exitOK {
			t.Fatalf("install %v: exit %d, stderr %q", args, code, stderr)
		}
		return out
	}
	wantLines := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	counts := func(folders, dashboards int) {
		t.Helper()
		if f, d := len(srv.Folders()), len(srv.Dashboards()); f != folders || d != dashboards {
			t.Errorf("Grafana has %d folders and %d dashboards, want %d and %d", f, d, folders, dashboards)
		}
	}
	versions := func() map[string]int {
		v := map[string]int{}
		for _, d := range srv.Dashboards() {
			v[d.UID] = d.Version
		}
		return v
	}

	// First install: folder and both dashboards created.
	wantLines(install(), `folder "gohere"`, ": created\n", "gohere-compare: created", "gohere-deploys: created")
	counts(1, 2)
	folders, err := api.Folders()
	if err != nil || len(folders) != 1 || folders[0].Title != "gohere" {
		t.Fatalf("folders %+v, %v; want one titled gohere", folders, err)
	}
	cmp1 := stored("gohere-compare")
	if cmp1.Meta.FolderUID != folders[0].UID {
		t.Errorf("gohere-compare in folder %q, want %q", cmp1.Meta.FolderUID, folders[0].UID)
	}

	// Second install, through a Grafana that fails once (retried): nothing
	// changes, not even the dashboards' versions.
	before := versions()
	srv.FailNext(1, http.StatusServiceUnavailable)
	wantLines(install(), ": found\n", "gohere-compare: unchanged", "gohere-deploys: unchanged")
	counts(1, 2)
	if diff := cmp.Diff(before, versions()); diff != "" {
		t.Errorf("versions changed on an unchanged install (-before +after):\n%s", diff)
	}

	// Other label names without --overwrite: the installed dashboard is kept.
	wantLines(install("--version-label", "app_version"), "gohere-compare: kept", "gohere-deploys: unchanged")
	if strings.Contains(exprs(stored("gohere-compare")), "app_version") {
		t.Error("kept dashboard was changed")
	}

	// With --overwrite: replaced in place, same uid, no duplicate, no conflict.
	wantLines(install("--version-label", "app_version", "--overwrite"), "gohere-compare: updated", "gohere-deploys: unchanged")
	counts(1, 2)
	if diff := cmp.Diff(map[string]int{"gohere-compare": 2, "gohere-deploys": 1}, versions()); diff != "" {
		t.Errorf("versions after one overwrite (-want +got):\n%s", diff)
	}
	if !strings.Contains(exprs(stored("gohere-compare")), `app_version="$canary"`) {
		t.Error("overwrite did not change the queries")
	}
	wantLines(install("--version-label", "app_version", "--overwrite"), "gohere-compare: unchanged")

	// Edited in Grafana: kept, then restored by --overwrite.
	edited := stored("gohere-deploys")
	edited.Model["title"] = "my deploys"
	if _, err := api.NewDashboard(gapi.Dashboard{Model: edited.Model, FolderUID: edited.Meta.FolderUID, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	wantLines(install("--version-label", "app_version"), "gohere-deploys: kept")
	if got := stored("gohere-deploys").Model["title"]; got != "my deploys" {
		t.Errorf("title %v, want the user's edit kept", got)
	}
	wantLines(install("--version-label", "app_version", "--overwrite"), "gohere-deploys: updated")
	if got := stored("gohere-deploys").Model["title"]; got != "gohere: deploys" {
		t.Errorf("title %v after --overwrite, want gohere: deploys", got)
	}
	counts(1, 2)

	// Another folder title: a second folder, the dashboards move there.
	wantLines(install("--folder", "Platform / gohere", "--version-label", "app_version", "--overwrite"),
		`folder "Platform / gohere"`, ": created\n", "gohere-compare: updated")
	counts(2, 2)

	// A Grafana that hangs: the --timeout ends the install, exit 3.
	srv.Hang(time.Minute)
	code, _, stderr := runCmd(t, "dashboards", "install", "--timeout", "300ms")
	srv.Hang(0)
	if code != exitError || !strings.Contains(stderr, "deadline exceeded") {
		t.Errorf("hanging Grafana: exit %d, stderr %q; want 3 and the deadline", code, stderr)
	}

	// A refused token: exit 3, and the token is never shown.
	t.Setenv("GOHERE_GRAFANA_TOKEN", "glsa_wrong-token")
	code, out, stderr := runCmd(t, "dashboards", "install")
	if code != exitError || strings.Contains(stderr+out, "glsa_") {
		t.Errorf("wrong token: exit %d, output %q %q; want exit 3 without the token", code, out, stderr)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("requests Grafana would not accept: %q", v)
	}
}

func exprs(d *gapi.Dashboard) string {
	var b strings.Builder
	panels, _ := d.Model["panels"].([]any)
	for _, p := range panels {
		targets, _ := p.(map[string]any)["targets"].([]any)
		for _, tg := range targets {
			e, _ := tg.(map[string]any)["expr"].(string)
			b.WriteString(e + "\n")
		}
	}
	return b.String()
}
