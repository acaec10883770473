package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/gohere/gohere"
)

// flagger posts Flagger's webhook payload (CanaryWebhookPayload) as Flagger
// does: JSON, no headers of its own, the token in the webhook metadata.
func (e *env) flagger(t *testing.T, hook, name, namespace string, metadata map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "namespace": namespace, "phase": "Promoting",
		"checksum": "6d4f5c7b9f", "metadata": metadata})
	return e.do(t, req{method: "POST", path: "/hooks/flagger/" + hook, body: string(body)})
}

func TestFlaggerHooks(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	d, a := judged(t, e, "v2", gohere.VerdictPass)
	byID := map[string]string{"deploy_id": d.ID, "token": ciSecret}
	byName := map[string]string{"token": ciSecret} // the canary checkout in namespace prod

	for _, tc := range []struct {
		name, hook, canary, namespace string
		metadata                      map[string]string
		want                          int
	}{
		{"no token", "confirm-promotion", "checkout", "prod", map[string]string{"deploy_id": d.ID}, http.StatusUnauthorized},
		{"wrong token", "confirm-promotion", "checkout", "prod", map[string]string{"deploy_id": d.ID, "token": "not-a-token-at-all"}, http.StatusUnauthorized},
		{"undecided: not yet", "confirm-promotion", "x", "y", byID, http.StatusForbidden},
		{"undecided, matched by name and namespace", "confirm-promotion", "checkout", "prod", byName, http.StatusForbidden},
		{"confirm-rollout gate, undecided", "gate", "checkout", "prod", byName, http.StatusForbidden},
		{"rollback only after a halt", "rollback", "checkout", "prod", byName, http.StatusForbidden},
		{"unknown service", "confirm-promotion", "cart", "prod", byName, http.StatusNotFound},
		{"other version", "confirm-promotion", "checkout", "prod", map[string]string{"token": ciSecret, "version": "v9"}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := e.flagger(t, tc.hook, tc.canary, tc.namespace, tc.metadata); w.Code != tc.want {
				t.Errorf("POST /hooks/flagger/%s = %d %s; want %d", tc.hook, w.Code, w.Body, tc.want)
			}
		})
	}
	// A bearer header works as well (a proxy in front may add it).
	w := e.do(t, req{method: "POST", path: "/hooks/flagger/confirm-promotion", token: ciSecret,
		body: `{"name":"checkout","namespace":"prod","phase":"Promoting","metadata":{"service":"checkout","env":"prod","version":"v2"}}`})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "awaiting a decision") {
		t.Errorf("undecided with a bearer header: %d %s; want 403 saying it awaits a decision", w.Code, w.Body)
	}

	if code, body := e.decide(t, a.ID, humanSecret, `{"decision":"approve","reason":"fine"}`); code != http.StatusCreated {
		t.Fatalf("approve: %d %s", code, body)
	}
	for _, hook := range []string{"confirm-promotion", "gate"} {
		if w := e.flagger(t, hook, "checkout", "prod", byName); w.Code != http.StatusOK {
			t.Errorf("%s after approve: %d %s; want 200", hook, w.Code, w.Body)
		}
	}
	if code, body := e.decide(t, a.ID, humanSecret, `{"decision":"halt","reason":"errors after promotion"}`); code != http.StatusCreated {
		t.Fatalf("halt: %d %s", code, body)
	}
	if w := e.flagger(t, "confirm-promotion", "x", "y", byID); w.Code != http.StatusForbidden {
		t.Errorf("confirm-promotion after halt: %d; want 403", w.Code)
	}
	if w := e.flagger(t, "rollback", "x", "y", byID); w.Code != http.StatusOK {
		t.Errorf("rollback after halt: %d %s; want 200", w.Code, w.Body)
	}
	if w := e.do(t, req{method: "POST", path: "/hooks/flagger/gate", body: `{"name":`}); w.Code != http.StatusBadRequest {
		t.Errorf("truncated payload: %d; want 400", w.Code)
	}
}

// argoTemplate is the part of the shipped AnalysisTemplate that decides how
// Argo Rollouts reads the gate.
type argoTemplate struct {
	Spec struct {
		Metrics []struct {
			Interval                string `yaml:"interval"`
			Count                   int    `yaml:"count"`
			ConsecutiveSuccessLimit int    `yaml:"consecutiveSuccessLimit"`
			InconclusiveLimit       int    `yaml:"inconclusiveLimit"`
			FailureLimit            int    `yaml:"failureLimit"`
			SuccessCondition        string `yaml:"successCondition"`
			FailureCondition        string `yaml:"failureCondition"`
			Provider                struct {
				Web struct {
					URL     string `yaml:"url"`
					Headers []struct {
						Key   string `yaml:"key"`
						Value string `yaml:"value"`
					} `yaml:"headers"`
					JSONPath string `yaml:"jsonPath"`
				} `yaml:"web"`
			} `yaml:"provider"`
		} `yaml:"metrics"`
	} `yaml:"spec"`
}

// jsonPathField evaluates the simple JSONPath "{$.a.b}" the way Argo's web
// provider does for such paths: the value at that key, as a string.
func jsonPathField(t *testing.T, path string, body []byte) string {
	t.Helper()
	keys, ok := strings.CutPrefix(path, "{$.")
	if !ok || !strings.HasSuffix(keys, "}") {
		t.Fatalf("jsonPath %q: not of the form {$.field}", path)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("gate answer: %v", err)
	}
	for _, k := range strings.Split(strings.TrimSuffix(keys, "}"), ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("jsonPath %q: %v is no object", path, v)
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// condition evaluates `result == "x"`, the only form the template uses.
func condition(t *testing.T, cond, result string) bool {
	t.Helper()
	m := regexp.MustCompile(`^result == "([a-z]+)"$`).FindStringSubmatch(cond)
	if m == nil {
		t.Fatalf("condition %q: want result == \"...\"", cond)
	}
	return result == m[1]
}

func TestArgoRolloutsTemplate(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/rollouts/argo-analysistemplate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), strings.TrimSpace(string(raw))) {
		t.Error("README.md does not show fixtures/rollouts/argo-analysistemplate.yaml as it is")
	}
	var tmpl argoTemplate
	if err := yaml.Unmarshal(raw, &tmpl); err != nil || len(tmpl.Spec.Metrics) != 1 {
		t.Fatalf("template: %v, %d metrics", err, len(tmpl.Spec.Metrics))
	}
	m := tmpl.Spec.Metrics[0]
	// Argo's defaults would end the wait early: one Inconclusive look
	// pauses the rollout, and a success does not end the run before count.
	if m.Interval == "" || m.Count < 1 || m.ConsecutiveSuccessLimit != 1 || m.InconclusiveLimit < m.Count || m.FailureLimit != 0 {
		t.Errorf("metric %+v: want interval, count, consecutiveSuccessLimit 1, inconclusiveLimit >= count, failureLimit 0", m)
	}
	web := m.Provider.Web
	if web.JSONPath != "{$.state}" || len(web.Headers) != 1 || web.Headers[0].Key != "Authorization" {
		t.Fatalf("web provider %+v", web)
	}

	e, _ := newAnalysisEnv(t)
	d, a := judged(t, e, "v2", gohere.VerdictFail)
	// Exactly the request Argo makes from the template: GET, no body, the
	// template's header with the args filled in.
	look := func() (success, failure bool) {
		u, err := url.Parse(strings.ReplaceAll(web.URL, "{{args.deploy-id}}", d.ID))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, u.Path, nil)
		r.Header.Set(web.Headers[0].Key, strings.ReplaceAll(web.Headers[0].Value, "{{args.gohere-token}}", ciSecret))
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", u.Path, w.Code, w.Body)
		}
		result := jsonPathField(t, web.JSONPath, w.Body.Bytes())
		return condition(t, m.SuccessCondition, result), condition(t, m.FailureCondition, result)
	}
	if s, f := look(); s || f {
		t.Errorf("undecided: success %v failure %v; want Inconclusive", s, f)
	}
	if code, body := e.decide(t, a.ID, humanSecret, `{"decision":"halt","reason":"latency up 31 %"}`); code != http.StatusCreated {
		t.Fatalf("halt: %d %s", code, body)
	}
	if s, f := look(); s || !f {
		t.Errorf("halted: success %v failure %v; want Failed", s, f)
	}
	d2, a2 := judged(t, e, "v3", gohere.VerdictPass)
	d = d2
	if code, body := e.decide(t, a2.ID, humanSecret, `{"decision":"approve"}`); code != http.StatusCreated {
		t.Fatalf("approve: %d %s", code, body)
	}
	if s, f := look(); !s || f {
		t.Errorf("approved: success %v failure %v; want Successful", s, f)
	}
}
