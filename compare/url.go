package compare

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gohere/gohere"
)

// Margin is how much time the link shows before a deploy starts and after it
// finishes, so the "before" level of every signal is on screen.
const Margin = 15 * time.Minute

// DashboardUID is the uid of the Grafana comparison dashboard the link opens;
// the dashboards package installs it under this uid.
const DashboardUID = "gohere-compare"

// Config says where the link points. Zero value: a relative link to the
// built-in page.
type Config struct {
	GrafanaURL string // e.g. https://grafana.example.com; empty: the built-in page
	PublicURL  string // gohere's own public URL, for the built-in page
}

// URL returns the GO HERE link of d (DESIGN.md §3). d.BaselineVersion must
// already be resolved (see ChooseBaseline); when it is empty (a first deploy)
// the baseline parameter is left out and the page says so (see Note).
//
// Times are epoch milliseconds, as Grafana takes them, on both targets:
// from = start − Margin; to = "now" while d runs, finish + Margin after.
// The built-in page also gets start (epoch ms) to mark the deploy.
func URL(cfg Config, d gohere.Deploy) string {
	from := ms(d.StartedAt.Add(-Margin))
	to := "now"
	if !d.Running() && !d.FinishedAt.IsZero() {
		to = ms(d.FinishedAt.Add(Margin))
	}
	var q query
	if cfg.GrafanaURL != "" {
		q.add("var-service", d.Service)
		q.add("var-env", d.Env)
		q.add("var-baseline", d.BaselineVersion)
		q.add("var-canary", d.Version)
		q.add("from", from)
		q.add("to", to)
		return strings.TrimRight(cfg.GrafanaURL, "/") + "/d/" + DashboardUID + "/" + DashboardUID + "?" + q.String()
	}
	page := PageQuery{Service: d.Service, Env: d.Env, Baseline: d.BaselineVersion, Canary: d.Version,
		From: d.StartedAt.Add(-Margin), Start: d.StartedAt}
	if to != "now" {
		page.To = d.FinishedAt.Add(Margin)
	}
	return strings.TrimRight(cfg.PublicURL, "/") + page.Path()
}

// Path is the built-in page's path and query for q, relative to gohere's
// public URL.
func (q PageQuery) Path() string {
	var b query
	b.add("service", q.Service)
	b.add("env", q.Env)
	b.add("baseline", q.Baseline)
	b.add("canary", q.Canary)
	b.add("from", ms(q.From))
	to := "now"
	if !q.To.IsZero() {
		to = ms(q.To)
	}
	b.add("to", to)
	if !q.Start.IsZero() {
		b.add("start", ms(q.Start))
	}
	return "/compare?" + b.String()
}

// Ranges are the spans the built-in page offers on either side of the
// deploy start.
var Ranges = []time.Duration{15 * time.Minute, time.Hour, 6 * time.Hour}

// Around is the page's query over r on either side of its deploy start.
// Its end stays fixed while it lies ahead (the chart shows the time still
// to come empty), so that the link means the same range at every view.
func (p Page) Around(r time.Duration) PageQuery {
	q := p.Query
	start := p.DeployStart()
	q.From, q.To, q.Start = start.Add(-r), start.Add(r), start
	return q
}

// query keeps parameters in the order of DESIGN.md §3 (url.Values sorts
// them), so a link reads service, env, baseline, canary, from, to.
type query struct{ b strings.Builder }

// add appends k=v, leaving out empty values.
func (q *query) add(k, v string) {
	if v == "" {
		return
	}
	if q.b.Len() > 0 {
		q.b.WriteByte('&')
	}
	q.b.WriteString(url.QueryEscape(k))
	q.b.WriteByte('=')
	q.b.WriteString(url.QueryEscape(v))
}

func (q *query) String() string { return q.b.String() }

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
