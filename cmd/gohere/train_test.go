package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/browsertest"
	"github.com/gohere/gohere/internal/chattest"
	"github.com/gohere/gohere/internal/client"
)

const trainSlackSecret = "slack-signing-secret-for-tests"

// trainPeople are the humans of the scripted day; ivan is in no car.
var trainPeople = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "ivan"}

func trainSecret(name string) string { return name + "-secret-0123456789" }

// startTrainServe runs `gohere serve` as its own process (so that it can
// be killed) with the day's people as tokens, the chat double as its push
// channel and slash commands on.
func startTrainServe(t *testing.T, addr, db, chatURL string) *serveProcess {
	t.Helper()
	tokens := []string{"ci:pipeline:" + testCISecret}
	for _, p := range trainPeople {
		tokens = append(tokens, "human:"+p+":"+trainSecret(p))
	}
	secretFile := filepath.Join(t.TempDir(), "slack-secret")
	if err := os.WriteFile(secretFile, []byte(trainSlackSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "--db", db, "--listen", addr, "--notify-webhook", chatURL+"/slack",
		"--notify-timeout", "2s", "--slack-signing-secret-file", secretFile, "--train-car-size", "3")
	cmd.Env = append(os.Environ(), "GOHERE_TEST_RUN_MAIN=1", "GOHERE_TOKENS="+strings.Join(tokens, ","), "GOHERE_DB=", "GOHERE_TOKENS_FILE=")
	p := &serveProcess{cmd: cmd, url: "http://" + addr, log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = io.Discard, &lockedWriter{w: p.log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitUntil(t, "gohere serve ready", 30*time.Second, func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// slackCommand posts a slash command signed as Slack signs it.
func slackCommand(t *testing.T, srv, user, text string, at time.Time, secret string) (int, string) {
	t.Helper()
	body := url.Values{"token": {"x"}, "team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {"U" + strings.ToUpper(user)},
		"user_name": {user}, "command": {"/gohere"}, "text": {text}, "response_url": {"https://hooks.slack.test/r"}, "trigger_id": {"1.2"}}.Encode()
	stamp := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":" + body))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv+"/hooks/slack/command", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTrainScriptedDay is the day: seven people join the checkout
// train (three cars), the head car pushes, verifies and deploys, dave of
// car 2 stops the train, ivan (a human in no car) starts it again on the
// page, and a DARK change ships in the fast lane meanwhile. It goes
// through the CLI, the signed slash command and the page in Chromium; the
// chat hears exactly one message per change; a SIGKILL of the server in
// the middle changes nothing of the train.
func TestTrainScriptedDay(t *testing.T) {
	chat := chattest.New(t)
	db := filepath.Join(t.TempDir(), "gohere.db")
	addr := freeAddr(t)
	p := startTrainServe(t, addr, db, chat.URL)
	srv := p.url
	changes := 0 // the train's state changes so far: one message each

	cli := func(who string, args ...string) (int, string, string) {
		t.Helper()
		secret := testCISecret
		if who != "ci" {
			secret = trainSecret(who)
		}
		return gohereCLI(t, append(args, "--server", srv, "--token", secret)...)
	}
	train := func(who, action string, extra ...string) {
		t.Helper()
		if code, out, errOut := cli(who, append([]string{"train", action, "--service", "checkout"}, extra...)...); code != 0 {
			t.Fatalf("%s: train %s: exit %d\n%s%s", who, action, code, out, errOut)
		}
		changes++
	}
	slash := func(who, text, want string) {
		t.Helper()
		code, body := slackCommand(t, srv, who, text, time.Now(), trainSlackSecret)
		var r struct {
			ResponseType string `json:"response_type"`
			Text         string
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || code != http.StatusOK || r.ResponseType != "ephemeral" {
			t.Fatalf("%s: /gohere %s: %d %s", who, text, code, body)
		}
		if !strings.Contains(r.Text, want) {
			t.Fatalf("%s: /gohere %s: reply %q, want %q in it", who, text, r.Text, want)
		}
		changes++
	}
	status := func() client.Train {
		t.Helper()
		code, out, errOut := cli("ci", "train", "status", "--service", "checkout", "-o", "json")
		if code != 0 {
			t.Fatalf("status: exit %d %s", code, errOut)
		}
		var tr client.Train
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatalf("status -o json: %v\n%s", err, out)
		}
		return tr
	}
	carsOf := func(tr client.Train) string {
		var cs []string
		for _, c := range tr.Cars {
			var ms []string
			for _, m := range c.Members {
				ms = append(ms, m.Name+":"+m.State)
			}
			cs = append(cs, c.State+"["+strings.Join(ms, " ")+"]")
		}
		return strings.Join(cs, " ")
	}
	deployID := regexp.MustCompile(`^deploy (\S+): `)
	deploy := func(env, version string, extra ...string) string {
		t.Helper()
		code, out, errOut := cli("ci", append([]string{"deploy", "start", "--service", "checkout", "--env", env, "--version", version, "--stage", "full"}, extra...)...)
		m := deployID.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("deploy start %s %s: exit %d\n%s%s", env, version, code, out, errOut)
		}
		return m[1]
	}
	finish := func(id string) {
		t.Helper()
		if code, _, errOut := cli("ci", "deploy", "finish", id, "--status", "succeeded"); code != 0 {
			t.Fatalf("finish %s: exit %d %s", id, code, errOut)
		}
	}

	// Seven join: four by CLI, three in chat.
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		train(n, "join")
	}
	slash("erin", "join checkout", "erin joined car 2")
	slash("frank", "join checkout", "frank joined car 2")
	slash("grace", "join checkout", "grace joined car 3")
	if got, want := carsOf(status()), "boarding[alice:waiting bob:waiting carol:waiting] boarding[dave:waiting erin:waiting frank:waiting] boarding[grace:waiting]"; got != want {
		t.Fatalf("after the joins: %s\nwant %s", got, want)
	}
	if code, _, errOut := cli("dave", "train", "in", "--service", "checkout"); code != exitError || !strings.Contains(errOut, "not at the head yet") {
		t.Errorf("dave in before his car leads: exit %d %q; want 3 and why", code, errOut)
	}

	// The head car pushes; the pipeline deploys it to staging.
	train("alice", "in", "--change", "a1:fix tax rounding")
	train("bob", "in", "--change", "b2:retry payments", "--change", "b3:log declines")
	slash("carol", "in", "Car 1 is all in: alice, deploy it to staging.")
	// The car's deploy ships its members' changes, each by its author.
	staging := deploy("staging", "v2", "--train", "checkout")
	changes++
	if d, err := mustClient(t, srv).GetDeploy(t.Context(), staging); err != nil || len(d.Changes) != 3 || d.Changes[0].Author != "alice" || d.Changes[2].Author != "bob" {
		t.Errorf("the car's staging deploy ships %+v, %v; want alice's and bob's 3 changes", d.Changes, err)
	}

	// SIGKILL now: the train is exactly as it was once the server is back.
	before := status()
	waitMessages(t, chat, changes, p)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	p = startTrainServe(t, addr, db, chat.URL)
	if after := status(); carsOf(after) != carsOf(before) || after.Cars[0].DeployID != staging || after.Cars[0].Since != before.Cars[0].Since {
		t.Fatalf("after SIGKILL the train is %s (deploy %s)\nwant %s (deploy %s)", carsOf(after), after.Cars[0].DeployID, carsOf(before), staging)
	}

	finish(staging)
	changes++
	waitUntil(t, "the car on staging to verify", 30*time.Second, func() bool { return status().Cars[0].State == "verifying" })
	train("alice", "verified")
	train("bob", "verified")
	slash("carol", "verified", "Car 1 is verified: alice, deploy it to production.")
	prod := deploy("prod", "v2", "--train", "checkout")
	changes++
	finish(prod)
	changes++
	waitUntil(t, "car 2 to lead", 30*time.Second, func() bool { return status().Leader == "dave" })

	// Dave, of what is now the head car, stops the train; nothing moves.
	slash("dave", "stop payments 5xx since v2", "*stopped* by dave")
	if code, _, errOut := cli("erin", "train", "in", "--service", "checkout"); code != exitError || !strings.Contains(errOut, "stopped by dave") {
		t.Errorf("erin in while stopped: exit %d %q; want 3 and why", code, errOut)
	}

	// Meanwhile a DARK change ships in its own lane: no train, no queue.
	dark := deploy("prod", "v3", "--change", "d4:erin:DARK new checkout flow")
	finish(dark)
	config := deploy("prod", "v4", "--config-only", "--change", "e5:frank:raise the pool size")
	if d, err := mustClient(t, srv).GetDeploy(t.Context(), config); err != nil || d.Changes[0].Title != "CONFIG raise the pool size" {
		t.Errorf("config-only deploy: %+v, %v; want its change titled CONFIG", d.Changes, err)
	}
	finish(config)
	if code, _, errOut := cli("ci", "deploy", "start", "--service", "checkout", "--env", "prod", "--version", "v5",
		"--config-only", "--train", "checkout", "--change", "f6:frank:x"); code != exitError || !strings.Contains(errOut, "outside the push train") {
		t.Errorf("--config-only --train: exit %d %q; want 3 and why", code, errOut)
	}
	if tr := status(); !tr.Stopped || tr.Leader != "dave" || len(tr.Cars) != 2 {
		t.Errorf("after the DARK deploy the train is stopped=%v led by %s with %d cars; want it untouched", tr.Stopped, tr.Leader, len(tr.Cars))
	}

	// Ivan, a human in no car, starts it again on the page.
	ctx := browsertest.New(t, 90*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/login?next=/train"),
		chromedp.SendKeys(chromedp.CSS("#token"), trainSecret("ivan")),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("section.train-stopped"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	reason, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".train-reason")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "5xx") {
		t.Errorf("the stopped train's page says %q; want who and why", reason)
	}
	shot := func(path string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	shot(browsertest.Artifact(t, "train-stopped.png"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("section.train button.approve")),
		chromedp.WaitVisible(chromedp.CSS("section.train .train-state.running"))); err != nil {
		t.Fatalf("start on the page: %v", err)
	}
	changes++
	shot("/tmp/train.png")
	if tr := status(); tr.Stopped {
		t.Errorf("after Start on the page the train is still stopped: %+v", tr)
	}

	// Slash commands not signed with the secret, or too old, are refused.
	for _, bad := range []struct {
		name   string
		at     time.Time
		secret string
	}{{"bad signature", time.Now(), "not-the-secret"}, {"old timestamp", time.Now().Add(-6 * time.Minute), trainSlackSecret}} {
		code, body := slackCommand(t, srv, "mallory", "stop checkout: pwned", bad.at, bad.secret)
		if code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s; want 401 with a JSON error", bad.name, code, body)
		}
	}

	// Exactly one message per change, none lost or doubled by the kill.
	waitMessages(t, chat, changes, p)
	time.Sleep(time.Second) // a doubled message would arrive by now
	if got := trainMessages(chat); len(got) != changes {
		t.Errorf("%d train messages for %d changes:\n%s", len(got), changes, strings.Join(got, "\n"))
	}
	if tr := status(); tr.Stopped || tr.Shipped != 1 || tr.Leader != "dave" {
		t.Errorf("at the end: stopped=%v shipped=%d leader=%s; want running, 1, dave", tr.Stopped, tr.Shipped, tr.Leader)
	}
}

// waitMessages waits until the chat has n train messages.
func waitMessages(t *testing.T, chat *chattest.Server, n int, p *serveProcess) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); len(trainMessages(chat)) < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			log := p.cmd.Stderr.(*lockedWriter)
			log.mu.Lock()
			defer log.mu.Unlock()
			t.Fatalf("%d train messages after 60s, want %d:\n%s\nserver log:\n%s", len(trainMessages(chat)), n,
				strings.Join(trainMessages(chat), "\n"), p.log)
		}
	}
}

func mustClient(t *testing.T, srv string) *client.Client {
	t.Helper()
	c, err := client.New(srv, testCISecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// trainMessages are the texts of the chat's train messages (deploys have
// their own).
func trainMessages(chat *chattest.Server) []string {
	var out []string
	for _, m := range chat.Messages() {
		if s := m.Text(); strings.Contains(s, " train*") {
			out = append(out, s)
		}
	}
	return out
}

// TestTrainDeployAsksTheTrainFirst: `deploy start --train` records no
// deploy when the train would refuse it (its head car not all in, or the
// train stopped): exit 3 and one line why.
func TestTrainDeployAsksTheTrainFirst(t *testing.T) {
	chat := chattest.New(t)
	p := startTrainServe(t, freeAddr(t), filepath.Join(t.TempDir(), "gohere.db"), chat.URL)
	cli := func(secret string, args ...string) (int, string, string) {
		t.Helper()
		return gohereCLI(t, append(args, "--server", p.url, "--token", secret)...)
	}
	must := func(who string, args ...string) {
		t.Helper()
		if code, out, errOut := cli(trainSecret(who), args...); code != 0 {
			t.Fatalf("%s %v: exit %d\n%s%s", who, args, code, out, errOut)
		}
	}
	deploys := func() int {
		t.Helper()
		ds, err := mustClient(t, p.url).ListDeploys(t.Context(), gohere.DeployFilter{Service: "checkout"})
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	start := []string{"deploy", "start", "--service", "checkout", "--env", "staging", "--version", "v2", "--stage", "full", "--train", "checkout"}
	refused := func(why string) {
		t.Helper()
		code, out, errOut := cli(testCISecret, start...)
		if code != exitError || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, why) {
			t.Errorf("deploy start --train: exit %d, stdout %q, stderr %q; want 3 and one line saying %q", code, out, errOut, why)
		}
		if n := deploys(); n != 0 {
			t.Errorf("%d deploys recorded by a refused --train start, want none", n)
		}
	}
	must("alice", "train", "join", "--service", "checkout")
	must("bob", "train", "join", "--service", "checkout")
	must("alice", "train", "in", "--service", "checkout")
	refused("is pushing")
	must("bob", "train", "in", "--service", "checkout")
	must("bob", "train", "stop", "--service", "checkout", "--reason", "db is down")
	refused("stopped by bob")
	must("ivan", "train", "start", "--service", "checkout")
	if code, out, errOut := cli(testCISecret, start...); code != 0 || deploys() != 1 {
		t.Fatalf("deploy start --train once the car is all in: exit %d\n%s%s", code, out, errOut)
	}
}
