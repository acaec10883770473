package grafanatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gapi "github.com/grafana/grafana-api-golang-client"

	"github.com/gohere/gohere/internal/grafanatest"
)

// recordingTB keeps the double's complaints instead of failing the test, for
// the tests that send bad requests on purpose.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) complaints() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

func client(t *testing.T, g *grafanatest.Server) *gapi.Client {
	t.Helper()
	c, err := gapi.New(g.URL(), gapi.Config{APIKey: g.Token()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// send makes a raw request with the double's token and returns status and body.
func send(t *testing.T, g *grafanatest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, g.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func requireSpec(t *testing.T, g *grafanatest.Server) {
	t.Helper()
	// A request no Grafana accepts must be refused; if it is not, the
	// description was not found and the checks would prove nothing.
	if code, _ := send(t, g, http.MethodPost, "/api/annotations?bogus=1", `{"text":"x"}`); code != http.StatusBadRequest {
		t.Skip("../shared/grafana/openapi3.json is missing: requests are not checked against Grafana's API description")
	}
}

// TestMandatedClientCallsValidate drives every call gohere makes through the
// mandated client v0.27.0. With the real *testing.T, a request that breaks
// Grafana's OpenAPI description fails this test.
func TestMandatedClientCallsValidate(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{})
	c := client(t, g)

	// Annotations.
	id1, err := c.NewAnnotation(&gapi.Annotation{Time: 1000, TimeEnd: 5000, Tags: []string{"deploy", "service:a"}, Text: "one"})
	if err != nil || id1 != 1 {
		t.Fatalf("NewAnnotation = %d, %v; want 1", id1, err)
	}
	id2, err := c.NewAnnotation(&gapi.Annotation{Time: 7000, Tags: []string{"deploy", "service:b"}, Text: "two"})
	if err != nil || id2 != 2 {
		t.Fatalf("NewAnnotation = %d, %v; want 2", id2, err)
	}
	got, err := c.Annotations(url.Values{"tags": {"deploy", "service:a"}, "type": {"annotation"}, "limit": {"10"}, "from": {"0"}, "to": {"9999"}})
	if err != nil || len(got) != 1 || got[0].ID != id1 || got[0].TimeEnd != 5000 {
		t.Fatalf("Annotations(all of deploy, service:a) = %+v, %v; want id %d", got, err, id1)
	}
	if _, err := c.UpdateAnnotation(id1, &gapi.Annotation{Time: 2000, TimeEnd: 6000, Tags: []string{"deploy", "status:ok"}, Text: "one'"}); err != nil {
		t.Fatalf("UpdateAnnotation: %v", err)
	}
	if _, err := c.PatchAnnotation(id2, &gapi.Annotation{Text: "two'"}); err != nil {
		t.Fatalf("PatchAnnotation: %v", err)
	}
	want := []grafanatest.Annotation{
		{ID: 1, Time: 2000, TimeEnd: 6000, Tags: []string{"deploy", "status:ok"}, Text: "one'"},
		{ID: 2, Time: 7000, TimeEnd: 7000, Tags: []string{"deploy", "service:b"}, Text: "two'"},
	}
	if diff := cmp.Diff(want, g.Annotations()); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if _, err := c.DeleteAnnotation(id2); err != nil {
		t.Fatalf("DeleteAnnotation: %v", err)
	}

	// Folders and dashboards, as the installer uses them.
	f, err := c.NewFolder("gohere")
	if err != nil || f.UID == "" || f.Title != "gohere" {
		t.Fatalf("NewFolder = %+v, %v", f, err)
	}
	if fs, err := c.Folders(); err != nil || len(fs) != 1 || fs[0].UID != f.UID {
		t.Fatalf("Folders = %+v, %v", fs, err)
	}
	if byUID, err := c.FolderByUID(f.UID); err != nil || byUID.Title != "gohere" {
		t.Fatalf("FolderByUID = %+v, %v", byUID, err)
	}
	model := map[string]any{"uid": "gohere-compare", "title": "gohere: compare", "tags": []any{"gohere"}, "panels": []any{}}
	saved, err := c.NewDashboard(gapi.Dashboard{Model: model, FolderUID: f.UID, Message: "install"})
	if err != nil || saved.UID != "gohere-compare" || saved.Version != 1 || saved.Status != "success" {
		t.Fatalf("NewDashboard = %+v, %v", saved, err)
	}
	d, err := c.DashboardByUID("gohere-compare")
	if err != nil || d.Meta.FolderUID != f.UID || d.Model["title"] != "gohere: compare" || d.Model["version"] != float64(1) {
		t.Fatalf("DashboardByUID = %+v, %v", d, err)
	}
	if _, err := c.NewDashboard(gapi.Dashboard{Model: d.Model, FolderUID: f.UID}); err != nil {
		t.Fatalf("NewDashboard with the stored version: %v", err)
	}
	hits, err := c.Dashboards()
	if err != nil || len(hits) != 1 || hits[0].UID != "gohere-compare" || hits[0].FolderUID != f.UID {
		t.Fatalf("Dashboards = %+v, %v", hits, err)
	}
	hits, err = c.FolderDashboardSearch(url.Values{"query": {"COMPARE"}, "type": {"dash-db"}, "folderUIDs": {f.UID}, "dashboardUIDs": {"gohere-compare", "other"}})
	if err != nil || len(hits) != 1 {
		t.Fatalf("FolderDashboardSearch = %+v, %v", hits, err)
	}
	if h, err := c.Health(); err != nil || h.Database != "ok" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	if len(g.Violations()) != 0 {
		t.Errorf("violations: %q", g.Violations())
	}
}

// TestRejectsWhatGrafanaWouldNot shows the spec checks bite: each request is
// refused, recorded and reported to the test, and changes nothing.
func TestRejectsWhatGrafanaWouldNot(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		complaint                string
	}{
		{"wrong body type", "POST", "/api/annotations", `{"text":"x","time":"yesterday"}`, 400, "body.time: string, want integer"},
		{"fraction for int64", "POST", "/api/annotations", `{"text":"x","time":1.5}`, 400, "body.time: 1.5 is not an int64"},
		{"tags not an array", "POST", "/api/annotations", `{"text":"x","tags":"deploy"}`, 400, "body.tags: string, want array"},
		{"null tags", "POST", "/api/annotations", `{"text":"x","tags":null}`, 400, "body.tags: null"},
		{"missing required field", "POST", "/api/annotations", `{"time":1}`, 400, `required property "text" is missing`},
		{"no body", "POST", "/api/annotations", ``, 400, "request body is required"},
		{"not JSON", "POST", "/api/annotations", `{"text":`, 400, "not JSON"},
		{"wrong method", "PUT", "/api/annotations", `{"text":"x"}`, 405, "method is not defined"},
		{"unknown endpoint", "POST", "/api/annotation", `{"text":"x"}`, 404, "no such endpoint"},
		{"unknown query parameter", "GET", "/api/annotations?tag=deploy", ``, 400, `query parameter "tag" is not defined`},
		{"query type", "GET", "/api/annotations?limit=ten", ``, 400, "query limit"},
		{"query enum", "GET", "/api/annotations?type=region", ``, 400, "not one of"},
		{"repeated scalar", "GET", "/api/search?query=a&query=b", ``, 400, "not an array"},
		{"dashboard not an object", "POST", "/api/dashboards/db", `{"dashboard":[]}`, 400, "body.dashboard: array, want object"},
		{"patch field type", "PATCH", "/api/annotations/1", `{"timeEnd":"soon"}`, 400, "body.timeEnd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			g := grafanatest.New(rec, grafanatest.Options{})
			requireSpec(t, g)
			rec.mu.Lock()
			rec.errs = nil // requireSpec's probe
			rec.mu.Unlock()
			before := len(g.Violations())
			code, body := send(t, g, tc.method, tc.path, tc.body)
			if code != tc.code {
				t.Errorf("status %d (%s), want %d", code, body, tc.code)
			}
			v := g.Violations()[before:]
			if len(v) != 1 || !strings.Contains(v[0], tc.complaint) {
				t.Errorf("violations %q, want one containing %q", v, tc.complaint)
			}
			if c := rec.complaints(); len(c) != 1 {
				t.Errorf("test was told %q, want one complaint", c)
			}
			if n := len(g.Annotations()); n != 0 {
				t.Errorf("%d annotations stored by a refused request", n)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{Token: "glsa_secret"})
	for _, tc := range []struct {
		name, header string
		code         int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer glsa_wrong", 401},
		{"basic instead of bearer", "Basic glsa_secret", 401},
		{"right token", "Bearer glsa_secret", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.URL()+"/api/annotations", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.code == 401 && strings.TrimSpace(string(b)) != `{"message":"Unauthorized"}` {
				t.Errorf("body %s", b)
			}
		})
	}
	resp, err := http.Get(g.URL() + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("health without a token: %d, want 200 like Grafana", resp.StatusCode)
	}
}

func TestAnnotationQueriesAndUpdates(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{})
	c := client(t, g)
	for i, tags := range [][]string{{"deploy", "service:a"}, {"deploy", "service:b"}, {"alert", "service:a"}} {
		if _, err := c.NewAnnotation(&gapi.Annotation{Time: int64(1000 * (i + 1)), TimeEnd: int64(1000*(i+1) + 500), Tags: tags, Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(q url.Values) []int64 {
		t.Helper()
		got, err := c.Annotations(q)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, a := range got {
			out = append(out, a.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    url.Values
		want []int64
	}{
		{"all, newest first", url.Values{}, []int64{3, 2, 1}},
		{"all tags must match", url.Values{"tags": {"deploy", "service:a"}}, []int64{1}},
		{"matchAny", url.Values{"tags": {"service:b", "alert"}, "matchAny": {"true"}}, []int64{3, 2}},
		{"matchAny=false", url.Values{"tags": {"service:b", "alert"}, "matchAny": {"false"}}, nil},
		{"limit", url.Values{"limit": {"1"}}, []int64{3}},
		{"overlapping from..to", url.Values{"from": {"1400"}, "to": {"2100"}}, []int64{2, 1}},
		{"no alerts stored", url.Values{"type": {"alert"}}, nil},
		{"organisation-wide only", url.Values{"dashboardUID": {"x"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ids(tc.q)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}

	// PATCH changes only the fields given.
	if _, err := c.PatchAnnotation(1, &gapi.Annotation{TimeEnd: 9000}); err != nil {
		t.Fatal(err)
	}
	if a := g.Annotations()[0]; a.Time != 1000 || a.TimeEnd != 9000 || a.Text != "0" || len(a.Tags) != 2 {
		t.Errorf("after PATCH timeEnd: %+v", a)
	}
	// Unknown ids are 404s, which the client reports as ErrNotFound.
	for name, call := range map[string]func() error{
		"PUT":    func() error { _, err := c.UpdateAnnotation(99, &gapi.Annotation{Text: "x"}); return err },
		"PATCH":  func() error { _, err := c.PatchAnnotation(99, &gapi.Annotation{Text: "x"}); return err },
		"DELETE": func() error { _, err := c.DeleteAnnotation(99); return err },
	} {
		if _, ok := errors.AsType[gapi.ErrNotFound](call()); !ok {
			t.Errorf("%s of an unknown id: want a 404", name)
		}
	}
	// Ids are never reused.
	if _, err := c.DeleteAnnotation(3); err != nil {
		t.Fatal(err)
	}
	if id, err := c.NewAnnotation(&gapi.Annotation{Text: "new"}); err != nil || id != 4 {
		t.Errorf("id after a delete = %d, %v; want 4", id, err)
	}
	if code, body := send(t, g, "POST", "/api/annotations", `{"text":""}`); code != 400 {
		t.Errorf("empty text: %d %s, want 400 like Grafana", code, body)
	}
}

func TestFaults(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{})
	c := client(t, g)
	post := func() error {
		_, err := c.NewAnnotation(&gapi.Annotation{Text: "x"})
		return err
	}

	g.FailNext(2, http.StatusServiceUnavailable)
	for i := range 2 {
		if err := post(); err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("request %d during FailNext: %v, want a 503", i, err)
		}
	}
	if n := len(g.Annotations()); n != 0 {
		t.Errorf("%d annotations after failed requests, want none", n)
	}
	if err := post(); err != nil {
		t.Errorf("after FailNext ran out: %v", err)
	}

	g.LoseNextResponses(1)
	if err := post(); err == nil {
		t.Error("lost response: no error")
	}
	if n := len(g.Annotations()); n != 2 {
		t.Errorf("%d annotations after a lost response, want 2: the request took effect", n)
	}

	g.Hang(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL()+"/api/annotations", strings.NewReader(`{"text":"late"}`))
	req.Header.Set("Authorization", "Bearer "+g.Token())
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging request: %v, want the deadline", err)
	}
	done := make(chan error)
	go func() { done <- post() }()
	time.Sleep(20 * time.Millisecond) // let it reach the hang; Hang(0) releases it either way
	g.Hang(0)
	if err := <-done; err != nil {
		t.Errorf("request released by Hang(0): %v", err)
	}
	if n := len(g.Annotations()); n != 3 {
		t.Errorf("%d annotations, want 3: the abandoned request has no effect, the released one has", n)
	}
	if n := g.Requests(); n != 6 {
		t.Errorf("Requests() = %d, want 6", n)
	}
}

func TestFoldersAndDashboards(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{})
	c := client(t, g)
	f, err := c.NewFolder("gohere", "gohere-folder")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, want string
		code             int
	}{
		{"same uid", `{"title":"other","uid":"gohere-folder"}`, "same uid", 409},
		{"same title", `{"title":"GoHere"}`, "same name", 409},
		{"empty title", `{"title":" "}`, "title cannot be empty", 400},
		{"bad uid", `{"title":"x","uid":"a/b"}`, "illegal", 400},
	} {
		t.Run("folder "+tc.name, func(t *testing.T) {
			code, body := send(t, g, "POST", "/api/folders", tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s, want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
	if _, err := c.FolderByUID("nope"); err == nil {
		t.Error("unknown folder: no error")
	}

	save := func(model map[string]any, folder string, overwrite bool) (int, string) {
		t.Helper()
		b := fmt.Sprintf(`{"dashboard":%s,"folderUid":%q,"overwrite":%t}`, mustJSON(t, model), folder, overwrite)
		return send(t, g, "POST", "/api/dashboards/db", b)
	}
	for _, tc := range []struct {
		name      string
		model     map[string]any
		folder    string
		overwrite bool
		code      int
		want      string
	}{
		{"create", map[string]any{"uid": "d1", "title": "One"}, f.UID, false, 200, `"version":1`},
		{"update with the stored version", map[string]any{"uid": "d1", "title": "One", "version": 1}, f.UID, false, 200, `"version":2`},
		{"update with a stale version", map[string]any{"uid": "d1", "title": "One", "version": 1}, f.UID, false, 412, "version-mismatch"},
		{"overwrite ignores the version", map[string]any{"uid": "d1", "title": "One"}, f.UID, true, 200, `"version":3`},
		{"same title, same folder", map[string]any{"uid": "d2", "title": "one"}, f.UID, false, 412, "name-exists"},
		{"same title, other folder", map[string]any{"uid": "d2", "title": "One"}, "", false, 200, `"version":1`},
		{"overwrite replaces the namesake", map[string]any{"uid": "d3", "title": "One"}, f.UID, true, 200, `"uid":"d1"`},
		{"unknown folder", map[string]any{"uid": "d4", "title": "Four"}, "nope", false, 404, "folder not found"},
		{"no title", map[string]any{"uid": "d4"}, "", false, 400, "empty-name"},
	} {
		t.Run("dashboard "+tc.name, func(t *testing.T) {
			code, body := save(tc.model, tc.folder, tc.overwrite)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s, want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
	var got []string
	for _, d := range g.Dashboards() {
		got = append(got, fmt.Sprintf("%s %s %s v%d", d.UID, d.Title, d.FolderUID, d.Version))
	}
	if diff := cmp.Diff([]string{"d1 One gohere-folder v4", "d2 One  v1"}, got); diff != "" {
		t.Errorf("dashboards (-want +got):\n%s", diff)
	}
	if _, err := c.DashboardByUID("d3"); err == nil {
		t.Error("d3 exists; the overwrite should have replaced d1 in place")
	}

	for _, tc := range []struct {
		name string
		q    url.Values
		want []string
	}{
		{"everything", url.Values{}, []string{"dash-folder gohere-folder", "dash-db d1", "dash-db d2"}},
		{"dashboards in a folder", url.Values{"folderUIDs": {f.UID}}, []string{"dash-db d1"}},
		{"root folder", url.Values{"folderUIDs": {"general"}, "type": {"dash-db"}}, []string{"dash-db d2"}},
		{"folders", url.Values{"type": {"dash-folder"}}, []string{"dash-folder gohere-folder"}},
		{"by uid", url.Values{"dashboardUIDs": {"d2"}}, []string{"dash-db d2"}},
		{"query", url.Values{"query": {"GOH"}}, []string{"dash-folder gohere-folder"}},
	} {
		t.Run("search "+tc.name, func(t *testing.T) {
			hits, err := c.FolderDashboardSearch(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hits {
				got = append(got, h.Type+" "+h.UID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("hits (-want +got):\n%s", diff)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestClientDiscrepancies records where the mandated client and Grafana's
// description disagree. DashboardsByIDs sends dashboardIds as one JSON
// string ("[1]") where the spec wants repeated int64 values; gohere does not
// call it, and the double keeps the spec's side.
func TestClientDiscrepancies(t *testing.T) {
	rec := &recordingTB{TB: t}
	g := grafanatest.New(rec, grafanatest.Options{})
	requireSpec(t, g)
	before := len(g.Violations())
	_, err := client(t, g).DashboardsByIDs([]int64{1})
	if err == nil {
		t.Error("DashboardsByIDs: no error, want the double to refuse it")
	}
	if v := g.Violations()[before:]; len(v) != 1 || !strings.Contains(v[0], "query dashboardIds[0]") {
		t.Errorf("violations %q, want one about dashboardIds", v)
	}
}

// TestSlowFlakyWrites: FailWrites fails exactly its share of the writes,
// evenly, without effect; SlowWrites delays writes; reads neither fail nor
// count.
func TestSlowFlakyWrites(t *testing.T) {
	g := grafanatest.New(t, grafanatest.Options{})
	c := client(t, g)
	g.FailWrites(0.2, http.StatusServiceUnavailable)
	g.SlowWrites(30 * time.Millisecond)
	var failed []int
	for i := range 10 {
		start := time.Now()
		_, err := c.NewAnnotation(&gapi.Annotation{Text: fmt.Sprintf("a%d", i)})
		if took := time.Since(start); took < 30*time.Millisecond {
			t.Errorf("write %d took %s, want at least the 30ms of SlowWrites", i+1, took)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "503") {
				t.Errorf("write %d: %v, want a 503", i+1, err)
			}
			failed = append(failed, i+1)
		}
		// Reads in between neither fail nor count as writes.
		if code, _ := send(t, g, http.MethodGet, "/api/annotations", ""); code != http.StatusOK {
			t.Errorf("read after write %d: %d, want reads never to fail", i+1, code)
		}
	}
	if !slices.Equal(failed, []int{5, 10}) {
		t.Errorf("writes %v failed, want the 5th and the 10th (20 %%)", failed)
	}
	if n := len(g.Annotations()); n != 8 {
		t.Errorf("%d annotations, want 8: a failed write has no effect", n)
	}

	g.FailWrites(0, 0)
	g.SlowWrites(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.URL()+"/api/annotations", strings.NewReader(`{"text":"late"}`))
	req.Header.Set("Authorization", "Bearer "+g.Token())
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow write: %v, want the client's deadline", err)
	}
	g.SlowWrites(0)
	if _, err := c.NewAnnotation(&gapi.Annotation{Text: "fine"}); err != nil {
		t.Errorf("after FailWrites(0, 0) and SlowWrites(0): %v", err)
	}
	if n := len(g.Annotations()); n != 9 {
		t.Errorf("%d annotations, want 9: the abandoned write has no effect", n)
	}
}
