package server_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestPages(t *testing.T) {
	e := newEnv(t, nil)
	old := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	e.finish(t, old.ID, "succeeded")
	d := e.create(t, `{"service": "checkout", "env": "prod", "version": "3f2a1c", "commit": "3f2a1c",
		"author": "<script>alert('author')</script>", "merged_by": "bob & eve", "pr": "javascript:alert(1)",
		"changes": [{"commit": "3f2a1c", "author": "alice", "title": "fix <b>tax</b> rounding"},
		            {"commit": "9e8d7c", "author": "carol", "title": "bump deps"}]}`)
	other := e.create(t, `{"service": "cart", "env": "dev", "version": "c7"}`)

	for _, tc := range []struct {
		name, path string
		status     int
		want       []string
		wantNot    []string
	}{
		{"timeline", "/", 200, []string{
			"Deploying now", `<tr class="running">`, "/deploys/" + d.ID, "/deploys/" + old.ID,
			"checkout", "3f2a1c", "cart", "c7", "status-succeeded", "status-running",
			"&lt;script&gt;alert(&#39;author&#39;)&lt;/script&gt;",
			`href="https://grafana.example/d/gohere-compare?var-baseline=v1&amp;var-canary=3f2a1c"`,
		}, nil},
		{"timeline of one service", "/?service=cart", 200, []string{"Deploys of cart", "/deploys/" + other.ID}, []string{"/deploys/" + d.ID}},
		{"deploy page", "/deploys/" + d.ID, 200, []string{
			d.ID, "checkout", "prod", "3f2a1c", "v1", "canary", "bob &amp; eve", "9e8d7c", "carol", "bump deps",
			"fix &lt;b&gt;tax&lt;/b&gt; rounding", "&lt;script&gt;alert(&#39;author&#39;)&lt;/script&gt;",
			`class="go-here" href="https://grafana.example/d/gohere-compare?var-baseline=v1&amp;var-canary=3f2a1c"`,
			"This server runs no canary analyses", "<dt>Running</dt><dd>for ",
		}, []string{`href="javascript:`}},
		{"finished deploy page", "/deploys/" + old.ID, 200, []string{"status-succeeded", "took", "none (no earlier succeeded deploy)", "No changes recorded."}, nil},
		{"unknown deploy", "/deploys/no-such-deploy", 404, []string{"404 Not Found", "deploy no-such-deploy: not found"}, nil},
		{"bad filter", "/?service=a,b", 400, []string{"400 Bad Request", "not allowed"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, req{method: "GET", path: tc.path}) // no token: pages are public
			if w.Code != tc.status {
				t.Fatalf("GET %s: %d, want %d\n%s", tc.path, w.Code, tc.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			body := w.Body.String()
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			for _, bad := range append(tc.wantNot, "<script", "<b>", " style=", "http://", "https://cdn") {
				if strings.Contains(body, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
		})
	}

	css := e.do(t, req{method: "GET", path: "/static/gohere.css"})
	if css.Code != http.StatusOK || !strings.HasPrefix(css.Header().Get("Content-Type"), "text/css") || !strings.Contains(css.Body.String(), "tr.running") {
		t.Errorf("stylesheet: %d %q", css.Code, css.Header().Get("Content-Type"))
	}
}

func TestEmptyTimeline(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(t, req{method: "GET", path: "/"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "No deploys recorded yet") || !strings.Contains(w.Body.String(), "Nothing is deploying") {
		t.Errorf("empty timeline: %d\n%s", w.Code, w.Body)
	}
}
