package server_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
)

// payload reads a recorded webhook payload with its alerts starting at.
func payload(t *testing.T, name string, at time.Time) string {
	t.Helper()
	b, err := os.ReadFile("testdata/alerts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "STARTS_AT", at.UTC().Format(time.RFC3339Nano))
}

func (e *env) alerts(t *testing.T) []gohere.Alert {
	t.Helper()
	as, err := e.db.ListAlerts(t.Context(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// TestAlertHooksTakeTheDocumentedPayloads: Alertmanager's webhook v4 and
// Grafana's webhook payloads, as their documentation shows them, are
// recorded, mapped to services by the label order (service, app, job;
// env, environment) and correlated with the canary running at their start.
func TestAlertHooksTakeTheDocumentedPayloads(t *testing.T) {
	e := newEnv(t, nil)
	canary := e.create(t, `{"service":"checkout","env":"prod","version":"v2","author":"alice","merged_by":"bob"}`)
	at := time.Now().Add(time.Second)

	w := e.do(t, req{method: "POST", path: "/hooks/alertmanager", token: ciSecret, body: payload(t, "alertmanager-v4.json", at)})
	if w.Code != http.StatusOK {
		t.Fatalf("alertmanager hook: %d %s", w.Code, w.Body)
	}
	got := decode[server.AlertHookAnswer](t, w)
	if got.New != 2 || got.Correlated != 1 || len(got.Alerts) != 2 {
		t.Fatalf("answer %+v; want 2 new, 1 correlated", got)
	}
	latency, errs := got.Alerts[0], got.Alerts[1]
	if latency.Service != "checkout" || latency.Env != "prod" || latency.Fingerprint != "b3c1a8e3f2a91d70" ||
		latency.Summary != "p99 latency above 500 ms for 5 minutes" || !latency.EndsAt.IsZero() || latency.Severity != "critical" ||
		len(latency.Correlations) != 1 || latency.Correlations[0].DeployID != canary.ID {
		t.Errorf("HighLatency: %+v", latency)
	}
	if errs.Service != "search" || errs.Env != "prod" || len(errs.Correlations) != 0 {
		t.Errorf("HighErrorRate (app, environment labels; no deploy): %+v", errs)
	}

	// Grafana with basic auth, the token as password.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("grafana:"+ciSecret))
	w = e.do(t, req{method: "POST", path: "/hooks/grafana", body: payload(t, "grafana.json", at), header: map[string]string{"Authorization": basic}})
	if w.Code != http.StatusOK {
		t.Fatalf("grafana hook: %d %s", w.Code, w.Body)
	}
	if g := decode[server.AlertHookAnswer](t, w); g.New != 1 || g.Correlated != 1 || g.Alerts[0].Source != "grafana" {
		t.Errorf("grafana answer %+v", g)
	}

	// Alertmanager resends the group every repeat_interval: nothing new.
	w = e.do(t, req{method: "POST", path: "/hooks/alertmanager", token: ciSecret, body: payload(t, "alertmanager-v4.json", at)})
	if g := decode[server.AlertHookAnswer](t, w); w.Code != http.StatusOK || g.New != 0 {
		t.Errorf("resend: %d %+v; want 200 and nothing new", w.Code, g)
	}
	if n := len(e.alerts(t)); n != 3 {
		t.Errorf("%d alerts stored; want 3", n)
	}

	w = e.do(t, req{method: "GET", path: "/api/v1/deploys/" + canary.ID + "/alerts", token: humanSecret})
	if l := decode[server.AlertList](t, w); w.Code != http.StatusOK || len(l.Alerts) != 2 {
		t.Errorf("deploy alerts: %d, %d alerts; want 200 and 2", w.Code, len(l.Alerts))
	}
	w = e.do(t, req{method: "GET", path: "/api/v1/correlations?service=checkout", token: humanSecret})
	if l := decode[server.AlertList](t, w); w.Code != http.StatusOK || len(l.Alerts) != 2 {
		t.Errorf("correlations: %d, %d alerts; want 200 and 2", w.Code, len(l.Alerts))
	}
	w = e.do(t, req{method: "GET", path: "/api/v1/correlations?service=search", token: humanSecret})
	if l := decode[server.AlertList](t, w); w.Code != http.StatusOK || len(l.Alerts) != 0 {
		t.Errorf("correlations of search: %d alerts; want none (it correlated with nothing)", len(l.Alerts))
	}
	page := e.do(t, req{method: "GET", path: "/deploys/" + canary.ID}).Body.String()
	for _, want := range []string{"HighLatency", "CheckoutLatency", "alert started", "1 of 1"} {
		if !strings.Contains(page, want) {
			t.Errorf("deploy page lacks %q", want)
		}
	}
}

// TestBadAlertPayloadsStoreNothing: every malformed payload is a 4xx with
// a reason, and not one alert of it is stored.
func TestBadAlertPayloadsStoreNothing(t *testing.T) {
	e := newEnv(t, nil)
	at := time.Now()
	good := payload(t, "alertmanager-v4.json", at)
	for _, tc := range []struct {
		name, path, body, token string
		want                    int
		msg                     string
	}{
		{"truncated JSON", "/hooks/alertmanager", good[:len(good)/2], ciSecret, 400, "malformed JSON"},
		{"10 MB", "/hooks/alertmanager", `{"version":"4","alerts":[{"labels":{"alertname":"` + strings.Repeat("x", 10<<20) + `"}}]}`, ciSecret, 413, "larger than"},
		{"wrong version", "/hooks/alertmanager", strings.Replace(good, `"version": "4"`, `"version": "3"`, 1), ciSecret, 400, `want "4"`},
		{"grafana payload to the alertmanager hook", "/hooks/alertmanager", payload(t, "grafana.json", at), ciSecret, 400, `version "1"`},
		{"no alertname", "/hooks/alertmanager", strings.Replace(good, `"alertname": "HighErrorRate",`, "", 1), ciSecret, 400, "alerts[1]: labels.alertname is required"},
		{"no startsAt", "/hooks/alertmanager", strings.Replace(good, `"startsAt": "`+at.UTC().Format(time.RFC3339Nano)+`"`, `"startsAt": ""`, 1), ciSecret, 400, "startsAt"},
		{"bad status", "/hooks/grafana", strings.Replace(payload(t, "grafana.json", at), `"status": "firing",
      "labels"`, `"status": "pending",
      "labels"`, 1), ciSecret, 400, `status "pending"`},
		{"no alerts", "/hooks/alertmanager", `{"version":"4","alerts":[]}`, ciSecret, 400, "no alerts"},
		{"not an object", "/hooks/alertmanager", `[1,2]`, ciSecret, 400, "malformed JSON"},
		{"no token", "/hooks/alertmanager", good, "", 401, "token"},
		{"a human's token", "/hooks/alertmanager", good, humanSecret, 403, "may not write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, req{method: "POST", path: tc.path, token: tc.token, body: tc.body})
			if w.Code != tc.want || !strings.Contains(errorBody(t, w), tc.msg) {
				t.Errorf("%d %s; want %d mentioning %q", w.Code, w.Body, tc.want, tc.msg)
			}
		})
	}
	if as := e.alerts(t); len(as) != 0 {
		t.Errorf("%d alerts stored from bad payloads; want none", len(as))
	}
}

func TestDORAEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	d := e.create(t, `{"service":"checkout","env":"prod","version":"v1","commit_time":"`+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+`"}`)
	e.finish(t, d.ID, "rolled_back")
	w := e.do(t, req{method: "GET", path: "/api/v1/dora?service=checkout&window=7d", token: ciSecret})
	if w.Code != http.StatusOK {
		t.Fatalf("dora: %d %s", w.Code, w.Body)
	}
	k := decode[store.DORA](t, w)
	if k.Deployments != 1 || k.FailedChanges != 1 || k.ChangeFailureRate == nil || *k.ChangeFailureRate != 1 ||
		k.LeadTimeSeconds == nil || *k.LeadTimeSeconds < 3500 || k.Until.Sub(k.Since) != 7*24*time.Hour {
		t.Errorf("keys %+v", k)
	}
	page := e.do(t, req{method: "GET", path: "/?service=checkout"}).Body.String()
	for _, want := range []string{"Last 30 days", "<strong>0.03</strong> deploys a day", "change failure rate <strong>100.0 %</strong>", "(1 of 1)", "time to restore <strong>—</strong>"} {
		if !strings.Contains(page, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	for _, bad := range []string{"window=0d", "window=400d", "window=soon", "services=x", "env=%ff"} {
		if w := e.do(t, req{method: "GET", path: "/api/v1/dora?" + bad, token: ciSecret}); w.Code != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", bad, w.Code)
		}
	}
	if w := e.do(t, req{method: "POST", path: "/api/v1/deploys", token: ciSecret,
		body: `{"service":"checkout","env":"prod","version":"v2","commit_time":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`}); w.Code != http.StatusBadRequest {
		t.Errorf("a commit time after the start: %d, want 400", w.Code)
	}
}
