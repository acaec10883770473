package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/pgtest"
	"github.com/gohere/gohere/internal/prom"
)

// TestBadInputOnBothEngines: issue 13, defects 1, 2, 3 and 8, over HTTP on
// SQLite and PostgreSQL. Lookup keys with NUL or invalid UTF-8 are 400 or
// 404 (PostgreSQL answered 500), names outside the alphabet and invalid
// UTF-8 in a body are 400, and an alias bomb is a quick 400.
func TestBadInputOnBothEngines(t *testing.T) {
	bomb, err := os.ReadFile("../../judge/testdata/config/invalid/alias-bomb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	noData := analysis.SourceFunc(func(context.Context, string, time.Time, time.Time, time.Duration) ([]prom.Series, error) {
		return nil, nil
	})
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			opts := Options{Source: noData}
			if engine == "postgres" {
				opts.DB = pgtest.Start(t)
			}
			a, c := start(t, opts)
			d, err := c.StartDeploy(t.Context(), client.StartRequest{Service: "checkout", Env: "prod", Version: "v2", BaselineVersion: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			base := "http://" + a.Addr()
			notFound := []int{http.StatusBadRequest, http.StatusNotFound}
			invalid := []int{http.StatusBadRequest}
			for _, tc := range []struct {
				name, method, path, token, body string
				want                            []int
				wantErr                         string
			}{
				{"deploy id invalid UTF-8", "GET", "/api/v1/deploys/%ff", ciSecret, "", notFound, ""},
				{"deploy id with NUL", "GET", "/api/v1/deploys/a%00b", ciSecret, "", notFound, ""},
				{"deploy id with NUL after a real one", "GET", "/api/v1/deploys/" + d.ID + "%00", ciSecret, "", notFound, ""},
				{"gate of an invalid id", "GET", "/api/v1/deploys/%ff/gate", ciSecret, "", notFound, ""},
				{"finish an invalid id", "POST", "/api/v1/deploys/%ff/finish", ciSecret, `{"status":"succeeded"}`, notFound, ""},
				{"analyses of an invalid id", "POST", "/api/v1/deploys/a%00b/analyses", ciSecret, "metrics: [{name: a, query: q}]", notFound, ""},
				{"analysis id invalid UTF-8", "GET", "/api/v1/analyses/%ff", ciSecret, "", notFound, ""},
				{"decision on an invalid id", "POST", "/api/v1/analyses/%ff/decision", humanSecret, `{"decision":"halt","reason":"x"}`, notFound, ""},
				{"service filter invalid UTF-8", "GET", "/api/v1/deploys?service=%ff", ciSecret, "", invalid, ""},
				{"env filter with NUL", "GET", "/api/v1/deploys?env=a%00b", ciSecret, "", invalid, ""},
				{"page of an id with NUL", "GET", "/deploys/a%00b", "", "", notFound, ""},
				{"page of an invalid id", "GET", "/deploys/%ff", "", "", notFound, ""},
				{"timeline filter invalid UTF-8", "GET", "/?service=%ff", "", "", invalid, ""},
				{"compare of an invalid name", "GET", "/compare?service=%ff&env=prod&baseline=v1&canary=v2", "", "", invalid, ""},
				{"service with a backslash", "POST", "/api/v1/deploys", ciSecret, `{"service":"x\\","env":"prod","version":"v1"}`, invalid, gohere.NameAlphabet},
				{"env breaking out of a query", "POST", "/api/v1/deploys", ciSecret, `{"service":"x","env":"}[1m]))or(vector(1))#","version":"v1"}`, invalid, gohere.NameAlphabet},
				{"version with RLO", "POST", "/api/v1/deploys", ciSecret, `{"service":"x","env":"prod","version":"v1\u202e"}`, invalid, "U+202E"},
				{"version with a zero-width space", "POST", "/api/v1/deploys", ciSecret, `{"service":"x","env":"prod","version":"v\u200b1"}`, invalid, "U+200B"},
				{"service with U+2028", "POST", "/api/v1/deploys", ciSecret, `{"service":"x\u2028","env":"prod","version":"v1"}`, invalid, "U+2028"},
				{"service invalid UTF-8", "POST", "/api/v1/deploys", ciSecret, "{\"service\":\"x\xff\",\"env\":\"prod\",\"version\":\"v1\"}", invalid, ""},
				{"author invalid UTF-8", "POST", "/api/v1/deploys", ciSecret, "{\"service\":\"x\",\"env\":\"prod\",\"version\":\"v1\",\"author\":\"a\xffb\"}", invalid, "author"},
				{"alias bomb", "POST", "/api/v1/deploys/" + d.ID + "/analyses", ciSecret, string(bomb), invalid, "aliases expand beyond 10000 nodes"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					req, err := http.NewRequestWithContext(t.Context(), tc.method, base+tc.path, strings.NewReader(tc.body))
					if err != nil {
						t.Fatal(err)
					}
					if tc.token != "" {
						req.Header.Set("Authorization", "Bearer "+tc.token)
					}
					if strings.HasSuffix(tc.path, "/analyses") {
						req.Header.Set("Content-Type", "application/yaml")
					} else if tc.body != "" {
						req.Header.Set("Content-Type", "application/json")
					}
					began := time.Now()
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					body, _ := io.ReadAll(resp.Body)
					if took := time.Since(began); took > 5*time.Second {
						t.Errorf("answered after %v", took)
					}
					if !slices.Contains(tc.want, resp.StatusCode) {
						t.Errorf("%s %s = %d %s, want one of %v", tc.method, tc.path, resp.StatusCode, body, tc.want)
					}
					if !strings.Contains(string(body), tc.wantErr) {
						t.Errorf("answer %s lacks %q", body, tc.wantErr)
					}
				})
			}
		})
	}
}
