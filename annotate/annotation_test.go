package annotate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
)

var (
	start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	links = annotate.Links{GoHere: "https://grafana.example/d/gohere-compare/gohere-compare?var-canary=3f2a1c&from=1", Report: "https://gohere.example/deploys/d-1"}
)

func deploy() gohere.Deploy {
	return gohere.Deploy{
		ID: "d-1", Service: "checkout", Env: "prod", Version: "3f2a1c", BaselineVersion: "a1b2c3",
		Stage: gohere.StageCanary, Status: gohere.StatusRunning, Commit: "3f2a1c", Author: "alice", MergedBy: "bob",
		PR: "https://git.example/pr/7", Changes: []gohere.Change{{Commit: "3f2a1c", Author: "alice", Title: "fix tax rounding"}},
		StartedAt: start,
	}
}

func TestTags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*gohere.Deploy)
		want   []string
	}{
		{"running", func(*gohere.Deploy) {}, []string{"deploy", "gohere", "service:checkout", "env:prod", "version:3f2a1c", "stage:canary", "deploy-id:d-1"}},
		{"finished", func(d *gohere.Deploy) { d.Status = gohere.StatusRolledBack },
			[]string{"deploy", "gohere", "service:checkout", "env:prod", "version:3f2a1c", "stage:canary", "deploy-id:d-1", "status:rolled_back"}},
		{"full stage", func(d *gohere.Deploy) { d.Stage = gohere.StageFull },
			[]string{"deploy", "gohere", "service:checkout", "env:prod", "version:3f2a1c", "stage:full", "deploy-id:d-1"}},
		{"analysis running: no verdict yet", func(d *gohere.Deploy) {
			d.Judgement = &gohere.Judgement{AnalysisID: "a-1", State: "running", Verdict: gohere.VerdictPass, Score: 100}
		}, []string{"deploy", "gohere", "service:checkout", "env:prod", "version:3f2a1c", "stage:canary", "deploy-id:d-1"}},
		{"halted", func(d *gohere.Deploy) {
			d.Status = gohere.StatusHalted
			d.Judgement = &gohere.Judgement{AnalysisID: "a-1", State: "halted", Verdict: gohere.VerdictFail,
				Decision: &gohere.Decision{Kind: gohere.DecisionHalt, Actor: "bob", Reason: "p99 up"}}
		}, []string{"deploy", "gohere", "service:checkout", "env:prod", "version:3f2a1c", "stage:canary", "deploy-id:d-1",
			"status:halted", "verdict:Fail", "decision:halt"}},
		{"stage defaults to canary", func(d *gohere.Deploy) { d.Stage = "" },
			[]string{"deploy", "gohere", "service:checkout", "env:prod", "version:3f2a1c", "stage:canary", "deploy-id:d-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy()
			tc.change(&d)
			if diff := cmp.Diff(tc.want, annotate.Tags(d)); diff != "" {
				t.Errorf("Tags (-want +got):\n%s", diff)
			}
		})
	}
	if got := annotate.DeployIDTag("d-9"); got != "deploy-id:d-9" {
		t.Errorf("DeployIDTag = %q", got)
	}
}

func TestForDeployTimes(t *testing.T) {
	now := start.Add(7 * time.Minute)
	for _, tc := range []struct {
		name     string
		change   func(*gohere.Deploy)
		now      time.Time
		wantTime time.Time
		wantEnd  time.Time
	}{
		{"running: extends to now", func(*gohere.Deploy) {}, now, start, now},
		{"finished: ends at the finish", func(d *gohere.Deploy) {
			d.Status, d.FinishedAt = gohere.StatusSucceeded, start.Add(3*time.Minute)
		}, now, start, start.Add(3 * time.Minute)},
		{"clock behind the start: zero length", func(*gohere.Deploy) {}, start.Add(-time.Minute), start, start},
		{"finished without a finish time: now", func(d *gohere.Deploy) { d.Status = gohere.StatusFailed }, now, start, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy()
			tc.change(&d)
			a := annotate.ForDeploy(d, links, tc.now)
			if !a.Time.Equal(tc.wantTime) || !a.TimeEnd.Equal(tc.wantEnd) {
				t.Errorf("time %v..%v, want %v..%v", a.Time, a.TimeEnd, tc.wantTime, tc.wantEnd)
			}
			if diff := cmp.Diff(annotate.Tags(d), a.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if a.Text != annotate.Text(d, links) {
				t.Errorf("text differs from Text()")
			}
		})
	}
}

func TestText(t *testing.T) {
	many := make([]gohere.Change, 25)
	for i := range many {
		many[i] = gohere.Change{Commit: fmt.Sprintf("c%02d", i), Author: "dev", Title: "t"}
	}
	for _, tc := range []struct {
		name   string
		change func(*gohere.Deploy)
		links  annotate.Links
		want   string
	}{
		{"running", func(*gohere.Deploy) {}, links, strings.Join([]string{
			"<b>checkout</b> 3f2a1c to prod (canary): running, baseline a1b2c3",
			`author alice · merged by bob · commit 3f2a1c · <a href="https://git.example/pr/7">pull request</a>`,
			"1 change(s):",
			"• 3f2a1c alice: fix tax rounding",
			`<a href="https://grafana.example/d/gohere-compare/gohere-compare?var-canary=3f2a1c&amp;from=1">GO HERE</a> · <a href="https://gohere.example/deploys/d-1">report</a>`,
		}, "<br>\n")},
		{"finished, bare", func(d *gohere.Deploy) {
			*d = gohere.Deploy{ID: "d-2", Service: "api", Env: "dev", Version: "v2", Stage: gohere.StageFull, Status: gohere.StatusHalted}
		}, annotate.Links{}, "<b>api</b> v2 to dev (full): halted"},
		{"user text is escaped, unsafe links are not links", func(d *gohere.Deploy) {
			d.Author = "<script>alert(1)</script>"
			d.PR = "javascript:alert(1)"
			d.Changes = []gohere.Change{{Commit: "0123456789abcdef0123456789abcdef01234567", Author: "eve & co", Title: `<img src=x onerror="x">`}}
		}, annotate.Links{Report: "https://gohere.example/deploys/d-1?a=\"><b>"}, strings.Join([]string{
			"<b>checkout</b> 3f2a1c to prod (canary): running, baseline a1b2c3",
			"author &lt;script&gt;alert(1)&lt;/script&gt; · merged by bob · commit 3f2a1c · PR javascript:alert(1)",
			"1 change(s):",
			"• 0123456789ab eve &amp; co: &lt;img src=x onerror=&#34;x&#34;&gt;",
			`<a href="https://gohere.example/deploys/d-1?a=&#34;&gt;&lt;b&gt;">report</a>`,
		}, "<br>\n")},
		{"long change lists are capped", func(d *gohere.Deploy) { d.Changes = many }, annotate.Links{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy()
			tc.change(&d)
			got := annotate.Text(d, tc.links)
			if tc.want == "" { // the cap: 20 listed, then a count
				if n := strings.Count(got, "• "); n != annotate.MaxChangesInText {
					t.Errorf("%d changes listed, want %d", n, annotate.MaxChangesInText)
				}
				if !strings.Contains(got, "25 change(s):") || !strings.HasSuffix(got, "… and 5 more") || strings.Contains(got, "c20") {
					t.Errorf("text:\n%s", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("text (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTextJudgement(t *testing.T) {
	for _, tc := range []struct {
		name string
		j    *gohere.Judgement
		want string
	}{
		{"running", &gohere.Judgement{State: "running", Verdict: gohere.VerdictPass, Score: 100}, "canary analysis running"},
		{"awaiting", &gohere.Judgement{State: "awaiting_decision", Verdict: gohere.VerdictMarginal, Score: 80.5}, "canary <b>Marginal</b>, score 80.5"},
		{"approved", &gohere.Judgement{State: "approved", Verdict: gohere.VerdictPass, Score: 100,
			Decision: &gohere.Decision{Kind: gohere.DecisionApprove, Actor: "alice", Reason: "looks <fine>"}},
			"canary <b>Pass</b>, score 100 · approved by alice: looks &lt;fine&gt;"},
		{"halted", &gohere.Judgement{State: "halted", Verdict: gohere.VerdictFail, Score: 0,
			Decision: &gohere.Decision{Kind: gohere.DecisionHalt, Actor: "bob", Reason: "p99 up 30 %"}},
			"canary <b>Fail</b>, score 0 · halted by bob: p99 up 30 %"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deploy()
			d.Judgement = tc.j
			if got := annotate.Text(d, links); !strings.Contains(got, tc.want) {
				t.Errorf("Text = %q; want it to contain %q", got, tc.want)
			}
		})
	}
}
