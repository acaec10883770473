package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
)

// judged starts an analysis of a new deploy of version and records its one
// interval with the given verdict, leaving it awaiting a decision.
func judged(t *testing.T, e *env, version string, verdict gohere.Verdict) (server.DeployView, store.Analysis) {
	t.Helper()
	d := e.create(t, `{"service":"checkout","env":"prod","version":"`+version+`","baseline_version":"v1"}`)
	w := e.do(t, req{method: "POST", token: ciSecret, body: healthyConfig(t), contentType: "application/yaml",
		path: "/api/v1/deploys/" + d.ID + "/analyses?start=2026-01-01T10:00:00Z&end=2026-01-01T10:30:00Z"})
	if w.Code != http.StatusCreated {
		t.Fatalf("POST analysis: %d %s", w.Code, w.Body)
	}
	a := decode[store.Analysis](t, w)
	recordLast(t, e.db, a, verdict)
	return d, a
}

func recordLast(t *testing.T, db *store.DB, a store.Analysis, verdict gohere.Verdict) {
	t.Helper()
	c, found, err := db.ClaimDueAnalysis(t.Context(), "test", time.Now(), time.Minute)
	if err != nil || !found || c.ID != a.ID {
		t.Fatalf("claim %s = %s, %v, %v", a.ID, c.ID, found, err)
	}
	report, _ := json.Marshal(map[string]any{"verdict": verdict, "score": 0, "reasons": []string{"latency: mean_ratio 1.31 (an increase counts from 1.1)"}})
	iv := store.Interval{Seq: c.NextSeq, Start: c.StartAt, End: c.EndAt, BaselineStart: c.StartAt, BaselineEnd: c.EndAt,
		Queries: json.RawMessage("[]"), Report: report, Verdict: verdict, JudgedAt: time.Now()}
	if err := db.RecordInterval(t.Context(), c.Lease, iv, store.Progress{State: store.AnalysisAwaitingDecision}); err != nil {
		t.Fatalf("RecordInterval: %v", err)
	}
}

func (e *env) decide(t *testing.T, analysisID, token, body string) (int, string) {
	t.Helper()
	w := e.do(t, req{method: "POST", path: "/api/v1/analyses/" + analysisID + "/decision", token: token, body: body})
	return w.Code, w.Body.String()
}

func (e *env) gate(t *testing.T, deployID, query string) (int, server.GateView) {
	t.Helper()
	w := e.do(t, req{method: "GET", path: "/api/v1/deploys/" + deployID + "/gate" + query, token: ciSecret})
	if w.Code != http.StatusOK {
		return w.Code, server.GateView{}
	}
	return w.Code, decode[server.GateView](t, w)
}

func TestDecisionAPI(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	d, a := judged(t, e, "v2", gohere.VerdictFail)

	for _, tc := range []struct {
		name, token, body string
		want              int
	}{
		{"no token", "", `{"decision":"approve"}`, http.StatusUnauthorized},
		{"a pipeline may not decide", ciSecret, `{"decision":"approve"}`, http.StatusForbidden},
		{"unknown decision", humanSecret, `{"decision":"promote"}`, http.StatusBadRequest},
		{"the actor is not the body's", humanSecret, `{"decision":"approve","actor":"mallory"}`, http.StatusBadRequest},
		{"a halt needs a reason", humanSecret, `{"decision":"halt","reason":"  "}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := e.decide(t, a.ID, tc.token, tc.body); got != tc.want {
				t.Errorf("POST decision = %d %s; want %d", got, body, tc.want)
			}
		})
	}
	if code, _ := e.decide(t, "no-such", humanSecret, `{"decision":"approve"}`); code != http.StatusNotFound {
		t.Errorf("decision about an unknown analysis: %d, want 404", code)
	}

	_, g := e.gate(t, d.ID, "")
	if g.State != server.GateWaiting || g.Settled || g.Verdict != gohere.VerdictFail || g.Intervals != 1 ||
		g.Reason == "" || g.AnalysisID != a.ID || g.ReportURL != "https://gohere.example/deploys/"+d.ID+"#analysis-"+a.ID {
		t.Errorf("gate before the decision: %+v", g)
	}

	// A long poll returns as soon as somebody decides.
	polled := make(chan server.GateView, 1)
	go func() { _, g := e.gate(t, d.ID, "?wait=20s"); polled <- g }()
	time.Sleep(100 * time.Millisecond)
	changedBefore := e.changed.Load()
	if code, body := e.decide(t, a.ID, humanSecret, `{"decision":"approve","reason":"known warm-up"}`); code != http.StatusCreated {
		t.Fatalf("approve: %d %s", code, body)
	}
	select {
	case g := <-polled:
		if g.State != server.GatePromote || !g.Settled || g.Decision == nil || g.Decision.Actor != "alice" || g.Decision.Source != gohere.SourceAPI {
			t.Errorf("long poll after approve: %+v", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not return after the decision")
	}
	if e.changed.Load() == changedBefore {
		t.Error("the decision did not wake the annotation outbox")
	}
	got := decode[server.DeployView](t, e.do(t, req{method: "GET", path: "/api/v1/deploys/" + d.ID, token: ciSecret}))
	if got.Stage != gohere.StageFull || got.Judgement == nil || got.Judgement.Decision == nil || got.Judgement.Decision.Kind != gohere.DecisionApprove {
		t.Errorf("deploy after approve: stage %s, judgement %+v", got.Stage, got.Judgement)
	}

	if code, _ := e.decide(t, a.ID, humanSecret, `{"decision":"approve"}`); code != http.StatusConflict {
		t.Errorf("second approve: %d, want 409", code)
	}
	if code, body := e.decide(t, a.ID, humanSecret, `{"decision":"halt","reason":"errors after promotion"}`); code != http.StatusCreated {
		t.Fatalf("halt after approve: %d %s", code, body)
	}
	if code, _ := e.decide(t, a.ID, humanSecret, `{"decision":"approve"}`); code != http.StatusConflict {
		t.Errorf("approve after halt: %d, want 409", code)
	}
	_, g = e.gate(t, d.ID, "?wait=5s") // settled: answers at once
	if g.State != server.GateHalt || !g.Settled || g.DeployStatus != gohere.StatusHalted {
		t.Errorf("gate after halt: %+v", g)
	}
	trail := decode[store.Analysis](t, e.do(t, req{method: "GET", path: "/api/v1/analyses/" + a.ID, token: ciSecret}))
	if len(trail.Decisions) != 2 || trail.Decisions[0].Kind != gohere.DecisionApprove || trail.Decisions[1].Kind != gohere.DecisionHalt {
		t.Errorf("trail %+v; want approve then halt", trail.Decisions)
	}
	// The pipeline reports how the halted rollout ended.
	if f := e.finish(t, d.ID, "rolled_back"); f.Status != gohere.StatusRolledBack {
		t.Errorf("finish after halt: %s", f.Status)
	}
}

func TestGateAnswers(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	plain := e.create(t, `{"service":"cart","env":"prod","version":"v2"}`)
	for _, tc := range []struct {
		name, id, query string
		want            int
	}{
		{"unknown deploy", "no-such", "", http.StatusNotFound},
		{"no analysis", plain.ID, "", http.StatusNotFound},
		{"bad wait", plain.ID, "?wait=soon", http.StatusBadRequest},
		{"wait too long", plain.ID, "?wait=2h", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := e.gate(t, tc.id, tc.query); code != tc.want {
				t.Errorf("gate = %d, want %d", code, tc.want)
			}
		})
	}

	// A deploy that finished without a decision settles its gate: never
	// awaiting a decision nobody can make any more.
	d, _ := judged(t, e, "v3", gohere.VerdictPass)
	e.finish(t, d.ID, "succeeded")
	if _, g := e.gate(t, d.ID, ""); g.State != server.GateWaiting || !g.Settled || g.Detail != "not decided (deploy finished succeeded)" {
		t.Errorf("gate of a succeeded, undecided deploy: %+v", g)
	}
	d, _ = judged(t, e, "v4", gohere.VerdictFail)
	e.finish(t, d.ID, "rolled_back")
	if _, g := e.gate(t, d.ID, ""); g.State != server.GateHalt || !g.Settled {
		t.Errorf("gate of a rolled back, undecided deploy: %+v", g)
	}
	// A long poll without change ends at its wait.
	d, _ = judged(t, e, "v5", gohere.VerdictMarginal)
	began := time.Now()
	if _, g := e.gate(t, d.ID, "?wait=1500ms"); g.State != server.GateWaiting || g.Settled || time.Since(began) < time.Second {
		t.Errorf("long poll without change: %+v after %v", g, time.Since(began))
	}
}

func TestHumanMayOnlyHalt(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	d := e.create(t, `{"service":"cart","env":"prod","version":"v2"}`)
	w := e.do(t, req{method: "POST", path: "/api/v1/deploys/" + d.ID + "/finish", token: humanSecret, body: `{"status":"succeeded"}`})
	if w.Code != http.StatusForbidden {
		t.Errorf("human finishes as succeeded: %d, want 403", w.Code)
	}
	w = e.do(t, req{method: "POST", path: "/api/v1/deploys/" + d.ID + "/finish", token: humanSecret, body: `{"status":"halted"}`})
	if w.Code != http.StatusOK {
		t.Errorf("human halts: %d %s, want 200", w.Code, w.Body)
	}
}

func TestDecisionForm(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	d, a := judged(t, e, "v2", gohere.VerdictFail)
	other, _ := judged(t, e, "v3", gohere.VerdictFail)
	secret, _, err := e.db.CreateSession(t.Context(), "alice", "human", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	post := func(deployID, form string, header map[string]string) *httptest.ResponseRecorder {
		h := map[string]string{"Cookie": "gohere_session=" + secret, "Sec-Fetch-Site": "same-origin"}
		for k, v := range header {
			h[k] = v
		}
		return e.do(t, req{method: "POST", path: "/deploys/" + deployID + "/decision", body: form,
			contentType: "application/x-www-form-urlencoded", header: h})
	}
	halt := "analysis_id=" + a.ID + "&decision=halt&reason=p99+up"
	for _, tc := range []struct {
		name, deploy, form string
		header             map[string]string
		want               int
	}{
		{"from another site", d.ID, halt, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"signed out", d.ID, halt, map[string]string{"Cookie": "gohere_session=revoked"}, http.StatusUnauthorized},
		{"analysis of another deploy", other.ID, halt, nil, http.StatusNotFound},
		{"halt without a reason", d.ID, "analysis_id=" + a.ID + "&decision=halt", nil, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := post(tc.deploy, tc.form, tc.header); w.Code != tc.want {
				t.Errorf("POST decision form = %d, want %d\n%s", w.Code, tc.want, w.Body)
			}
		})
	}
	w := post(d.ID, halt, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/deploys/"+d.ID+"#analysis-"+a.ID {
		t.Fatalf("halt from the page: %d, Location %q; want 303 back to the analysis", w.Code, w.Header().Get("Location"))
	}
	got := decode[store.Analysis](t, e.do(t, req{method: "GET", path: "/api/v1/analyses/" + a.ID, token: ciSecret}))
	if got.Decision == nil || got.Decision.Actor != "alice" || got.Decision.Source != gohere.SourcePage {
		t.Errorf("decision from the page: %+v; want alice from page", got.Decision)
	}
	page := e.do(t, req{method: "GET", path: "/deploys/" + d.ID, header: map[string]string{"Cookie": "gohere_session=" + secret}}).Body.String()
	for _, want := range []string{"halted by alice (page): p99 up", `class="decision-halt"`} {
		if !strings.Contains(page, want) {
			t.Errorf("deploy page lacks %q", want)
		}
	}
	if strings.Contains(page, `button type="submit" name="decision"`) {
		t.Error("the buttons are still offered after the halt finished the deploy")
	}
	if w := post(d.ID, "analysis_id="+a.ID+"&decision=approve", nil); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Back to the deploy") {
		t.Errorf("approve after halt from the page: %d; want 409 with a way back", w.Code)
	}
}

// TestDrainEndsLongPolls: a server shutting down answers its waiting gate
// long polls at once instead of holding the shutdown for their wait.
func TestDrainEndsLongPolls(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	d, _ := judged(t, e, "v2", gohere.VerdictPass)
	polled := make(chan int, 1)
	go func() { code, _ := e.gate(t, d.ID, "?wait=60s"); polled <- code }()
	time.Sleep(200 * time.Millisecond)
	e.srv.Drain()
	select {
	case code := <-polled:
		if code != http.StatusOK {
			t.Errorf("drained long poll: %d, want 200 with the gate as it is", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll still waits after Drain")
	}
}

func TestWrongMethodIs405(t *testing.T) {
	e, _ := newAnalysisEnv(t)
	w := e.do(t, req{method: "DELETE", path: "/api/v1/deploys", token: ciSecret})
	if w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Header().Get("Allow"), "GET") || !strings.Contains(w.Header().Get("Allow"), "POST") {
		t.Errorf("DELETE /api/v1/deploys: %d, Allow %q; want 405 naming GET and POST", w.Code, w.Header().Get("Allow"))
	}
	if w := e.do(t, req{method: "GET", path: "/no/such/page"}); w.Code != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", w.Code)
	}
}
