package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/telemetry"
)

func TestCreateDeploy(t *testing.T) {
	e := newEnv(t, nil)
	before := time.Now().Truncate(time.Second)
	w := e.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: `{
		"service": "checkout", "env": "prod", "version": "3f2a1c", "stage": "full",
		"commit": "3f2a1c", "author": "alice", "merged_by": "bob", "pr": "https://git.example/pr/7",
		"changes": [{"commit": "3f2a1c", "author": "alice", "title": "fix tax rounding"}]}`})
	if w.Code != http.StatusCreated {
		t.Fatalf("status %d %s, want 201", w.Code, w.Body)
	}
	// The wire shape: every Deploy field plus the two links, nothing else.
	var raw map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"author", "baseline_version", "changes", "commit", "env", "go_here_url", "id", "merged_by", "pr", "report_url", "service", "stage", "started_at", "status", "version"}
	if diff := cmp.Diff(wantKeys, slices.Sorted(maps.Keys(raw))); diff != "" {
		t.Errorf("response keys (-want +got):\n%s", diff)
	}
	got := decode[server.DeployView](t, w)
	if got.StartedAt.Before(before) || got.StartedAt.After(time.Now()) {
		t.Errorf("started_at %v is not the time of the request", got.StartedAt)
	}
	want := server.DeployView{
		Deploy: gohere.Deploy{
			ID: got.ID, Service: "checkout", Env: "prod", Version: "3f2a1c", Stage: gohere.StageFull,
			Status: gohere.StatusRunning, Commit: "3f2a1c", Author: "alice", MergedBy: "bob", PR: "https://git.example/pr/7",
			Changes:   []gohere.Change{{Commit: "3f2a1c", Author: "alice", Title: "fix tax rounding"}},
			StartedAt: got.StartedAt,
		},
		GoHereURL: "https://grafana.example/d/gohere-compare?var-baseline=&var-canary=3f2a1c",
		ReportURL: "https://gohere.example/deploys/" + got.ID,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created deploy (-want +got):\n%s", diff)
	}
	stored, err := e.db.GetDeploy(t.Context(), got.ID)
	if err != nil || !cmp.Equal(want.Deploy, stored) {
		t.Errorf("stored deploy differs (%v):\n%s", err, cmp.Diff(want.Deploy, stored))
	}
	if n := e.changed.Load(); n != 1 {
		t.Errorf("OnDeployChanged called %d times, want 1", n)
	}
	if g := e.do(t, req{method: "GET", path: "/api/v1/deploys/" + got.ID, token: humanSecret}); g.Code != http.StatusOK ||
		!cmp.Equal(got, decode[server.DeployView](t, g)) {
		t.Errorf("GET the created deploy: %d %s", g.Code, g.Body)
	}
}

// TestBadInput sends every kind of bad request and checks the status, that
// the error says why, and that nothing was written.
func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	big := `{"service":"checkout","env":"prod","version":"v1","pr":"` + strings.Repeat("x", server.MaxBodyBytes) + `"}`
	changes := make([]string, gohere.MaxChanges+1)
	for i := range changes {
		changes[i] = fmt.Sprintf(`{"commit":"c%d"}`, i)
	}
	for _, tc := range []struct {
		name        string
		body        string
		contentType string
		header      map[string]string
		chunked     bool // no Content-Length: the limit must hold while reading
		status      int
		msg         string
	}{
		{"malformed JSON", `{"service": "checkout",`, "", nil, false, 400, "malformed JSON"},
		{"not an object", `["checkout"]`, "", nil, false, 400, "want a JSON object"},
		{"wrong type", `{"service": 7, "env": "prod", "version": "v1"}`, "", nil, false, 400, "service: want a string"},
		{"unknown field", `{"service": "checkout", "env": "prod", "version": "v1", "sevrice": "x"}`, "", nil, false, 400, `unknown field "sevrice"`},
		{"unknown field in a change", `{"service": "checkout", "env": "prod", "version": "v1", "changes": [{"sha": "abc"}]}`, "", nil, false, 400, `unknown field "sha"`},
		{"data after the object", `{"service": "checkout", "env": "prod", "version": "v1"} {"service": "cart"}`, "", nil, false, 400, "data after the object"},
		{"empty body", "", "application/json", nil, false, 400, "empty request body"},
		{"null", `null`, "", nil, false, 400, "service is required"},
		{"missing service", `{"env": "prod", "version": "v1"}`, "", nil, false, 400, "service is required"},
		{"missing env", `{"service": "checkout", "version": "v1"}`, "", nil, false, 400, "env is required"},
		{"missing version", `{"service": "checkout", "env": "prod"}`, "", nil, false, 400, "version is required"},
		{"over-long version", `{"service": "checkout", "env": "prod", "version": "` + strings.Repeat("v", gohere.MaxNameLen+1) + `"}`, "", nil, false, 400, "version is 129 bytes long"},
		{"over-long title", `{"service": "checkout", "env": "prod", "version": "v1", "changes": [{"commit": "a", "title": "` + strings.Repeat("t", gohere.MaxTitleLen+1) + `"}]}`, "", nil, false, 400, "changes[0].title is 513 bytes long"},
		{"too many changes", `{"service": "checkout", "env": "prod", "version": "v1", "changes": [` + strings.Join(changes, ",") + `]}`, "", nil, false, 400, "501 changes"},
		{"comma breaks a tag", `{"service": "check,out", "env": "prod", "version": "v1"}`, "", nil, false, 400, "not allowed"},
		{"colon breaks a tag", `{"service": "checkout", "env": "prod:eu", "version": "v1"}`, "", nil, false, 400, "not allowed"},
		{"newline in a name", `{"service": "checkout", "env": "prod", "version": "v1\nv2"}`, "", nil, false, 400, "not allowed"},
		{"space in baseline", `{"service": "checkout", "env": "prod", "version": "v1", "baseline_version": "v 0"}`, "", nil, false, 400, "not allowed"},
		{"newline in author", `{"service": "checkout", "env": "prod", "version": "v1", "author": "a\nb"}`, "", nil, false, 400, "author must be one line"},
		{"bad stage", `{"service": "checkout", "env": "prod", "version": "v1", "stage": "half"}`, "", nil, false, 400, "want canary or full"},
		{"change without commit", `{"service": "checkout", "env": "prod", "version": "v1", "changes": [{"title": "x"}]}`, "", nil, false, 400, "commit is required"},
		{"idempotency keys differ", `{"service": "checkout", "env": "prod", "version": "v1", "idempotency_key": "a"}`, "", map[string]string{"Idempotency-Key": "b"}, false, 400, "differ"},
		{"over-long idempotency key", `{"service": "checkout", "env": "prod", "version": "v1"}`, "", map[string]string{"Idempotency-Key": strings.Repeat("k", 257)}, false, 400, "idempotency key is 257 bytes long"},
		{"started_at not a time", `{"service": "checkout", "env": "prod", "version": "v1", "started_at": "yesterday"}`, "", nil, false, 400, "malformed JSON"},
		{"started_at a number", `{"service": "checkout", "env": "prod", "version": "v1", "started_at": 1767225600}`, "", nil, false, 400, "malformed JSON"},
		{"started_at in the future", `{"service": "checkout", "env": "prod", "version": "v1", "started_at": "` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"}`, "", nil, false, 400, "is in the future"},
		{"started_at too old", `{"service": "checkout", "env": "prod", "version": "v1", "started_at": "` + time.Now().Add(-31*24*time.Hour).Format(time.RFC3339) + `"}`, "", nil, false, 400, "more than 30 days ago"},
		{"body over 1 MiB", big, "", nil, false, 413, "larger than 1048576 bytes"},
		{"body over 1 MiB, chunked", big, "", nil, true, 413, "larger than 1048576 bytes"},
		{"text/plain", `{"service": "checkout", "env": "prod", "version": "v1"}`, "text/plain", nil, false, 415, "Content-Type must be application/json"},
		{"form", `service=checkout`, "application/x-www-form-urlencoded", nil, false, 415, "Content-Type must be application/json"},
		{"no content type", `{"service": "checkout", "env": "prod", "version": "v1"}`, "-", nil, false, 415, "Content-Type must be application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hr := httptest.NewRequestWithContext(t.Context(), "POST", "/api/v1/deploys", strings.NewReader(tc.body))
			hr.Header.Set("Authorization", "Bearer "+ciSecret)
			switch tc.contentType {
			case "":
				hr.Header.Set("Content-Type", "application/json; charset=utf-8")
			case "-":
			default:
				hr.Header.Set("Content-Type", tc.contentType)
			}
			for k, v := range tc.header {
				hr.Header.Set(k, v)
			}
			if tc.chunked {
				hr.ContentLength = -1
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, hr)
			if w.Code != tc.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if msg := errorBody(t, w); !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not say %q", msg, tc.msg)
			}
		})
	}
	if ds := e.list(t, ""); len(ds) != 0 {
		t.Errorf("after bad requests %d deploys exist, want none", len(ds))
	}
	if n, _, err := e.db.OutboxStats(t.Context(), time.Now()); err != nil || n != 0 {
		t.Errorf("after bad requests the outbox holds %d entries (%v), want none", n, err)
	}
	if n := e.changed.Load(); n != 0 {
		t.Errorf("OnDeployChanged called %d times for rejected requests", n)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	d := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	create := `{"service": "checkout", "env": "prod", "version": "v2"}`
	for _, tc := range []struct {
		name   string
		r      req
		header string // raw Authorization header, overrides r.token
		status int
	}{
		{"no token", req{method: "GET", path: "/api/v1/deploys"}, "", 401},
		{"wrong token", req{method: "GET", path: "/api/v1/deploys", token: "ci-secret-0123456780"}, "", 401},
		{"basic auth", req{method: "GET", path: "/api/v1/deploys"}, "Basic Y2k6Y2ktc2VjcmV0", 401},
		{"bearer without token", req{method: "GET", path: "/api/v1/deploys"}, "Bearer ", 401},
		{"no token, unknown deploy", req{method: "GET", path: "/api/v1/deploys/nope"}, "", 401},
		{"no token, write", req{method: "POST", path: "/api/v1/deploys", body: create}, "", 401},
		{"lower-case scheme", req{method: "GET", path: "/api/v1/deploys/" + d.ID}, "bearer " + humanSecret, 200},
		{"human reads", req{method: "GET", path: "/api/v1/deploys", token: humanSecret}, "", 200},
		{"ci reads", req{method: "GET", path: "/api/v1/deploys/" + d.ID, token: ciSecret}, "", 200},
		{"human may not create", req{method: "POST", path: "/api/v1/deploys", token: humanSecret, body: create}, "", 403},
		{"human may not finish", req{method: "POST", path: "/api/v1/deploys/" + d.ID + "/finish", token: humanSecret, body: `{"status":"failed"}`}, "", 403},
		{"admin creates", req{method: "POST", path: "/api/v1/deploys", token: adminSecret, body: create}, "", 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.header != "" {
				tc.r.header = map[string]string{"Authorization": tc.header}
			}
			w := e.do(t, tc.r)
			if w.Code != tc.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if tc.status >= 400 {
				errorBody(t, w)
			}
			if got := w.Header().Get("WWW-Authenticate"); (tc.status == 401) != strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q with status %d", got, tc.status)
			}
		})
	}
	if got, _ := e.db.GetDeploy(t.Context(), d.ID); !got.Running() {
		t.Errorf("deploy is %s after a forbidden finish, want running", got.Status)
	}
	for _, secret := range []string{ciSecret, humanSecret, adminSecret, "ci-secret-0123456780"} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the log shows a token")
		}
	}
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"service": "checkout", "env": "prod", "version": "v1"}`
	post := func(key, body string) *httptest.ResponseRecorder {
		return e.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: body, header: map[string]string{"Idempotency-Key": key}})
	}
	first := post("run-42", body)
	retry := post("run-42", body)
	if first.Code != 201 || retry.Code != 200 {
		t.Fatalf("statuses %d, %d; want 201 then 200", first.Code, retry.Code)
	}
	if first.Body.String() != retry.Body.String() {
		t.Errorf("the retry's body differs:\n%s\n%s", first.Body, retry.Body)
	}
	// The key in the body works the same.
	inBody := e.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: `{"service": "checkout", "env": "prod", "version": "v1", "idempotency_key": "run-42"}`})
	if inBody.Code != 200 || inBody.Body.String() != first.Body.String() {
		t.Errorf("key in body: %d %s; want the first deploy", inBody.Code, inBody.Body)
	}
	if w := post("run-42", `{"service": "checkout", "env": "prod", "version": "v2"}`); w.Code != 409 {
		t.Errorf("key reused for another version: %d %s, want 409", w.Code, w.Body)
	} else {
		errorBody(t, w)
	}
	if ds := e.list(t, ""); len(ds) != 1 {
		t.Errorf("%d deploys after retries, want 1", len(ds))
	}
	if n := e.changed.Load(); n != 1 {
		t.Errorf("OnDeployChanged called %d times, want 1 (replays change nothing)", n)
	}
}

func TestFinish(t *testing.T) {
	e := newEnv(t, nil)
	d := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	at := d.StartedAt.Add(90 * time.Second)
	w := e.do(t, req{method: "POST", path: "/api/v1/deploys/" + d.ID + "/finish", token: ciSecret,
		body: `{"status": "rolled_back", "finished_at": "` + at.Format(time.RFC3339Nano) + `"}`})
	if w.Code != 200 {
		t.Fatalf("finish: %d %s", w.Code, w.Body)
	}
	got := decode[server.DeployView](t, w)
	if got.Status != gohere.StatusRolledBack || !got.FinishedAt.Equal(at) {
		t.Errorf("finished deploy: status %s at %v; want rolled_back at %v", got.Status, got.FinishedAt, at)
	}
	if !strings.Contains(w.Body.String(), `"finished_at"`) {
		t.Errorf("finished deploy body lacks finished_at: %s", w.Body)
	}

	running := e.create(t, `{"service": "checkout", "env": "prod", "version": "v2"}`)
	path := "/api/v1/deploys/" + running.ID + "/finish"
	for _, tc := range []struct {
		name, path, body, contentType string
		status                        int
		msg                           string
	}{
		{"finish twice", "/api/v1/deploys/" + d.ID + "/finish", `{"status": "succeeded"}`, "", 409, "already finished"},
		{"unknown deploy", "/api/v1/deploys/no-such-deploy/finish", `{"status": "succeeded"}`, "", 404, "not found"},
		{"running is not final", path, `{"status": "running"}`, "", 400, "want one of succeeded"},
		{"no status", path, `{}`, "", 400, "want one of succeeded"},
		{"unknown field", path, `{"status": "failed", "reason": "x"}`, "", 400, `unknown field "reason"`},
		{"bad time", path, `{"status": "failed", "finished_at": "yesterday"}`, "", 400, "malformed JSON"},
		{"before start", path, `{"status": "failed", "finished_at": "2001-01-01T00:00:00Z"}`, "", 400, "before its start"},
		{"in the future", path, `{"status": "failed", "finished_at": "` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"}`, "", 400, "in the future"},
		{"wrong content type", path, `{"status": "failed"}`, "text/plain", 415, "Content-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, req{method: "POST", path: tc.path, token: ciSecret, body: tc.body, contentType: tc.contentType})
			if w.Code != tc.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if msg := errorBody(t, w); !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not say %q", msg, tc.msg)
			}
		})
	}
	if got, _ := e.db.GetDeploy(t.Context(), running.ID); !got.Running() {
		t.Errorf("deploy is %s after rejected finishes, want running", got.Status)
	}
	if n := e.changed.Load(); n != 3 {
		t.Errorf("OnDeployChanged called %d times, want 3 (two creates, one finish)", n)
	}
}

// TestStartedAt records deploys after the fact: the given start is kept,
// finishes before it are refused, the baseline is the last succeeded deploy
// before it, and a start within the clock skew ahead is accepted.
func TestStartedAt(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }

	old := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1", "started_at": "`+at(-3*time.Hour)+`"}`)
	if want := now.Add(-3 * time.Hour).Truncate(time.Microsecond); !old.StartedAt.Equal(want) {
		t.Errorf("started_at %v, want the given %v", old.StartedAt, want)
	}
	if stored, err := e.db.GetDeploy(t.Context(), old.ID); err != nil || !stored.StartedAt.Equal(old.StartedAt) {
		t.Errorf("stored start %v (%v), want %v", stored.StartedAt, err, old.StartedAt)
	}
	w := e.do(t, req{method: "POST", path: "/api/v1/deploys/" + old.ID + "/finish", token: ciSecret,
		body: `{"status": "succeeded", "finished_at": "` + at(-3*time.Hour-time.Second) + `"}`})
	if w.Code != http.StatusBadRequest || !strings.Contains(errorBody(t, w), "before its start") {
		t.Errorf("finish a second before the given start: %d %s, want 400 before its start", w.Code, w.Body)
	}
	w = e.do(t, req{method: "POST", path: "/api/v1/deploys/" + old.ID + "/finish", token: ciSecret,
		body: `{"status": "succeeded", "finished_at": "` + at(-150*time.Minute) + `"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("finish after the given start: %d %s", w.Code, w.Body)
	}
	e.finish(t, e.create(t, `{"service": "checkout", "env": "prod", "version": "v2"}`).ID, "succeeded")

	between := e.create(t, `{"service": "checkout", "env": "prod", "version": "v3", "started_at": "`+at(-2*time.Hour)+`"}`)
	if between.BaselineVersion != "v1" {
		t.Errorf("baseline of a deploy started 2 h ago = %q, want v1 (v2 started after it)", between.BaselineVersion)
	}
	if latest := e.create(t, `{"service": "checkout", "env": "prod", "version": "v4"}`); latest.BaselineVersion != "v2" {
		t.Errorf("baseline of a deploy started now = %q, want v2", latest.BaselineVersion)
	}
	skewed := e.create(t, `{"service": "checkout", "env": "prod", "version": "v5", "started_at": "`+at(time.Minute)+`"}`)
	if want := now.Add(time.Minute).Truncate(time.Microsecond); !skewed.StartedAt.Equal(want) {
		t.Errorf("start a minute ahead (clock skew) = %v, want %v kept", skewed.StartedAt, want)
	}
}

func TestBaselineIsTheLastSucceededVersion(t *testing.T) {
	e := newEnv(t, nil)
	first := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	if first.BaselineVersion != "" {
		t.Errorf("first deploy's baseline = %q, want none", first.BaselineVersion)
	}
	e.finish(t, first.ID, "succeeded")
	e.finish(t, e.create(t, `{"service": "checkout", "env": "prod", "version": "v2"}`).ID, "failed")
	e.finish(t, e.create(t, `{"service": "checkout", "env": "dev", "version": "v9"}`).ID, "succeeded")
	e.create(t, `{"service": "checkout", "env": "prod", "version": "v3"}`) // still running

	got := e.create(t, `{"service": "checkout", "env": "prod", "version": "v4"}`)
	if got.BaselineVersion != "v1" {
		t.Errorf("baseline = %q, want v1 (v2 failed, v3 runs, v9 is in dev)", got.BaselineVersion)
	}
	if !strings.Contains(got.GoHereURL, "var-baseline=v1") {
		t.Errorf("GO HERE %q does not compare with the baseline", got.GoHereURL)
	}
	given := e.create(t, `{"service": "checkout", "env": "prod", "version": "v5", "baseline_version": "v0"}`)
	if given.BaselineVersion != "v0" {
		t.Errorf("explicit baseline = %q, want v0 kept", given.BaselineVersion)
	}
}

func TestGetAndList(t *testing.T) {
	e := newEnv(t, nil)
	var all []server.DeployView
	for _, se := range [][2]string{{"checkout", "prod"}, {"cart", "prod"}, {"checkout", "dev"}, {"checkout", "prod"}} {
		all = append(all, e.create(t, fmt.Sprintf(`{"service": %q, "env": %q, "version": "v%d"}`, se[0], se[1], len(all))))
		time.Sleep(2 * time.Millisecond) // distinct start times: the order is by start
	}
	ids := func(ds []server.DeployView) []string {
		out := []string{}
		for _, d := range ds {
			out = append(out, d.Version)
		}
		return out
	}
	from := all[1].StartedAt.UTC().Format(time.RFC3339Nano)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"v3", "v2", "v1", "v0"}},
		{"?service=checkout", []string{"v3", "v2", "v0"}},
		{"?service=checkout&env=prod", []string{"v3", "v0"}},
		{"?env=prod&limit=2", []string{"v3", "v1"}},
		{"?since=" + from, []string{"v3", "v2", "v1"}},
		{"?until=" + from, []string{"v0"}},
		{"?service=nothing", []string{}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ids(e.list(t, tc.query))); diff != "" {
				t.Errorf("versions listed (-want +got):\n%s", diff)
			}
		})
	}
	if got := e.list(t, "?limit=1"); len(got) != 1 || !cmp.Equal(got[0], all[3]) {
		t.Errorf("list view differs from the created view:\n%s", cmp.Diff(all[3], got))
	}
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/deploys/" + all[0].ID, 200, ""},
		{"/api/v1/deploys/no-such-deploy", 404, "not found"},
		{"/api/v1/nothing-here", 404, "no such route"},
		{"/api/v1/deploys?servce=checkout", 400, `unknown query parameter "servce"`},
		{"/api/v1/deploys?service=a&service=b", 400, "given 2 times"},
		{"/api/v1/deploys?service=a,b", 400, "not allowed"},
		{"/api/v1/deploys?since=yesterday", 400, "RFC 3339"},
		{"/api/v1/deploys?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", 400, "not after"},
		{"/api/v1/deploys?limit=-1", 400, "positive integer"},
		{"/api/v1/deploys?limit=lots", 400, "positive integer"},
		{"/api/v1/deploys?%zz", 400, "query"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := e.do(t, req{method: "GET", path: tc.path, token: humanSecret})
			if w.Code != tc.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if tc.status != 200 {
				if msg := errorBody(t, w); !strings.Contains(msg, tc.msg) {
					t.Errorf("error %q does not say %q", msg, tc.msg)
				}
			}
		})
	}
}

// TestTheClientUnderstandsTheServer runs the CLI's client against the
// server: the two sides of the JSON contract.
func TestTheClientUnderstandsTheServer(t *testing.T) {
	e := newEnv(t, nil)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	c, err := client.New(srv.URL, ciSecret, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	started, err := c.StartDeploy(ctx, client.StartRequest{Service: "checkout", Env: "prod", Version: "v1", Author: "alice",
		Changes: []gohere.Change{{Commit: "abc", Author: "alice", Title: "t"}}, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if started.ID == "" || started.ReportURL != "https://gohere.example/deploys/"+started.ID || started.GoHereURL == "" {
		t.Errorf("started = %+v", started)
	}
	finished, err := c.FinishDeploy(ctx, started.ID, gohere.StatusSucceeded)
	if err != nil || finished.Status != gohere.StatusSucceeded || finished.FinishedAt.IsZero() {
		t.Errorf("FinishDeploy = %+v, %v", finished, err)
	}
	list, err := c.ListDeploys(ctx, gohere.DeployFilter{Service: "checkout", Since: started.StartedAt.Add(-time.Minute), Limit: 5})
	if err != nil || len(list) != 1 || !cmp.Equal(list[0].Deploy, finished.Deploy) {
		t.Errorf("ListDeploys = %+v, %v; want the finished deploy", list, err)
	}
	got, err := c.GetDeploy(ctx, started.ID)
	if err != nil || !cmp.Equal(got, finished) {
		t.Errorf("GetDeploy = %+v, %v", got, err)
	}
	_, err = c.FinishDeploy(ctx, started.ID, gohere.StatusFailed)
	if gohere.KindOf(err) != gohere.Conflict {
		t.Errorf("second finish: %v, want a conflict", err)
	}
	_, err = c.StartDeploy(ctx, client.StartRequest{Service: "check,out", Env: "prod", Version: "v1"})
	if gohere.KindOf(err) != gohere.Invalid {
		t.Errorf("bad service: %v, want invalid", err)
	}

	// Recorded after the fact: both times are the client's.
	start := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	past, err := c.StartDeploy(ctx, client.StartRequest{Service: "checkout", Env: "prod", Version: "v0", StartedAt: start})
	if err != nil || !past.StartedAt.Equal(start) {
		t.Fatalf("StartDeploy with StartedAt %v = %+v, %v", start, past, err)
	}
	past, err = c.FinishDeployAt(ctx, past.ID, gohere.StatusFailed, start.Add(20*time.Minute))
	if err != nil || !past.FinishedAt.Equal(start.Add(20*time.Minute)) || past.Status != gohere.StatusFailed {
		t.Errorf("FinishDeployAt = %+v, %v; want failed at %v", past, err, start.Add(20*time.Minute))
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if w := e.do(t, req{method: "GET", path: path}); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	e.db.Close() // the database goes away
	w := e.do(t, req{method: "GET", path: "/readyz"})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database closed: %d %s, want 503", w.Code, w.Body)
	}
	errorBody(t, w)
	if w := e.do(t, req{method: "GET", path: "/healthz"}); w.Code != 200 {
		t.Errorf("healthz with the database closed: %d, want 200 (the process lives)", w.Code)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	e.do(t, req{method: "GET", path: "/api/v1/deploys"}) // 401
	e.do(t, req{method: "GET", path: "/no/such/page"})   // 404, unmatched
	e.do(t, req{method: "GET", path: "/api/v1/deploys/abc", token: ciSecret})
	w := e.do(t, req{method: "GET", path: "/metrics"}) // no token needed
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	body := w.Body.String()
	for _, want := range []string{
		`gohere_deploys_total{env="prod",stage="canary"} 1`,
		`gohere_http_requests_total{route="/api/v1/deploys",code="201"} 1`,
		`gohere_http_requests_total{route="/api/v1/deploys",code="401"} 1`,
		`gohere_http_requests_total{route="unmatched",code="404"} 1`,
		`gohere_http_requests_total{route="/api/v1/deploys/:id",code="404"} 1`,
		`gohere_http_request_duration_seconds_bucket{route="/api/v1/deploys",le="0.005"}`,
		`gohere_http_request_duration_seconds_bucket{route="/api/v1/deploys",le="+Inf"} 2`,
		`gohere_http_request_duration_seconds_count{route="/api/v1/deploys"} 2`,
		`gohere_annotation_writes_total{result="ok"} 0`,
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "/no/such/page") || strings.Contains(body, "/api/v1/deploys/abc") {
		t.Error("a raw path became a label value")
	}
}

// faultyStore fails in the ways a real store should not, to test the
// server's last line of defence.
type faultyStore struct {
	*store.DB
	list func() error
}

func (f faultyStore) ListDeploys(ctx context.Context, filter gohere.DeployFilter) ([]gohere.Deploy, error) {
	return nil, f.list()
}

func TestInternalErrorsAreHidden(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func() error
		log  string
	}{
		{"error", func() error { return errors.New("disk on fire under /var/lib/secret-path") }, "disk on fire"},
		{"panic", func() error { panic("nil map in the list query") }, "nil map in the list query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(db *store.DB) server.Store { return faultyStore{DB: db, list: tc.fail} })
			for _, path := range []string{"/api/v1/deploys", "/"} {
				w := e.do(t, req{method: "GET", path: path, token: humanSecret})
				if w.Code != 500 {
					t.Fatalf("GET %s: %d, want 500", path, w.Code)
				}
				if strings.Contains(w.Body.String(), tc.log) || !strings.Contains(w.Body.String(), "internal error") {
					t.Errorf("GET %s: body %q shows the cause or lacks the generic message", path, w.Body)
				}
			}
			if !strings.Contains(e.logs.String(), tc.log) {
				t.Errorf("the log lacks the cause %q:\n%s", tc.log, e.logs)
			}
			if w := e.do(t, req{method: "GET", path: "/healthz"}); w.Code != 200 {
				t.Errorf("the server does not serve after the failure: %d", w.Code)
			}
		})
	}
}

// TestUnavailableCausesAreLogged: a 503 (disk full, database down) says
// only what is safe to the client, and the server log has the cause.
func TestUnavailableCausesAreLogged(t *testing.T) {
	driver := errors.New("database or disk is full (13)")
	e := newEnv(t, func(db *store.DB) server.Store {
		return faultyStore{DB: db, list: func() error { return &gohere.Error{Kind: gohere.Unavailable, Msg: "deploys: list", Err: driver} }}
	})
	w := e.do(t, req{method: "GET", path: "/api/v1/deploys", token: humanSecret})
	if w.Code != 503 || strings.Contains(w.Body.String(), "disk is full") {
		t.Fatalf("GET: %d %s; want 503 without the driver's text", w.Code, w.Body)
	}
	if !strings.Contains(e.logs.String(), "deploys: list: database or disk is full (13)") {
		t.Errorf("the log lacks the cause of the 503:\n%s", e.logs)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	tokens, err := auth.Parse("ci:x:" + ciSecret)
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t)
	for name, opts := range map[string]server.Options{
		"no store":  {Tokens: tokens},
		"no tokens": {Store: db},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := server.New(opts); gohere.KindOf(err) != gohere.Invalid {
				t.Errorf("New = %v, want an invalid-options error", err)
			}
		})
	}
	// Everything else has a working default.
	s, err := server.New(server.Options{Store: db, Tokens: tokens, Metrics: telemetry.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(t.Context(), "POST", "/api/v1/deploys", strings.NewReader(`{"service":"a","env":"b","version":"c"}`))
	r.Header.Set("Authorization", "Bearer "+ciSecret)
	r.Header.Set("Content-Type", "application/json")
	s.Handler().ServeHTTP(w, r)
	got := decode[server.DeployView](t, w)
	if w.Code != 201 || got.GoHereURL != "" || got.ReportURL != "/deploys/"+got.ID {
		t.Errorf("with default options: %d, links %q %q", w.Code, got.GoHereURL, got.ReportURL)
	}
}
