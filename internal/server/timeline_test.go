package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
