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
	q.add("service", d.Service)
	q.add("env", d.Env)
	q.add("baseline", d.BaselineVersion)
	q.add("canary", d.Version)
	q.add("from", from)
	q.add("to", to)
	q.add("start", ms(d.StartedAt))
	return strings.TrimRight(cfg.PublicURL, "/") + "/compare?" + q.String()
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
