package notify

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/slack-go/slack"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
)

// Chat limits, in characters. Slack refuses a message with a block past
// its limit, and a refused message is dropped, so they hold for any input;
// Text keeps to the 4000 Slack advises. We count UTF-16 code units, at
// least as many as runes, whichever Slack counts.
const (
	maxSection = 3000 // a section block's text
	maxText    = 4000 // the fallback text
	// maxURL bounds an escaped link target; a longer one is left out. It
	// keeps headline and links, which are never cut, within maxText.
	maxURL = 800
)

// How much of each piece of user text a message shows, in runes.
const (
	nameRunes   = 64  // service, env, version, people, metrics
	titleRunes  = 150 // a change's title
	reasonRunes = 300 // the judge's or a decider's reason
	commitRunes = 40  // a commit that is not a hex SHA

	maxChangeLines  = 10
	maxFailingLines = 5
)

// zwsp is the zero-width space that keeps mrkdwn formatting characters of
// user text literal (see escapeRune).
const zwsp = "\u200b"

// Slack renders e as an incoming-webhook message: Block Kit sections for
// Slack, and the same lines as Text, which Slack shows in notifications and
// Mattermost and Rocket.Chat display instead of the blocks.
func Slack(e Event, h Handles) slack.WebhookMessage {
	m := compose(e, h)
	var blocks []slack.Block
	for _, lines := range [][]string{m.head, m.body, m.links} {
		if len(lines) > 0 {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fitLines(lines, maxSection)), nil, nil))
		}
	}
	// Previews of the report and GO HERE pages would bury the message.
	off := false
	return slack.WebhookMessage{
		Text:        fallback(m),
		Blocks:      &slack.Blocks{BlockSet: blocks},
		UnfurlLinks: &off,
		UnfurlMedia: &off,
	}
}

// message is what a message says, as mrkdwn lines: the headline (what
// happened, to which deploy, who), the details, and the links.
type message struct {
	head, body, links []string
}

func compose(e Event, h Handles) message {
	switch e.Kind {
	case KindStarted:
		return started(e, h)
	case KindFailing:
		return failing(e)
	case KindVerdict:
		return verdict(e, h)
	case KindDecided:
		return decided(e, h)
	case KindFinished:
		return finished(e)
	case KindAlert:
		return alert(e, h)
	}
	return message{
		head:  []string{"*" + text(string(e.Kind), nameRunes) + "* " + subject(e.Deploy)},
		links: links(link(e.Links.Report, "report")),
	}
}

func started(e Event, h Handles) message {
	d := e.Deploy
	head := "*Deploy started* " + subject(d)
	if d.BaselineVersion == "" {
		head += " (first deploy of " + text(d.Service, nameRunes) + " to " + text(d.Env, nameRunes) + ")"
	} else {
		head += " (was " + text(d.BaselineVersion, nameRunes) + ")"
	}
	if d.Author != "" {
		head += " by " + h.Mention(d.Author)
	}
	if d.MergedBy != "" && d.MergedBy != d.Author {
		head += ", merged by " + h.Mention(d.MergedBy)
	}
	m := message{head: []string{head}}
	if d.PR != "" {
		m.head = append(m.head, "PR: "+pullRequest(d.PR))
	}
	if n := len(d.Changes); n > 0 {
		// Change authors are named, not mentioned: a bundle would ping
		// every committer; the deploy's author and merger own it.
		lines := make([]string, 0, min(n, maxChangeLines))
		for _, c := range d.Changes[:min(n, maxChangeLines)] {
			lines = append(lines, changeLine(c))
		}
		limit := maxSection
		if n > 1 {
			intro := fmt.Sprintf("This deploy bundles %d changes:", n)
			m.body = []string{intro}
			limit -= size(intro) + 1
		}
		m.body = append(m.body, list(lines, n, limit)...)
	}
	goHere := link(e.Links.GoHere, "GO HERE")
	if goHere != "" {
		goHere = "*" + goHere + "*"
	}
	m.links = links(goHere, link(e.Links.Report, "report"))
	return m
}

func changeLine(c gohere.Change) string {
	line := "• " + shortCommit(c.Commit)
	if c.Title != "" {
		line += " " + text(c.Title, titleRunes)
	}
	if c.Author != "" {
		line += " — " + text(c.Author, nameRunes)
	}
	return line
}

var hexSHA = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// shortCommit abbreviates a SHA-1 as git does for people; anything else is
// user text.
func shortCommit(c string) string {
	if hexSHA.MatchString(c) {
		return "`" + c[:12] + "`"
	}
	return text(c, commitRunes)
}

var prNumber = regexp.MustCompile(`/(?:pull|pulls|merge_requests|pull-requests)/(\d{1,12})/?$`)

// pullRequest links a PR URL, labelled with its number when the URL shows
// one; a PR given as text ("#123") is shown as text.
func pullRequest(pr string) string {
	label := "pull request"
	if m := prNumber.FindStringSubmatch(pr); m != nil {
		label = "#" + m[1]
	}
	if l := link(pr, label); l != "" {
		return l
	}
	return text(pr, nameRunes)
}

func failing(e Event) message {
	head := "Canary of " + subject(e.Deploy) + " *failing*"
	if a := e.Analysis; a != nil && a.Seq > 0 {
		head += fmt.Sprintf(" at interval %d", a.Seq)
	}
	m := message{head: []string{head}, links: links(link(e.Links.Report, "report"))}
	n := len(e.Failing)
	if n == 0 {
		return m
	}
	m.head[0] += ":"
	lines := make([]string, 0, min(n, maxFailingLines))
	for _, f := range e.Failing[:min(n, maxFailingLines)] {
		lines = append(lines, failingLine(f))
	}
	m.body = list(lines, n, maxSection)
	return m
}

// failingLine reads "• latency_p99 High +30 % (critical) — reason".
func failingLine(f FailingMetric) string {
	line := "• " + text(f.Name, nameRunes) + " " + text(f.Label, nameRunes)
	if f.Shift != nil && !math.IsNaN(*f.Shift) && !math.IsInf(*f.Shift, 0) {
		sign := map[string]string{"High": "+", "Low": "-"}[f.Label]
		line += " " + sign + strconv.FormatFloat(math.Round(math.Abs(*f.Shift)*1000)/10, 'f', -1, 64) + " %"
	}
	if f.Critical {
		line += " (critical)"
	}
	if f.Reason != "" {
		line += " — " + text(f.Reason, reasonRunes)
	}
	return line
}

func verdict(e Event, h Handles) message {
	a := cmp.Or(e.Analysis, &Analysis{})
	v := cmp.Or(string(a.Verdict), "none")
	head := "*Verdict " + text(v, nameRunes) + "* for " + subject(e.Deploy) + ", score " +
		strconv.FormatFloat(math.Round(a.Score*100)/100, 'f', -1, 64)
	m := message{head: []string{head}}
	if a.Reason != "" {
		m.body = append(m.body, text(a.Reason, reasonRunes))
	}
	report := link(e.Links.Report, "report")
	if !a.AwaitsDecision {
		m.links = links(report)
		return m
	}
	ask := "Awaiting your decision"
	if author := e.Deploy.Author; author != "" {
		ask = h.Mention(author) + ", awaiting your decision"
	}
	m.body = append(m.body, ask+": Approve or Halt on the "+cmp.Or(report, "report page"))
	return m
}

func decided(e Event, h Handles) message {
	d := cmp.Or(e.Decision, &gohere.Decision{})
	verb := map[gohere.DecisionKind]string{gohere.DecisionApprove: "approved", gohere.DecisionHalt: "halted"}[d.Kind]
	if verb == "" {
		verb = "decided " + text(string(d.Kind), nameRunes)
	}
	head := "*Canary " + verb + "* " + subject(e.Deploy)
	switch {
	case d.Source == gohere.SourceAuto:
		// The actor of an automatic decision is gohere itself; the
		// canary config's setting is what people look for.
		setting := map[gohere.DecisionKind]string{gohere.DecisionApprove: " (auto_promote)", gohere.DecisionHalt: " (auto_halt)"}[d.Kind]
		head += " automatically" + setting
	case d.Actor != "":
		head += " by " + h.Mention(d.Actor)
	}
	m := message{head: []string{head}, links: links(link(e.Links.Report, "report"))}
	if d.Reason != "" {
		m.body = []string{"Reason: " + text(d.Reason, reasonRunes)}
	}
	return m
}

func finished(e Event) message {
	d := e.Deploy
	status := strings.ReplaceAll(string(cmp.Or(e.Status, d.Status)), "_", " ")
	head := "*Deploy " + text(cmp.Or(status, "finished"), nameRunes) + "* " + subject(d)
	// A deploy's FinishedAt is zero while it is read before the store
	// has it: the change's time is its end then.
	if end := cmp.Or(d.FinishedAt, e.At); !d.StartedAt.IsZero() && end.After(d.StartedAt) {
		head += " after " + humanDuration(end.Sub(d.StartedAt))
	}
	return message{head: []string{head}, links: links(link(e.Links.Report, "report"))}
}

// alert tells the people who wrote and merged the likeliest cause of an
// alert: "*Alert HighLatency firing* on checkout/prod, 7 min after canary
// v1.5.0 by @alice (merged by @bob)".
func alert(e Event, h Handles) message {
	a := cmp.Or(e.Alert, &gohere.Alert{})
	d := e.Deploy
	head := "*Alert " + text(a.Name, nameRunes) + " " + text(string(a.Status), nameRunes) + "* on " +
		text(d.Service, nameRunes) + "/" + text(d.Env, nameRunes)
	if a.Severity != "" {
		head += " (" + text(a.Severity, nameRunes) + ")"
	}
	m := message{head: []string{head}, links: links(link(e.Links.Report, "report"), link(a.GeneratorURL, "alert source"))}
	var c gohere.Correlation
	if len(a.Correlations) > 0 {
		c = a.Correlations[0]
	}
	who := "likely cause: " + text(string(cmp.Or(d.Stage, c.Stage)), nameRunes) + " " + text(d.Version, nameRunes)
	// The correlation names the diff's author also when the deploy has none.
	author, merger := cmp.Or(c.Author, d.Author), cmp.Or(c.MergedBy, d.MergedBy)
	if author != "" {
		who += " by " + h.Mention(author)
	}
	if merger != "" && merger != author {
		who += ", merged by " + h.Mention(merger)
	}
	m.body = append(m.body, who)
	if c.Reason != "" {
		m.body = append(m.body, text(c.Reason, reasonRunes))
	}
	if a.Summary != "" {
		m.body = append(m.body, text(a.Summary, reasonRunes))
	}
	if n := len(a.Correlations) - 1; n > 0 {
		m.body = append(m.body, fmt.Sprintf("%d other deploy(s) ran around its start: see the report", n))
	}
	return m
}

// humanDuration reads "45s", "12m 5s", "2h 3m".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// subject names the deploy: "checkout/prod v1.4.2".
// subject names the deploy, and its lane when it ships outside the push
// train ("[dark]", "[config]").
func subject(d gohere.Deploy) string {
	s := text(d.Service, nameRunes) + "/" + text(d.Env, nameRunes) + " " + text(d.Version, nameRunes)
	for _, tag := range annotate.LaneTags(d) {
		s += " [" + tag + "]"
	}
	return s
}

// text makes user text inert in mrkdwn and short: at most n runes, and at
// most 2n characters once escaped (text full of & or * grows up to five
// times), so that every line has a known bound. It cuts between escaped
// runes, never inside an escape or a rune, and marks the cut with "…".
func text(s string, n int) string {
	var b strings.Builder
	used, runes := 0, 0
	rs := []rune(strings.TrimSpace(s))
	for i, r := range rs {
		p := escapeRune(r, at(rs, i-1), at(rs, i+1))
		if runes == n || used+size(p) > 2*n {
			b.WriteString("…")
			break
		}
		b.WriteString(p)
		used += size(p)
		runes++
	}
	return b.String()
}

// at is rs[i], or 0 outside rs.
func at(rs []rune, i int) rune {
	if i < 0 || i >= len(rs) {
		return 0
	}
	return rs[i]
}

// inWord: r stands between a letter or digit on each side.
func inWord(prev, next rune) bool {
	alnum := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	return alnum(prev) && alnum(next)
}

// escapeRune escapes what Slack asks to (& < >), which also disarms
// <!channel>, <@U123> and <url|label> in user text; prev and next are its
// neighbours (0 at the ends).
//
// mrkdwn has no escape for its formatting characters (* _ ~ `): Slack
// shows a backslash as written. We wrap each in zero-width spaces, the
// usual workaround: no delimiter then stands next to the text it would
// format, so Slack shows it as written, and the text reads the same.
// Inside a word (latency_p99, v1~2) they never format, and stay bare so
// that a name copied from the message is the name.
// plain_text objects would be literal too, but cannot hold the mentions
// and links that share the lines with user text, and the Text fallback
// (what Mattermost and Rocket.Chat show) is mrkdwn anyway. A zero-width space after @ keeps
// "@channel" or "@alice" in user text from pinging in Mattermost and
// Rocket.Chat, which mention on a bare @name.
//
// Line breaks, other control characters and bidi overrides become spaces:
// one item stays one line and reads in the order it is stored.
func escapeRune(r, prev, next rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '*', '_', '~', '`':
		if inWord(prev, next) {
			return string(r)
		}
		return zwsp + string(r) + zwsp
	case '@':
		if inWord(prev, next) { // an address, not a mention
			return "@"
		}
		return "@" + zwsp
	}
	if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
		return " "
	}
	return string(r)
}

var linkEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "%7C")

// link writes <url|label> for an http(s) URL, or "" for anything else
// (including no URL, or one longer than maxURL): a message without a link
// beats one that Slack refuses. The label is ours, already mrkdwn.
func link(raw, label string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	// u.String encodes spaces, which would end the link; | would end the
	// URL and start the label.
	target := linkEscaper.Replace(u.String())
	if size(target) > maxURL {
		return ""
	}
	return "<" + target + "|" + label + ">"
}

// links puts the message's links on one line.
func links(ls ...string) []string {
	var kept []string
	for _, l := range ls {
		if l != "" {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return []string{strings.Join(kept, "  ·  ")}
}

// list keeps the lines that fit within limit (joined by newlines) and
// counts the rest of total: "… and K more".
func list(lines []string, total, limit int) []string {
	const moreRoom = 24 // "\n… and 1000000 more"
	out := make([]string, 0, len(lines)+1)
	used := 0
	for _, l := range lines {
		if used+size(l)+1 > limit-moreRoom {
			break
		}
		out = append(out, l)
		used += size(l) + 1
	}
	if k := total - len(out); k > 0 {
		out = append(out, fmt.Sprintf("… and %d more", k))
	}
	return out
}

// fitLines joins the lines that fit within limit and ends with "…" when
// some did not. Lines are whole units: cutting one could break a link or
// a bold span.
func fitLines(lines []string, limit int) string {
	var b strings.Builder
	used := 0
	for i, l := range lines {
		n := size(l)
		if i > 0 {
			n++
		}
		rest := limit - used - n
		// Keep room for "\n…" unless this is the last line.
		if rest < 0 || (rest < 2 && i < len(lines)-1) {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("…")
			break
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(l)
		used += n
	}
	return b.String()
}

// fallback is the whole message as one text: headline and links always,
// the details as far as they fit.
func fallback(m message) string {
	head := fitLines(m.head, maxSection)
	ls := fitLines(m.links, maxSection)
	parts := []string{head}
	if len(m.body) > 0 {
		parts = append(parts, fitLines(m.body, maxText-size(head)-size(ls)-2))
	}
	if ls != "" {
		parts = append(parts, ls)
	}
	return strings.Join(parts, "\n")
}

func mrkdwn(s string) *slack.TextBlockObject {
	// verbatim: Slack must not link bare URLs, #channel names or mentions
	// in user text on its own; our <…> links and mentions still work.
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// size counts s as Slack's limits do, at worst: in UTF-16 code units.
func size(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
