package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
)

// newTemplateEnv is a server that runs analyses with canary templates,
// counting the runner wake-ups in created.
func newTemplateEnv(tb testing.TB, templates map[string][]byte) (e *env, created *atomic.Int64) {
	tb.Helper()
	return newAnalysisEnv(tb, func(o *server.Options) { o.CanaryTemplates = templates })
}

func shippedDefaultTemplate(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "templates", "default.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// withConfig is a create body with an analysis_config.
func withConfig(tb testing.TB, fields map[string]any, config string) string {
	tb.Helper()
	fields["analysis_config"] = config
	b, err := json.Marshal(fields)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// analysisOf reads the analysis a deploy's judgement names and checks it
// belongs to the deploy.
func (e *env) analysisOf(tb testing.TB, d server.DeployView) store.Analysis {
	tb.Helper()
	if d.Judgement == nil || d.Judgement.AnalysisID == "" {
		tb.Fatalf("deploy %s has no judgement", d.ID)
	}
	w := e.do(tb, req{method: "GET", path: "/api/v1/analyses/" + d.Judgement.AnalysisID, token: humanSecret})
	if w.Code != http.StatusOK {
		tb.Fatalf("GET analysis %s: %d %s", d.Judgement.AnalysisID, w.Code, w.Body)
	}
	a := decode[store.Analysis](tb, w)
	if a.DeployID != d.ID || a.State != store.AnalysisPending || a.CanaryVersion != d.Version || a.BaselineVersion != d.BaselineVersion {
		tb.Errorf("analysis %+v of deploy %+v", a, d.Deploy)
	}
	return a
}

func TestCreateDeployWithAnalysis(t *testing.T) {
	e, created := newTemplateEnv(t, nil)
	config := healthyConfig(t)
	fields := func() map[string]any {
		return map[string]any{"service": "checkout", "env": "prod", "version": "v2", "baseline_version": "v1"}
	}

	d := e.create(t, withConfig(t, fields(), config))
	if d.Judgement.State != string(store.AnalysisPending) || d.Judgement.Verdict != "" || d.Judgement.Decision != nil {
		t.Errorf("judgement %+v, want a pending analysis", d.Judgement)
	}
	a := e.analysisOf(t, d)
	if a.Config != config || !a.StartAt.Equal(d.StartedAt) {
		t.Errorf("analysis config as sent %t, start %s; want the config as sent, from the deploy's start %s", a.Config == config, a.StartAt, d.StartedAt)
	}
	if created.Load() != 1 || e.changed.Load() != 1 {
		t.Errorf("runner woken %d times, outbox %d; want 1 and 1", created.Load(), e.changed.Load())
	}
	w := e.do(t, req{method: "GET", path: "/api/v1/deploys/" + d.ID, token: humanSecret})
	if got := decode[server.DeployView](t, w); got.Judgement == nil || got.Judgement.AnalysisID != a.ID {
		t.Errorf("GET deploy judgement %+v, want analysis %s", got.Judgement, a.ID)
	}

	t.Run("idempotent replay", func(t *testing.T) {
		body := withConfig(t, fields(), config)
		r := req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: body, header: map[string]string{"Idempotency-Key": "job-42"}}
		w := e.do(t, r)
		if w.Code != http.StatusCreated {
			t.Fatalf("first: %d %s", w.Code, w.Body)
		}
		first := decode[server.DeployView](t, w)
		woken := created.Load()
		for range 2 {
			w = e.do(t, r)
			if w.Code != http.StatusOK {
				t.Fatalf("replay: %d %s, want 200", w.Code, w.Body)
			}
			again := decode[server.DeployView](t, w)
			if again.ID != first.ID || again.Judgement == nil || again.Judgement.AnalysisID != first.Judgement.AnalysisID {
				t.Errorf("replay %s judgement %+v, want deploy %s with analysis %s", again.ID, again.Judgement, first.ID, first.Judgement.AnalysisID)
			}
		}
		as, err := e.db.ListAnalyses(t.Context(), first.ID)
		if err != nil || len(as) != 1 || as[0].ID != first.Judgement.AnalysisID {
			t.Errorf("analyses of the deploy %+v (%v), want the first one only", as, err)
		}
		if created.Load() != woken {
			t.Errorf("a replay woke the runner")
		}
	})

	t.Run("bad config records nothing", func(t *testing.T) {
		woken, changed := created.Load(), e.changed.Load()
		for _, tt := range []struct {
			name   string
			fields map[string]any
			config string
			msg    string
		}{
			{"invalid", map[string]any{"service": "bad1", "env": "prod", "version": "v2", "baseline_version": "v1"},
				"thresholds: {pass: 50, marginal: 75}\nmetrics:\n  - name: a\n", "analysis_config|pass 50 is below marginal 75|metrics[0].query (line 3)"},
			{"unknown variable", map[string]any{"service": "bad1", "env": "prod", "version": "v2", "baseline_version": "v1"},
				strings.Replace(config, "{{.Service}}", "{{.Servise}}", 1), "Servise"},
			{"no baseline", map[string]any{"service": "bad1", "env": "prod", "version": "v2"}, config, "baseline"},
			{"same version on both sides", map[string]any{"service": "bad1", "env": "prod", "version": "v2", "baseline_version": "v2"}, config, "same version"},
			{"not a string", map[string]any{"service": "bad1", "env": "prod", "version": "v2", "baseline_version": "v1"}, "", "analysis_config"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				body := withConfig(t, tt.fields, tt.config)
				if tt.config == "" {
					body = strings.Replace(body, `"analysis_config":""`, `"analysis_config":{"metrics":[]}`, 1)
				}
				w := e.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: body})
				if w.Code != http.StatusBadRequest {
					t.Fatalf("%d %s, want 400", w.Code, w.Body)
				}
				msg := errorBody(t, w)
				for _, want := range strings.Split(tt.msg, "|") {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not mention %q", msg, want)
					}
				}
			})
		}
		if ds := e.list(t, "?service=bad1"); len(ds) != 0 {
			t.Errorf("refused deploys were recorded: %+v", ds)
		}
		if created.Load() != woken || e.changed.Load() != changed {
			t.Errorf("a refused deploy woke the runner or the outbox")
		}
	})

	t.Run("server without a metric store", func(t *testing.T) {
		bare := newEnv(t, nil)
		w := bare.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: withConfig(t, fields(), config)})
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(errorBody(t, w), "--prometheus-url") {
			t.Fatalf("%d %s, want 503 naming --prometheus-url", w.Code, w.Body)
		}
		if ds := bare.list(t, ""); len(ds) != 0 || bare.changed.Load() != 0 {
			t.Errorf("recorded %+v", ds)
		}
	})
}

func TestCanaryTemplates(t *testing.T) {
	checkout := []byte(healthyConfig(t))
	def := shippedDefaultTemplate(t)
	e, created := newTemplateEnv(t, map[string][]byte{"checkout": checkout, server.DefaultTemplate: def})
	deploy := func(service, extra string) server.DeployView {
		return e.create(t, `{"service":"`+service+`","env":"prod","version":"v2","baseline_version":"v1"`+extra+`}`)
	}

	for _, tt := range []struct {
		name, service, extra string
		want                 []byte // the config of the analysis; nil: none
	}{
		{"service template", "checkout", "", checkout},
		{"default template", "payments", "", def},
		{"explicit canary stage", "payments", `,"stage":"canary"`, def},
		{"stage full", "payments", `,"stage":"full"`, nil},
		{"own config wins", "checkout", `,"analysis_config":` + jsonString(t, string(def)), def},
	} {
		t.Run(tt.name, func(t *testing.T) {
			woken := created.Load()
			d := deploy(tt.service, tt.extra)
			if tt.want == nil {
				as, err := e.db.ListAnalyses(t.Context(), d.ID)
				if d.Judgement != nil || d.AnalysisSkipped != "" || err != nil || len(as) != 0 || created.Load() != woken {
					t.Errorf("judgement %+v, skipped %q, analyses %v (%v); want none", d.Judgement, d.AnalysisSkipped, as, err)
				}
				return
			}
			if a := e.analysisOf(t, d); a.Config != string(tt.want) {
				t.Errorf("analysis config:\n%s\nwant the template as written:\n%s", a.Config, tt.want)
			}
			if created.Load() != woken+1 {
				t.Errorf("runner woken %d times, want once", created.Load()-woken)
			}
		})
	}

	t.Run("replay", func(t *testing.T) {
		r := req{method: "POST", path: "/api/v1/deploys", token: ciSecret, header: map[string]string{"Idempotency-Key": "tmpl-1"},
			body: `{"service":"search","env":"prod","version":"v2","baseline_version":"v1"}`}
		first := decode[server.DeployView](t, e.do(t, r))
		w := e.do(t, r)
		again := decode[server.DeployView](t, w)
		if w.Code != http.StatusOK || again.ID != first.ID || first.Judgement == nil || again.Judgement == nil || again.Judgement.AnalysisID != first.Judgement.AnalysisID {
			t.Errorf("replay %d %+v, want deploy %+v again", w.Code, again, first)
		}
		if as, err := e.db.ListAnalyses(t.Context(), first.ID); err != nil || len(as) != 1 {
			t.Errorf("analyses %v (%v), want one", as, err)
		}
	})

	t.Run("a template that does not fit", func(t *testing.T) {
		// The first deploy of a service has no baseline: recorded, with no
		// analysis and why.
		w := e.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: `{"service":"fresh","env":"prod","version":"v1"}`})
		if w.Code != http.StatusCreated {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		d := decode[server.DeployView](t, w)
		if d.Judgement != nil || !strings.Contains(d.AnalysisSkipped, "default.yaml") || !strings.Contains(d.AnalysisSkipped, "baseline") {
			t.Errorf("judgement %+v, skipped %q; want none and why", d.Judgement, d.AnalysisSkipped)
		}
		if !strings.Contains(e.logs.String(), "canary template does not fit") {
			t.Errorf("not logged:\n%s", e.logs)
		}
		if got := decode[server.DeployView](t, e.do(t, req{method: "GET", path: "/api/v1/deploys/" + d.ID, token: humanSecret})); got.AnalysisSkipped != "" {
			t.Errorf("GET carries analysis_skipped %q: it is for the create only", got.AnalysisSkipped)
		}
	})

	t.Run("no default", func(t *testing.T) {
		e, _ := newTemplateEnv(t, map[string][]byte{"checkout": checkout})
		d := e.create(t, `{"service":"payments","env":"prod","version":"v2","baseline_version":"v1"}`)
		if d.Judgement != nil || d.AnalysisSkipped != "" {
			t.Errorf("judgement %+v, skipped %q; want neither", d.Judgement, d.AnalysisSkipped)
		}
	})
}

func TestCanaryTemplatesOptions(t *testing.T) {
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret)
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t)
	for _, tt := range []struct {
		name     string
		analyses server.AnalysisStore
		tmpl     map[string][]byte
		msg      string
	}{
		{"no analysis store", nil, map[string][]byte{"default": shippedDefaultTemplate(t)}, "metric store"},
		{"bad service name", db, map[string][]byte{"check:out": shippedDefaultTemplate(t)}, "canary template service"},
		{"empty template", db, map[string][]byte{"checkout": []byte(" \n")}, "empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := server.New(server.Options{Store: db, Tokens: tokens, Analyses: tt.analyses, CanaryTemplates: tt.tmpl})
			if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("New: %v, want an Invalid error mentioning %q", err, tt.msg)
			}
		})
	}
}

func jsonString(tb testing.TB, s string) string {
	tb.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
