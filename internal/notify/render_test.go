package notify

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/gohere/gohere"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

	testHandles = Handles{"alice": "U024BE7LH", "bob": "@bob", "carol": "W012A3CDE"}

	testLinks = Links{
		GoHere: "https://grafana.example.com/d/gohere-compare/compare?var-service=checkout&var-env=prod&var-baseline=v1.4.1&var-canary=v1.4.2",
		Report: "https://gohere.example.com/deploys/dep_01",
	}
)

func ptr[T any](v T) *T { return &v }

// sha is a commit id: 40 hex digits.
func sha(i int) string { return fmt.Sprintf("%x", sha1.Sum([]byte(fmt.Sprint(i)))) }

func testDeploy() gohere.Deploy {
	return gohere.Deploy{
		ID: "dep_01", Service: "checkout", Env: "prod", Version: "v1.4.2", BaselineVersion: "v1.4.1",
		Stage: gohere.StageCanary, Status: gohere.StatusRunning, Commit: sha(0),
		Author: "alice", MergedBy: "bob", PR: "https://github.com/acme/checkout/pull/481",
		Changes:   []gohere.Change{{Commit: sha(0), Author: "alice", Title: "Cache tax rates per region"}},
		StartedAt: t0,
	}
}

func changes(n int) []gohere.Change {
	cs := make([]gohere.Change, n)
	for i := range cs {
		cs[i] = gohere.Change{Commit: sha(i), Author: []string{"alice", "bob", "Dave Unknown"}[i%3], Title: fmt.Sprintf("Change number %d", i+1)}
	}
	return cs
}

// nasty is user text that would ping, link or format if not escaped.
const nasty = "<!channel> <@U123> *bold* _x_ ~gone~ `code` & <https://evil.example|click> > quote @here"

type renderCase struct {
	name string
	e    Event
}

func renderCases() []renderCase {
	with := func(f func(*gohere.Deploy)) gohere.Deploy {
		d := testDeploy()
		f(&d)
		return d
	}
	analysis := func(f func(*Analysis)) *Analysis {
		a := &Analysis{ID: "an_01", State: "failed", Verdict: gohere.VerdictFail, Score: 42.5,
			Reason: "latency_p99 is 30 % higher than the baseline", Seq: 3}
		f(a)
		return a
	}
	failingMetrics := []FailingMetric{
		{Name: "latency_p99", Label: "High", Critical: true, Shift: ptr(0.3), Reason: "p99 latency 30 % higher than the baseline"},
		{Name: "error_rate", Label: "High", Shift: ptr(1.25), Reason: "errors 125 % higher"},
		{Name: "throughput", Label: "Low", Shift: ptr(0.084)},
		{Name: "saturation", Label: "NoDataFail", Reason: "no data for a metric that must have data"},
		{Name: "cpu", Label: "High", Shift: ptr(0.05)},
		{Name: "memory", Label: "High", Shift: ptr(0.04)},
		{Name: "gc_pause", Label: "High", Shift: ptr(0.03)},
		{Name: "queue_depth", Label: "High", Shift: ptr(0.02)},
	}
	started := func(d gohere.Deploy) Event {
		return Event{ID: d.ID + "/started", Kind: KindStarted, At: t0, Deploy: d, Links: testLinks}
	}
	return []renderCase{
		{"started", started(testDeploy())},
		{"started_bundle_3", started(with(func(d *gohere.Deploy) {
			d.Author, d.MergedBy, d.Changes = "carol", "carol", changes(3)
		}))},
		{"started_bundle_30", started(with(func(d *gohere.Deploy) { d.Changes = changes(30) }))},
		{"started_first_deploy_unknown_author", Event{ID: "dep_01/started", Kind: KindStarted, At: t0, Deploy: with(func(d *gohere.Deploy) {
			d.BaselineVersion, d.Author, d.MergedBy, d.PR = "", "Dave Unknown", "", ""
		})}},
		{"started_long_title", started(with(func(d *gohere.Deploy) {
			d.Changes[0].Title = strings.Repeat("Ünïcödé ", 75) // 600 runes
		}))},
		{"started_escaping", started(with(func(d *gohere.Deploy) {
			d.Service, d.Version, d.BaselineVersion = "check_out", "v1_4~2", "v1_4~1"
			d.Author, d.MergedBy, d.PR = "*eve* <!here>", "_mallory_", "<!channel> #42"
			d.Changes = []gohere.Change{
				{Commit: "not-a-sha*", Author: "`trudy`", Title: nasty},
				{Commit: sha(1), Author: "bob", Title: "Fix A&B <script>alert(1)</script> for <@U024BE7LH>"},
			}
		}))},
		{"failing", Event{ID: "dep_01/failing/an_01", Kind: KindFailing, At: t0.Add(9 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) { a.State = "running" }), Failing: failingMetrics[:3]}},
		{"failing_many", Event{ID: "dep_01/failing/an_01", Kind: KindFailing, At: t0.Add(9 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) { a.State = "running" }), Failing: failingMetrics}},
		{"failing_escaping", Event{ID: "dep_01/failing/an_01", Kind: KindFailing, At: t0.Add(9 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) { a.State = "running" }),
			Failing: []FailingMetric{{Name: "lat_p99_*ms*", Label: "High", Shift: ptr(0.5), Reason: nasty}}}},
		{"verdict_awaiting_decision", Event{ID: "dep_01/verdict/an_01", Kind: KindVerdict, At: t0.Add(30 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) { a.AwaitsDecision = true })}},
		{"verdict_pass", Event{ID: "dep_01/verdict/an_01", Kind: KindVerdict, At: t0.Add(30 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) {
				a.State, a.Verdict, a.Score, a.Reason = "passed", gohere.VerdictPass, 97.36, "every metric passed"
			})}},
		{"verdict_escaping_no_report", Event{ID: "dep_01/verdict/an_01", Kind: KindVerdict, At: t0.Add(30 * time.Minute),
			Deploy:   with(func(d *gohere.Deploy) { d.Author = "Zed <zed@example.com>" }),
			Analysis: analysis(func(a *Analysis) { a.Reason, a.AwaitsDecision = nasty, true })}},
		{"decided_approve", Event{ID: "dep_01/decided/an_01", Kind: KindDecided, At: t0.Add(32 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) {}),
			Decision: &gohere.Decision{Kind: gohere.DecisionApprove, Actor: "bob", Reason: "dashboards look fine", Source: gohere.SourcePage, DecidedAt: t0.Add(32 * time.Minute)}}},
		{"decided_halt_escaping", Event{ID: "dep_01/decided/an_01", Kind: KindDecided, At: t0.Add(32 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) {}),
			Decision: &gohere.Decision{Kind: gohere.DecisionHalt, Actor: "*mallory*", Reason: nasty, Source: gohere.SourceAPI, DecidedAt: t0.Add(32 * time.Minute)}}},
		{"decided_auto_halt", Event{ID: "dep_01/decided/an_01", Kind: KindDecided, At: t0.Add(31 * time.Minute), Deploy: testDeploy(),
			Links: testLinks, Analysis: analysis(func(a *Analysis) {}),
			Decision: &gohere.Decision{Kind: gohere.DecisionHalt, Actor: "gohere", Source: gohere.SourceAuto, DecidedAt: t0.Add(31 * time.Minute),
				Reason: "auto_halt: on_fail, and interval 3 failed with score 42.5"}}},
		{"finished_succeeded", Event{ID: "dep_01/finished", Kind: KindFinished, At: t0.Add(13 * time.Minute),
			Deploy: with(func(d *gohere.Deploy) {
				d.Status, d.FinishedAt = gohere.StatusSucceeded, t0.Add(12*time.Minute+5*time.Second)
			}), Links: testLinks, Status: gohere.StatusSucceeded}},
		{"finished_rolled_back_running_read", Event{ID: "dep_01/finished", Kind: KindFinished, At: t0.Add(2*time.Hour + 3*time.Minute + 9*time.Second),
			Deploy: testDeploy(), Links: testLinks, Status: gohere.StatusRolledBack}},
		{"alert_firing", Event{ID: "dep_01/alert/7", Kind: KindAlert, At: t0.Add(7 * time.Minute), Deploy: testDeploy(), Links: testLinks,
			Alert: testAlert(2)}},
		{"alert_escaping", Event{ID: "dep_01/alert/7", Kind: KindAlert, At: t0.Add(7 * time.Minute), Deploy: testDeploy(), Links: testLinks,
			Alert: func() *gohere.Alert {
				a := testAlert(1)
				a.Name, a.Summary, a.Severity, a.GeneratorURL = nasty, nasty, "*crit*", "javascript:alert(1)"
				return a
			}()}},
	}
}

// testAlert is a firing alert whose likeliest cause is testDeploy, with
// more-1 other candidates.
func testAlert(more int) *gohere.Alert {
	a := &gohere.Alert{ID: 7, Source: "alertmanager", Fingerprint: "c1a2b3", Name: "HighLatency", Status: gohere.AlertFiring,
		Service: "checkout", Env: "prod", Severity: "critical", Summary: "p99 latency above 500 ms for 5 minutes",
		StartsAt: t0.Add(7 * time.Minute), GeneratorURL: "https://prometheus.example.com/graph?g0.expr=x",
		Labels: map[string]string{"alertname": "HighLatency", "service": "checkout", "env": "prod", "severity": "critical"}}
	for i := range more {
		a.Correlations = append(a.Correlations, gohere.Correlation{DeployID: fmt.Sprintf("dep_0%d", i+1), Rank: i + 1, Score: 0.9 - float64(i)/10,
			Reason: "alert started 7 min after canary v1.4.2 of checkout began, while it was running", Version: "v1.4.2", Stage: gohere.StageCanary,
			Author: "alice", MergedBy: "bob"})
	}
	return a
}

// TestGolden compares every case's Slack and generic JSON with
// testdata/<case>.{slack,generic}.json; -update rewrites them.
func TestGolden(t *testing.T) {
	kinds := map[Kind]bool{}
	for _, c := range renderCases() {
		kinds[c.e.Kind] = true
		t.Run(c.name, func(t *testing.T) {
			golden(t, c.name+".slack.json", slackJSON(t, Slack(c.e, testHandles)))
			g, err := Generic(c.e)
			if err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, g, "", "  "); err != nil {
				t.Fatalf("Generic: not JSON: %v", err)
			}
			golden(t, c.name+".generic.json", append(indented.Bytes(), '\n'))
		})
	}
	for _, k := range Kinds {
		if !kinds[k] {
			t.Errorf("no golden case of kind %s", k)
		}
	}
}

func slackJSON(t *testing.T, m slack.WebhookMessage) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/notify -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// texts returns every text of the message: each block's, then Text.
func texts(t *testing.T, m slack.WebhookMessage) []string {
	t.Helper()
	var out []string
	for _, b := range m.Blocks.BlockSet {
		s, ok := b.(*slack.SectionBlock)
		if !ok {
			t.Fatalf("block %T: want only sections", b)
		}
		out = append(out, s.Text.Text)
	}
	return append(out, m.Text)
}

// worstCases are events with every field at (or past) what validation
// allows, made of the characters that escaping grows most.
func worstCases() []renderCase {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	url := "https://example.com/" + long("a", maxURL-20)
	d := gohere.Deploy{
		ID: "dep_x", Service: long("&", gohere.MaxNameLen), Env: long("*", gohere.MaxNameLen),
		Version: long("<", gohere.MaxNameLen), BaselineVersion: long(">", gohere.MaxNameLen),
		Author: long("&", gohere.MaxNameLen), MergedBy: long("_", gohere.MaxNameLen), PR: url,
		StartedAt: t0,
	}
	for i := range gohere.MaxChanges {
		d.Changes = append(d.Changes, gohere.Change{Commit: long("&", gohere.MaxNameLen), Author: long("&", gohere.MaxNameLen),
			Title: long("&", gohere.MaxTitleLen) + fmt.Sprint(i)})
	}
	links := Links{GoHere: url, Report: url}
	a := &Analysis{Verdict: gohere.Verdict(long("&", 200)), Reason: long("&", gohere.MaxReasonLen), Seq: 1 << 30, AwaitsDecision: true}
	var fs []FailingMetric
	for range 100 {
		fs = append(fs, FailingMetric{Name: long("&", 300), Label: long("*", 50), Critical: true, Shift: ptr(1e300), Reason: long("&", 3000)})
	}
	dec := &gohere.Decision{Kind: gohere.DecisionKind(long("&", 100)), Actor: long("&", 300), Reason: long("`", gohere.MaxReasonLen)}
	var out []renderCase
	for _, k := range append(Kinds, "unknown") {
		out = append(out, renderCase{"worst_" + string(k), Event{Kind: k, At: t0.Add(time.Hour), Deploy: d, Links: links,
			Analysis: a, Decision: dec, Status: gohere.Status(long("&", 100)), Failing: fs,
			Alert: &gohere.Alert{Name: long("&", 3000), Status: gohere.AlertStatus(long("&", 100)), Severity: long("&", 300), Summary: long("&", 3000),
				GeneratorURL: url, Correlations: []gohere.Correlation{{Reason: long("&", 3000)}, {}}}}})
	}
	return out
}

func TestLimits(t *testing.T) {
	handles := Handles{strings.Repeat("&", gohere.MaxNameLen): "@" + strings.Repeat("a", 64)}
	for _, c := range append(renderCases(), worstCases()...) {
		t.Run(c.name, func(t *testing.T) {
			m := Slack(c.e, handles)
			ts := texts(t, m)
			for i, s := range ts {
				limit := maxSection
				if i == len(ts)-1 {
					limit = maxText
				}
				if s == "" {
					t.Errorf("text %d is empty; Slack refuses empty texts", i)
				}
				if n := size(s); n > limit || utf8.RuneCountInString(s) > limit {
					t.Errorf("text %d: %d characters, want at most %d", i, n, limit)
				}
				if !utf8.ValidString(s) {
					t.Errorf("text %d: invalid UTF-8", i)
				}
			}
			if _, err := Generic(c.e); err != nil {
				t.Errorf("Generic: %v", err)
			}
		})
	}
}

var (
	rawEntity = regexp.MustCompile(`&(amp|lt|gt);`)
	formatRun = regexp.MustCompile("\u200b[*_~`]\u200b")
)

// TestUserTextIsInert checks the escaping cases beyond their goldens: no
// user text may ping, link or format.
func TestUserTextIsInert(t *testing.T) {
	for _, c := range renderCases() {
		if !strings.Contains(c.name, "escaping") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			for _, s := range texts(t, Slack(c.e, testHandles)) {
				for _, bad := range []string{"<!", "<@U123>", "<https://evil", "@here", "@channel", "<script"} {
					if strings.Contains(s, bad) {
						t.Errorf("text has %q:\n%s", bad, s)
					}
				}
				for _, bad := range []string{"*bold*", "_x_", "~gone~", "`code`", "*eve*", "_mallory_", "*mallory*"} {
					if strings.Contains(s, bad) {
						t.Errorf("text has %q as formatting:\n%s", bad, s)
					}
				}
				if strings.Count(rawEntity.ReplaceAllString(s, ""), "&") > 0 {
					t.Errorf("text has an unescaped &:\n%s", s)
				}
			}
		})
	}
}

func TestText(t *testing.T) {
	z := "\u200b"
	for _, c := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"plain", "Cache tax rates", 150, "Cache tax rates"},
		{"entities", "A&B <c> d", 150, "A&amp;B &lt;c&gt; d"},
		{"formatting", "*b* _i_ ~s~ `c`", 150, z + "*" + z + "b" + z + "*" + z + " " + z + "_" + z + "i" + z + "_" + z + " " +
			z + "~" + z + "s" + z + "~" + z + " " + z + "`" + z + "c" + z + "`" + z},
		{"mentions", "<!channel> <@U123> @here", 150, "&lt;!channel&gt; &lt;@" + z + "U123&gt; @" + z + "here"},
		{"lines and bidi", "one\ntwo\u2028three\u202eevil\ttab", 150, "one two three evil tab"},
		{"trimmed", "  padded  ", 150, "padded"},
		{"cut at n runes", "héllo wörld", 5, "héllo…"},
		{"exactly n runes", "héllo", 5, "héllo"},
		{"cut before an escape", "abcd&", 4, "abcd…"},
		{"escape kept whole", "&&&", 8, "&amp;&amp;&amp;"},
		{"cut when escaping doubles", "&&&&", 4, "&amp;…"},
		{"emoji kept whole", "🚀🚀🚀", 2, "🚀🚀…"},
		{"invalid UTF-8", "a\xffb", 10, "a\ufffdb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := text(c.in, c.n); got != c.want {
				t.Errorf("text(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
			}
		})
	}
}

// TestLongTitle: a 600-rune title shows 150 runes and an ellipsis, cut on
// a rune boundary.
func TestLongTitle(t *testing.T) {
	e := renderCases()[0].e
	e.Deploy.Changes[0].Title = strings.Repeat("éa&b", 150) // 600 runes
	m := Slack(e, nil)
	var line string
	for _, s := range texts(t, m) {
		for l := range strings.SplitSeq(s, "\n") {
			if strings.HasPrefix(l, "• ") {
				line = l
			}
		}
	}
	title := strings.TrimSuffix(strings.TrimPrefix(line, "• `"+sha(0)[:12]+"` "), " — alice")
	if !strings.HasSuffix(title, "…") || !utf8.ValidString(title) {
		t.Fatalf("title %q: want it cut with an ellipsis", title)
	}
	if got, want := rawEntity.ReplaceAllString(strings.TrimSuffix(title, "…"), "&"), strings.Repeat("éa&b", 37)+"éa"; got != want {
		t.Errorf("title shows %q, want %q", got, want)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                      "0s",
		45 * time.Second:                       "45s",
		12*time.Minute + 5*time.Second:         "12m 5s",
		12*time.Minute + 4500*time.Millisecond: "12m 5s",
		2*time.Hour + 3*time.Minute + 9*time.Second: "2h 3m",
		50 * time.Hour: "50h 0m",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestGenericEscaping: the generic JSON keeps <, > and & as they are.
func TestGenericEscaping(t *testing.T) {
	e := renderCases()[0].e
	e.Deploy.Changes[0].Title = "A&B <c>"
	b, err := Generic(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"title":"A&B <c>"`)) || bytes.Contains(b, []byte(`\u003c`)) {
		t.Errorf("Generic escapes HTML: %s", b)
	}
	if bytes.HasSuffix(b, []byte("\n")) || !json.Valid(b) {
		t.Errorf("Generic: want one compact JSON value: %q", b)
	}
}

func TestMention(t *testing.T) {
	h := Handles{"alice": "U024BE7LH", "bob": "@bob", "carol": "W012A3CDE", "eve": "<!channel>", "dan": "@dan smith"}
	for name, want := range map[string]string{
		"alice":   "<@U024BE7LH>",
		"bob":     "@bob",
		"carol":   "<@W012A3CDE>",
		"zed":     "zed",
		"eve":     "eve", // a handle that is neither is not used
		"dan":     "dan",
		"*x* <y>": "\u200b*\u200bx\u200b*\u200b &lt;y&gt;",
	} {
		if got := h.Mention(name); got != want {
			t.Errorf("Mention(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestFastLaneTags: a deploy of DARK changes only, or of config only, says
// its lane in every message's subject and in the generic JSON's tags.
func TestFastLaneTags(t *testing.T) {
	for title, tag := range map[string]string{"DARK new checkout flow": "dark", "CONFIG raise pool size": "config", "fix rounding": ""} {
		e := renderCases()[0].e
		e.Deploy.Changes = []gohere.Change{{Commit: sha(1), Author: "alice", Title: title}}
		msg, err := json.Marshal(Slack(e, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Generic(e)
		if err != nil {
			t.Fatal(err)
		}
		var g struct{ Tags []string }
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		inSlack, inGeneric := bytes.Contains(msg, []byte(" ["+tag+"]")), slices.Equal(g.Tags, []string{tag})
		if tag == "" {
			inSlack, inGeneric = !bytes.Contains(msg, []byte("[dark]")) && !bytes.Contains(msg, []byte("[config]")), g.Tags == nil
		}
		if !inSlack || !inGeneric {
			t.Errorf("%q: Slack tagged %v, generic tags %v; want %q", title, inSlack, g.Tags, tag)
		}
	}
}
