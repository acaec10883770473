package annotate

import (
	"cmp"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gohere/gohere"
)

// Links are the URLs an annotation points to; empty ones are left out.
type Links struct {
	GoHere string // the old-versus-new comparison (compare.URL)
	Report string // gohere's page of the deploy
}

// Annotation is an organisation-wide region annotation: no dashboard, so
// every dashboard that queries Grafana annotations by tag shows it.
type Annotation struct {
	Time    time.Time
	TimeEnd time.Time
	Tags    []string
	Text    string // HTML as Grafana renders it; user text is escaped
}

// MaxChangesInText is how many changes an annotation lists before it says
// "and N more": the tooltip must stay readable.
const MaxChangesInText = 20

// DeployIDTag is the tag that finds a deploy's annotation again, e.g. after
// a create whose response was lost.
func DeployIDTag(id string) string { return "deploy-id:" + id }

// Tags are the tags of a deploy's annotation: deploy, gohere, service:<s>,
// env:<e>, version:<v>, stage:<stage>, deploy-id:<id>, status:<status> once
// the deploy is finished, verdict:<v> once its analysis is over and
// decision:<approve|halt> once somebody decided. The names were validated (gohere.ValidateName)
// to hold no comma or colon, so each tag stays one key:value pair.
func Tags(d gohere.Deploy) []string {
	tags := []string{
		"deploy", "gohere",
		"service:" + d.Service,
		"env:" + d.Env,
		"version:" + d.Version,
		"stage:" + string(cmp.Or(d.Stage, gohere.StageCanary)),
		DeployIDTag(d.ID),
	}
	if d.Status != "" && !d.Running() {
		tags = append(tags, "status:"+string(d.Status))
	}
	tags = append(tags, LaneTags(d)...)
	if j := d.Judgement; j != nil {
		if j.Over() && j.Verdict != "" {
			tags = append(tags, "verdict:"+string(j.Verdict))
		}
		if j.Decision != nil {
			tags = append(tags, "decision:"+string(j.Decision.Kind))
		}
	}
	return tags
}

// ForDeploy is the region annotation of a deploy: from its start to its
// finish, or to now while it runs (the outbox rewrites it as the deploy goes
// on, so the region grows). now is the caller's clock; a now before the
// start (clock skew) gives a zero-length region rather than a negative one.
func ForDeploy(d gohere.Deploy, l Links, now time.Time) Annotation {
	end := d.FinishedAt
	if d.Running() || end.IsZero() {
		end = now
	}
	if end.Before(d.StartedAt) {
		end = d.StartedAt
	}
	return Annotation{Time: d.StartedAt, TimeEnd: end, Tags: Tags(d), Text: Text(d, l)}
}

// Text is the annotation text of a deploy: what, who, which changes, where
// it stands and where to look. Grafana shows it as HTML, so every value a
// user supplied is escaped and only http(s) links become anchors.
func Text(d gohere.Deploy, l Links) string {
	e := html.EscapeString
	var lines []string
	head := fmt.Sprintf("<b>%s</b> %s to %s (%s): %s", e(d.Service), e(d.Version), e(d.Env),
		e(string(cmp.Or(d.Stage, gohere.StageCanary))), e(string(cmp.Or(d.Status, gohere.StatusRunning))))
	if d.BaselineVersion != "" {
		head += fmt.Sprintf(", baseline %s", e(d.BaselineVersion))
	}
	lines = append(lines, head)
	var who []string
	if d.Author != "" {
		who = append(who, "author "+e(d.Author))
	}
	if d.MergedBy != "" {
		who = append(who, "merged by "+e(d.MergedBy))
	}
	if d.Commit != "" {
		who = append(who, "commit "+e(short(d.Commit)))
	}
	if a := anchor(d.PR, "pull request"); a != "" {
		who = append(who, a)
	} else if d.PR != "" {
		who = append(who, "PR "+e(d.PR))
	}
	if len(who) > 0 {
		lines = append(lines, strings.Join(who, " · "))
	}
	if len(d.Changes) > 0 {
		lines = append(lines, fmt.Sprintf("%d change(s):", len(d.Changes)))
		for _, c := range d.Changes[:min(len(d.Changes), MaxChangesInText)] {
			line := "• " + e(short(c.Commit))
			if c.Author != "" {
				line += " " + e(c.Author)
			}
			if c.Title != "" {
				line += ": " + e(c.Title)
			}
			lines = append(lines, line)
		}
		if n := len(d.Changes) - MaxChangesInText; n > 0 {
			lines = append(lines, fmt.Sprintf("… and %d more", n))
		}
	}
	if line := judgementLine(d.Judgement); line != "" {
		lines = append(lines, line)
	}
	var links []string
	if a := anchor(l.GoHere, "GO HERE"); a != "" {
		links = append(links, a)
	}
	if a := anchor(l.Report, "report"); a != "" {
		links = append(links, a)
	}
	if len(links) > 0 {
		lines = append(lines, strings.Join(links, " · "))
	}
	return strings.Join(lines, "<br>\n")
}

// judgementLine is the canary's verdict and score, and who decided what
// and why: "canary Fail, score 0 · halted by bob: p99 up 30 %".
func judgementLine(j *gohere.Judgement) string {
	if j == nil {
		return ""
	}
	var parts []string
	if j.Over() && j.Verdict != "" {
		parts = append(parts, fmt.Sprintf("canary <b>%s</b>, score %s", html.EscapeString(string(j.Verdict)), strconv.FormatFloat(j.Score, 'f', -1, 64)))
	} else {
		parts = append(parts, "canary analysis "+html.EscapeString(j.State))
	}
	if dec := j.Decision; dec != nil {
		verb := "approved"
		if dec.Kind == gohere.DecisionHalt {
			verb = "halted"
		}
		who := verb + " by " + html.EscapeString(dec.Actor)
		if dec.Reason != "" {
			who += ": " + html.EscapeString(dec.Reason)
		}
		parts = append(parts, who)
	}
	return strings.Join(parts, " · ")
}

// short abbreviates a commit sha the way git does; other text is kept.
func short(sha string) string {
	if len(sha) == 40 && strings.Trim(sha, "0123456789abcdef") == "" {
		return sha[:12]
	}
	return sha
}

// anchor is an HTML link to u, or "" when u is not an absolute http(s) URL:
// a javascript: URL in a user-supplied PR field must not become a link.
func anchor(u, label string) string {
	p, err := url.Parse(u)
	if u == "" || err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(u), html.EscapeString(label))
}
