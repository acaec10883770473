package server_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/server"
)

// seedDeploys records n deploys of 20 services straight into the store,
// oldest first, each with two changes; all but the newest 3 finished.
func seedDeploys(tb testing.TB, e *env, n int) {
	tb.Helper()
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	for i := range n {
		d, _, err := e.db.CreateDeploy(tb.Context(), gohere.Deploy{
			Service: fmt.Sprintf("svc%d", i%20), Env: "prod", Version: fmt.Sprintf("v%d", i), BaselineVersion: fmt.Sprintf("v%d", i-20),
			Stage: gohere.StageCanary, Status: gohere.StatusRunning, Author: "alice", Commit: fmt.Sprintf("%040x", i),
			Changes:   []gohere.Change{{Commit: "abc", Author: "alice", Title: "fix <tax> rounding"}, {Commit: "def", Author: "bob", Title: "bump deps"}},
			StartedAt: start.Add(time.Duration(i) * time.Minute),
		}, "")
		if err != nil {
			tb.Fatal(err)
		}
		if i < n-3 {
			if _, err := e.db.FinishDeploy(tb.Context(), d.ID, gohere.StatusSucceeded, d.StartedAt.Add(30*time.Second)); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchmarkTimelinePage: GET / of a store holding 10,000 deploys, from as
// many goroutines as there are CPUs (the target: 5k/s on two
// cores). "shared" is the page of everyone not signed in; "revalidate"
// sends its ETag back as a browser does (a running deploy's age changes
// the page every second: then the new page and tag come back, counted in
// 200s/op); "render" asks for a new filter every time, so the query and
// the template run (what a signed-in person's view, or the first view
// after a change, costs).
func BenchmarkTimelinePage(b *testing.B) {
	e := newEnv(b, nil)
	seedDeploys(b, e, 10_000)
	var n atomic.Int64
	before := time.Now().Add(-30 * 24 * time.Hour)
	for _, bc := range []struct {
		name       string
		path       func() string
		revalidate bool
	}{
		{"shared", func() string { return "/" }, false},
		{"revalidate", func() string { return "/" }, true},
		{"render", func() string {
			return "/?since=" + before.Add(time.Duration(n.Add(1))*time.Second).UTC().Format(time.RFC3339)
		}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var full atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				var tag string
				for pb.Next() {
					hr := httptest.NewRequestWithContext(b.Context(), "GET", bc.path(), nil)
					if bc.revalidate && tag != "" {
						hr.Header.Set("If-None-Match", tag)
					}
					w := httptest.NewRecorder()
					e.h.ServeHTTP(w, hr)
					switch {
					case w.Code == http.StatusOK:
						full.Add(1)
						tag = w.Header().Get("ETag")
					case w.Code != http.StatusNotModified || !bc.revalidate:
						b.Errorf("GET %s: %d", hr.URL, w.Code)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(full.Load())/float64(b.N), "200s/op")
		})
	}
}

// TestTimelineConditionalGET: the timeline is tagged; a browser sending the
// tag back gets 304 while nothing changed, and the new page at once when
// this server recorded a change.
func TestTimelineConditionalGET(t *testing.T) {
	e := newEnv(t, nil)
	d := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	first := e.do(t, req{method: "GET", path: "/"})
	tag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || !strings.HasPrefix(tag, `"`) || first.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /: %d, ETag %q, Cache-Control %q; want 200 with a strong tag, revalidated on use",
			first.Code, tag, first.Header().Get("Cache-Control"))
	}
	for _, inm := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
		w := e.do(t, req{method: "GET", path: "/", header: map[string]string{"If-None-Match": inm}})
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != tag {
			t.Errorf("If-None-Match %s: %d, %d bytes, ETag %q; want 304, no body, the same tag", inm, w.Code, w.Body.Len(), w.Header().Get("ETag"))
		}
	}
	if w := e.do(t, req{method: "GET", path: "/", header: map[string]string{"If-None-Match": `"stale"`}}); w.Code != http.StatusOK || w.Body.String() != first.Body.String() {
		t.Errorf("If-None-Match of another page: %d, want 200 and the page", w.Code)
	}
	if w := e.do(t, req{method: "GET", path: "/?service=checkout"}); w.Header().Get("ETag") == tag {
		t.Error("a filtered timeline has the tag of the whole one")
	}

	e.finish(t, d.ID, "succeeded")
	w := e.do(t, req{method: "GET", path: "/", header: map[string]string{"If-None-Match": tag}})
	if w.Code != http.StatusOK || w.Header().Get("ETag") == tag || !strings.Contains(w.Body.String(), "status-succeeded") {
		t.Errorf("after the finish: %d, ETag %q; want 200 with the finished deploy and a new tag", w.Code, w.Header().Get("ETag"))
	}

	// Another replica's write: shown within a second, with a new tag.
	other, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{Service: "cart", Env: "prod", Version: "c1", StartedAt: time.Now()}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other replica's deploy on the timeline", func() bool {
		return strings.Contains(e.do(t, req{method: "GET", path: "/"}).Body.String(), "/deploys/"+other.ID)
	})
}

// TestTimelineOfASignedInPersonIsTheirs: the page naming who is signed in
// is never shared with anybody else, nor kept.
func TestTimelineOfASignedInPersonIsTheirs(t *testing.T) {
	e := newSessionEnv(t, nil)
	anonymous := e.do(t, pageReq{method: "GET", path: "/"})
	alice := e.do(t, pageReq{method: "GET", path: "/", cookie: e.signedIn(t, humanSecret)})
	if !strings.Contains(alice.Body.String(), "alice") || alice.Header().Get("Cache-Control") != "private, no-store" || alice.Header().Get("ETag") != "" {
		t.Errorf("alice's timeline: Cache-Control %q, ETag %q; want her name, private, no-store, no tag", alice.Header().Get("Cache-Control"), alice.Header().Get("ETag"))
	}
	if again := e.do(t, pageReq{method: "GET", path: "/"}); strings.Contains(again.Body.String(), "alice") || again.Body.String() != anonymous.Body.String() {
		t.Error("the anonymous timeline changed after alice's view")
	}
}

// TestTimelineIsBounded: however many deploys there are, the page shows
// the newest DefaultListLimit.
func TestTimelineIsBounded(t *testing.T) {
	e := newEnv(t, nil)
	seedDeploys(t, e, 130)
	body := e.do(t, req{method: "GET", path: "/"}).Body.String()
	if n := strings.Count(body, "<tr"); n != 101 { // the header row and 100 deploys
		t.Errorf("timeline of 130 deploys has %d rows, want the header and 100", n)
	}
	if !strings.Contains(body, ">v129</a>") || strings.Contains(body, ">v29</a>") {
		t.Error("the timeline does not show the newest 100 deploys")
	}
}

// older is the timeline page's "older" link; "" without one.
var older = regexp.MustCompile(`<a href="([^"]*)" rel="next">`)

// versions are the versions of the timeline's rows, top to bottom.
func versions(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<td><a href="/deploys/[^"]*">([^<]*)</a></td>`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestTimelinePagesThroughTies: following the "older" links shows every
// deploy once, newest first, also when many started at the same instant.
func TestTimelinePagesThroughTies(t *testing.T) {
	e := newEnv(t, nil)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	var want []gohere.Deploy
	for i := range 10 {
		started := at
		if i >= 7 {
			started = at.Add(time.Duration(i) * time.Minute) // three newer ones
		}
		d, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{Service: "checkout", Env: "prod", Version: fmt.Sprintf("v%d", i),
			Status: gohere.StatusSucceeded, StartedAt: started, FinishedAt: started.Add(time.Minute)}, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, d)
	}
	slices.SortFunc(want, func(a, b gohere.Deploy) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var wantVersions []string
	for _, d := range want {
		wantVersions = append(wantVersions, d.Version)
	}
	var got []string
	path := "/?limit=3"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("more than 5 pages of 3 for 10 deploys")
		}
		w := e.do(t, req{method: "GET", path: path})
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		body := w.Body.String()
		got = append(got, versions(body)...)
		path = ""
		if m := older.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "limit=3") {
				t.Errorf("older link %q drops the limit", path)
			}
		}
	}
	if !slices.Equal(got, wantVersions) {
		t.Errorf("pages show %v, want %v", got, wantVersions)
	}
}

// TestTimelineStatusFilter: ?status= shows the deploys of one status, the
// links of the filter keep the other parameters, and bad values are a 400
// page that says why.
func TestTimelineStatusFilter(t *testing.T) {
	e := newEnv(t, nil)
	for i, st := range []string{"succeeded", "failed", "rolled_back", "failed"} {
		d := e.create(t, fmt.Sprintf(`{"service":"checkout","env":"prod","version":"v%d"}`, i))
		e.finish(t, d.ID, st)
	}
	body := e.do(t, req{method: "GET", path: "/?status=failed&service=checkout"}).Body.String()
	if got := versions(body); !slices.Equal(got, []string{"v3", "v1"}) {
		t.Errorf("status=failed shows %v, want v3 and v1", got)
	}
	for _, want := range []string{`<strong aria-current="page">failed</strong>`, `href="/?service=checkout&amp;status=rolled_back"`, `href="/?service=checkout">all</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("filtered timeline lacks %s", want)
		}
	}
	for _, tc := range []struct{ query, reason string }{
		{"status=bogus", `status &#34;bogus&#34;: want one of running, succeeded, failed, halted, rolled_back`},
		{"status=failed&status=halted", "given 2 times"},
		{"before=yesterday", "before &#34;yesterday&#34;: want the cursor"},
		{"before=12.", "want the cursor"},
		{"sort=age", `unknown query parameter &#34;sort&#34;`},
	} {
		w := e.do(t, req{method: "GET", path: "/?" + tc.query})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tc.reason) {
			t.Errorf("GET /?%s: %d, want 400 saying %s; got %s", tc.query, w.Code, tc.reason, w.Body)
		}
	}
}

// TestTimelineDeployingNow: a deploy running for hours is shown under
// "Deploying now" with its author, stage and score, however many deploys
// came after it; the columns tell an analysis Fail from a manual rollback.
func TestTimelineDeployingNow(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	old, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{Service: "search", Env: "prod", Version: "s9", Author: "zoe",
		Stage: gohere.StageCanary, StartedAt: time.Now().Add(-3 * time.Hour)}, "")
	if err != nil {
		t.Fatal(err)
	}
	seedDeploys(t, e, 120)
	failed, _ := judged(t, e, "f1", gohere.VerdictFail)
	e.finish(t, failed.ID, "rolled_back")
	manual := e.create(t, `{"service":"checkout","env":"prod","version":"m1"}`)
	e.finish(t, manual.ID, "rolled_back")

	body := e.do(t, req{method: "GET", path: "/"}).Body.String()
	now, _, _ := strings.Cut(body, "<h2>Timeline</h2>")
	if !strings.Contains(now, `/deploys/`+old.ID+`">search · prod · s9</a> by zoe · canary · running 3h0m`) ||
		!strings.Contains(now, "no canary analysis") {
		t.Errorf("Deploying now lacks the deploy of 3 hours ago with author, stage, age and score:\n%s", now)
	}
	rows := map[string]string{}
	for _, row := range strings.Split(body, "<tr") {
		for _, v := range []string{"f1", "m1"} {
			if strings.Contains(row, `">`+v+`</a></td>`) {
				rows[v] = row
			}
		}
	}
	if r := rows["f1"]; !strings.Contains(r, "status-rolled_back") || !strings.Contains(r, `<span class="verdict verdict-Fail">Fail</span>`) {
		t.Errorf("the rollback after an analysis Fail does not show the verdict:\n%s", r)
	}
	if r := rows["m1"]; !strings.Contains(r, "status-rolled_back") || strings.Contains(r, `class="verdict `) || !strings.Contains(r, "no canary analysis") {
		t.Errorf("the manual rollback shows a verdict or no rollback:\n%s", r)
	}
}

// TestListConditionalGET: the JSON list is tagged like the pages.
func TestListConditionalGET(t *testing.T) {
	e := newEnv(t, nil)
	d := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	get := func(path, inm string) *httptest.ResponseRecorder {
		return e.do(t, req{method: "GET", path: path, token: humanSecret, header: map[string]string{"If-None-Match": inm}})
	}
	first := get("/api/v1/deploys", "")
	tag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || tag == "" || first.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET list: %d, ETag %q, Content-Type %q", first.Code, tag, first.Header().Get("Content-Type"))
	}
	if got := decode[server.DeployList](t, first).Deploys; len(got) != 1 || got[0].ID != d.ID {
		t.Fatalf("list %+v, want the deploy", got)
	}
	if w := get("/api/v1/deploys", tag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("GET list with its tag: %d, %d bytes; want 304", w.Code, w.Body.Len())
	}
	if w := get("/api/v1/deploys?service=cart", tag); w.Code != http.StatusOK || w.Header().Get("ETag") == tag {
		t.Errorf("another filter with the first list's tag: %d, ETag %q; want 200 and its own tag", w.Code, w.Header().Get("ETag"))
	}
	e.finish(t, d.ID, "failed")
	if w := get("/api/v1/deploys", tag); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"failed"`) {
		t.Errorf("GET list after a change: %d; want 200 with the change", w.Code)
	}
	if w := e.do(t, req{method: "GET", path: "/api/v1/deploys", header: map[string]string{"If-None-Match": tag}}); w.Code != http.StatusUnauthorized {
		t.Errorf("GET list with a tag and no token: %d, want 401", w.Code)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
