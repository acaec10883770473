package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/server"
)

const slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// trainEnv is a server with trains and slash commands on a real SQLite
// store; the humans are alice, bob and carol.
func trainEnv(t *testing.T) http.Handler {
	t.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret + ",human:alice:" + humanSecret + ",human:bob:bob-secret-0123456789,admin:root:" + adminSecret)
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t)
	srv, err := server.New(server.Options{Store: db, Tokens: tokens, Trains: db, SlackSigningSecret: slackSecret, TrainCarSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

func trainCall(t *testing.T, h http.Handler, secret, method, path, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+secret)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: %d %q: not JSON", method, path, w.Code, w.Body)
	}
	return w.Code, out
}

// slash posts a slash command as Slack signs it, at ts.
func slash(t *testing.T, h http.Handler, user, text string, ts time.Time, secret string) *httptest.ResponseRecorder {
	t.Helper()
	body := url.Values{"token": {"x"}, "team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {"U" + strings.ToUpper(user)},
		"user_name": {user}, "command": {"/gohere"}, "text": {text}, "response_url": {"https://hooks.slack.test/r"}, "trigger_id": {"1.2"}}.Encode()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":" + body))
	r := httptest.NewRequest(http.MethodPost, "/hooks/slack/command", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", stamp)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTrainAPI(t *testing.T) {
	h := trainEnv(t)
	for _, secret := range []string{humanSecret, "bob-secret-0123456789", adminSecret} {
		if code, out := trainCall(t, h, secret, http.MethodPost, "/api/v1/trains/checkout/join", ""); code != http.StatusOK {
			t.Fatalf("join: %d %v", code, out)
		}
	}
	tests := []struct {
		name, secret, path, body string
		want                     int
	}{
		{"a ci token is no person", ciSecret, "/api/v1/trains/checkout/join", "", http.StatusForbidden},
		{"unknown action", humanSecret, "/api/v1/trains/checkout/fly", "", http.StatusNotFound},
		{"bad train name", humanSecret, "/api/v1/trains/bad%20name/join", "", http.StatusBadRequest},
		{"unknown field", humanSecret, "/api/v1/trains/checkout/stop", `{"why":"x"}`, http.StatusBadRequest},
		{"stop without a reason", humanSecret, "/api/v1/trains/checkout/stop", `{}`, http.StatusBadRequest},
		{"root's car is not at the head", adminSecret, "/api/v1/trains/checkout/in", "", http.StatusConflict},
		{"bob is not alice's leader", "bob-secret-0123456789", "/api/v1/trains/checkout/remove", `{"member":"alice"}`, http.StatusForbidden},
		{"alice is in", humanSecret, "/api/v1/trains/checkout/in", "", http.StatusOK},
		{"stop", "bob-secret-0123456789", "/api/v1/trains/checkout/stop", `{"reason":"payments 5xx"}`, http.StatusOK},
		{"nothing moves", "bob-secret-0123456789", "/api/v1/trains/checkout/in", "", http.StatusConflict},
		{"a human starts it", adminSecret, "/api/v1/trains/checkout/start", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := trainCall(t, h, tt.secret, http.MethodPost, tt.path, tt.body)
			if code != tt.want {
				t.Fatalf("%d %v, want %d", code, out, tt.want)
			}
			if code >= 400 && out["error"] == "" {
				t.Errorf("no error message: %v", out)
			}
		})
	}
	code, out := trainCall(t, h, ciSecret, http.MethodGet, "/api/v1/trains", "")
	if code != http.StatusOK {
		t.Fatalf("list: %d %v", code, out)
	}
	var got []string
	for _, tr := range out["trains"].([]any) {
		for _, c := range tr.(map[string]any)["cars"].([]any) {
			for _, m := range c.(map[string]any)["members"].([]any) {
				mm := m.(map[string]any)
				got = append(got, mm["name"].(string)+":"+mm["state"].(string))
			}
		}
	}
	if diff := cmp.Diff([]string{"alice:in", "bob:waiting", "root:waiting"}, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
}

func TestSlashCommandSigning(t *testing.T) {
	h := trainEnv(t)
	now := time.Now()
	tests := []struct {
		name   string
		at     time.Time
		secret string
		want   int
	}{
		{"signed", now, slackSecret, http.StatusOK},
		{"bad signature", now, "another-secret", http.StatusUnauthorized},
		{"six minutes old", now.Add(-6 * time.Minute), slackSecret, http.StatusUnauthorized},
		{"six minutes ahead", now.Add(6 * time.Minute), slackSecret, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := slash(t, h, "dave", "status", tt.at, tt.secret)
			if w.Code != tt.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.want)
			}
			var out struct{ Error, ResponseType, Text string }
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == http.StatusOK && !strings.Contains(w.Body.String(), `"response_type":"ephemeral"`):
				t.Errorf("reply %s: want an ephemeral one", w.Body)
			case tt.want != http.StatusOK && out.Error == "":
				t.Errorf("refusal %s: want a JSON error", w.Body)
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/hooks/slack/command", strings.NewReader("text=join+x"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d, want 401", w.Code)
	}
}

func TestSlashCommands(t *testing.T) {
	h := trainEnv(t)
	now := time.Now()
	steps := []struct{ user, text, want string }{
		{"dave", "join checkout", "dave joined car 1"},
		{"erin", "join checkout", "erin joined car 1"},
		{"dave", "in", "dave is in (car 1)"},
		{"erin", "in checkout", "Car 1 is all in: dave, deploy it to staging."},
		{"mallory", "in", "mallory is in no train"},
		{"erin", "stop checkout: <!channel> *bold* payments", "*stopped* by erin"},
		{"erin", "stop again", "stopped by erin already"},
		{"dave", "status", "checkout train* *stopped* by erin"},
		{"dave", "start", "started* again by dave"},
		{"dave", "fly", "usage: /gohere"},
	}
	for _, s := range steps {
		w := slash(t, h, s.user, s.text, now, slackSecret)
		var out struct{ ResponseType, Text string }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK {
			t.Fatalf("%s %q: %d %s", s.user, s.text, w.Code, w.Body)
		}
		if !strings.Contains(out.Text, s.want) {
			t.Errorf("%s %q: reply %q, want it to contain %q", s.user, s.text, out.Text, s.want)
		}
		if strings.Contains(out.Text, "<!channel>") {
			t.Errorf("%s %q: reply %q pings the channel: user text must be escaped", s.user, s.text, out.Text)
		}
	}
}

func TestParseSlashCommand(t *testing.T) {
	tests := []struct {
		text string
		want server.SlashCommand
		err  bool
	}{
		{"", server.SlashCommand{Action: "help"}, false},
		{"join checkout", server.SlashCommand{Action: "join", Train: "checkout"}, false},
		{"JOIN  checkout ", server.SlashCommand{Action: "join", Train: "checkout"}, false},
		{"join", server.SlashCommand{}, true},
		{"join a b", server.SlashCommand{}, true},
		{"in", server.SlashCommand{Action: "in"}, false},
		{"verified payments", server.SlashCommand{Action: "verified", Train: "payments"}, false},
		{"stop the db is down", server.SlashCommand{Action: "stop", Arg: "the db is down"}, false},
		{"stop checkout: the db is down", server.SlashCommand{Action: "stop", Train: "checkout", Arg: "the db is down"}, false},
		{"stop", server.SlashCommand{}, true},
		{"stop checkout:", server.SlashCommand{}, true},
		{"remove bob", server.SlashCommand{Action: "remove", Arg: "bob"}, false},
		{"status", server.SlashCommand{Action: "status"}, false},
		{"join bad\x00name", server.SlashCommand{}, true},
		{"dance", server.SlashCommand{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := server.ParseSlashCommand(tt.text)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil && gohere.KindOf(err) != gohere.Invalid {
				t.Errorf("err kind %v, want invalid", gohere.KindOf(err))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseSlashCommand(f *testing.F) {
	for _, s := range []string{"join checkout", "stop checkout: why", "stop : x", "remove a b", "in \u200b", "status ✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := server.ParseSlashCommand(text)
		if err != nil {
			if gohere.KindOf(err) != gohere.Invalid {
				t.Fatalf("%q: error kind %v, want invalid", text, gohere.KindOf(err))
			}
			return
		}
		if c.Train != "" && gohere.ValidateName("train", c.Train) != nil {
			t.Fatalf("%q: accepted train name %q", text, c.Train)
		}
		if c.Action == "stop" && strings.TrimSpace(c.Arg) == "" {
			t.Fatalf("%q: a stop without a reason", text)
		}
	})
}

func TestTrainPage(t *testing.T) {
	e := newSessionEnv(t, func(o *server.Options) { o.Trains = o.Store.(server.TrainStore) })
	if w := e.do(t, pageReq{method: "GET", path: "/train"}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Nobody is on a train") {
		t.Fatalf("GET /train, empty: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, pageReq{method: "POST", path: "/train/join", form: url.Values{"train": {"checkout"}}}); w.Code != http.StatusUnauthorized {
		t.Errorf("join signed out: %d, want 401", w.Code)
	}
	alice := e.signedIn(t, humanSecret)
	w := e.do(t, pageReq{method: "POST", path: "/train/join", form: url.Values{"train": {"checkout"}}, cookie: alice})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/train#train-checkout" {
		t.Fatalf("join: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	page := e.do(t, pageReq{method: "GET", path: "/train", cookie: alice}).Body.String()
	for _, want := range []string{`id="train-checkout"`, `class="name">alice</span> <span class="lead">leads</span>`, "I'm in", "Stop the train", "Leave"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page, signed in: no %q", want)
		}
	}
	if strings.Contains(page, ">Verified</button>") {
		t.Error("Verified offered before the car is on staging")
	}
	w = e.do(t, pageReq{method: "POST", path: "/train/stop", form: url.Values{"train": {"checkout"}, "reason": {"<script>x</script>"}}, cookie: alice})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("stop: %d %s", w.Code, w.Body)
	}
	page = e.do(t, pageReq{method: "GET", path: "/train"}).Body.String()
	if !strings.Contains(page, "Stopped by <strong>alice</strong>") || strings.Contains(page, "<script>x") || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("the stopped train's page, signed out:\n%s", page)
	}
	// The timeline's "Deploying now" shows the train too, of its service.
	for path, want := range map[string]bool{"/": true, "/?service=checkout": true, "/?service=search": false} {
		tl := e.do(t, pageReq{method: "GET", path: path}).Body.String()
		line := regexp.MustCompile(`<ul class="trains-now">\s*<li>(.*)</li>`).FindStringSubmatch(tl)
		if got := line != nil; got != want {
			t.Errorf("timeline %s shows a train: %v, want %v", path, got, want)
			continue
		}
		if want && (!strings.Contains(line[1], "checkout train") || !strings.Contains(line[1], "stopped by alice") ||
			!strings.Contains(line[1], "car 1 boarding") || !strings.Contains(line[1], "led by alice (alice waiting)")) {
			t.Errorf("timeline %s: the train reads %q", path, line[1])
		}
	}
	cross := e.do(t, pageReq{method: "POST", path: "/train/start", form: url.Values{"train": {"checkout"}}, cookie: alice,
		header: http.Header{"Sec-Fetch-Site": {"cross-site"}}})
	if cross.Code != http.StatusForbidden {
		t.Errorf("a cross-site start: %d, want 403", cross.Code)
	}
}

// TestTrainDeployChecked: the deploy a ci token ties to the head car must
// be a recorded, running one of the car's stage.
func TestTrainDeployChecked(t *testing.T) {
	h := trainEnv(t)
	for _, a := range []string{"join", "in"} { // alice alone: staging
		if code, out := trainCall(t, h, humanSecret, http.MethodPost, "/api/v1/trains/checkout/"+a, ""); code != http.StatusOK {
			t.Fatalf("%s: %d %v", a, code, out)
		}
	}
	code, out := trainCall(t, h, ciSecret, http.MethodPost, "/api/v1/trains/checkout/deploy", `{"deploy_id":"no-such-deploy"}`)
	if msg, _ := out["error"].(string); code != http.StatusBadRequest || !strings.Contains(msg, "not recorded") {
		t.Fatalf("an unknown deploy: %d %v, want 400 and why", code, out)
	}
	code, out = trainCall(t, h, ciSecret, http.MethodPost, "/api/v1/deploys", `{"service":"checkout","env":"staging","version":"v2","stage":"full"}`)
	if code != http.StatusCreated {
		t.Fatalf("start deploy: %d %v", code, out)
	}
	id := out["id"].(string)
	if code, out := trainCall(t, h, ciSecret, http.MethodPost, "/api/v1/trains/checkout/deploy", `{"deploy_id":"`+id+`"}`); code != http.StatusOK {
		t.Fatalf("the car's deploy: %d %v", code, out)
	}
}

// TestSlashStopNote: "stop NOTE: db is down" stops the caller's train with
// all of it as the reason, and makes no train NOTE; a stop of a train
// nobody is on is refused.
func TestSlashStopNote(t *testing.T) {
	h := trainEnv(t)
	now := time.Now()
	for _, s := range []struct{ user, text, want string }{
		{"dave", "join checkout", "dave joined car 1"},
		{"mallory", "stop NOTE: db is down", "mallory is in no train"},
		{"dave", "stop NOTE: db is down", "*stopped* by dave"},
	} {
		w := slash(t, h, s.user, s.text, now, slackSecret)
		var out struct{ Text string }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK || !strings.Contains(out.Text, s.want) {
			t.Fatalf("%s %q: %d %s, want %q", s.user, s.text, w.Code, w.Body, s.want)
		}
	}
	code, out := trainCall(t, h, humanSecret, http.MethodGet, "/api/v1/trains", "")
	if code != http.StatusOK {
		t.Fatalf("list: %d %v", code, out)
	}
	trains := out["trains"].([]any)
	if len(trains) != 1 {
		t.Fatalf("trains %v, want checkout only", trains)
	}
	if tr := trains[0].(map[string]any); tr["train"] != "checkout" || tr["stopped"] != true || tr["reason"] != "NOTE: db is down" {
		t.Errorf("train %v, want checkout stopped for %q", tr, "NOTE: db is down")
	}
	code, out = trainCall(t, h, humanSecret, http.MethodPost, "/api/v1/trains/empty/stop", `{"reason":"x"}`)
	if msg, _ := out["error"].(string); code != http.StatusBadRequest || !strings.Contains(msg, "nobody aboard") {
		t.Errorf("stop of a train nobody is on: %d %v, want 400 and why", code, out)
	}
}
