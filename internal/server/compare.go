package server

import (
	"context"
	"errors"
	"html/template"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/internal/plot"
	"github.com/gohere/gohere/internal/prom"
)

// compareTimeout bounds all queries of one compare page: a slow store shows
// as failed panels, not as a page that never loads.
const compareTimeout = 20 * time.Second

// defaultSignals are the signals of a server without a compare config.
var defaultSignals = sync.OnceValues(func() ([]compare.Signal, error) {
	return compare.DefaultSignals(compare.Labels{})
})

// CompareURL is the deploy's built-in compare page on this server, linked
// from the deploy page whether or not GO HERE points to Grafana.
func (v DeployView) CompareURL() string { return compare.URL(compare.Config{}, v.Deploy) }

type comparePage struct {
	chrome
	Title   string
	Page    compare.Page
	Start   time.Time // the deploy start, marked on every chart
	NoStore bool
	Groups  []compareGroup
}

type compareGroup struct {
	Title  string
	Panels []comparePanel
}

type comparePanel struct {
	compare.Panel
	Baseline compareSide
	Canary   compareSide
	Overlay  template.HTML // empty when neither side has data
}

// compareSide is one version's half of a panel.
type compareSide struct {
	Role    string
	Version string
	lineQuery
	Chart template.HTML
}

// lineQuery is one range query to draw as lines. Problem says, in words,
// why there are none: a failed query or an empty answer is never drawn as
// a plot that looks fine.
type lineQuery struct {
	Query    string // resolved PromQL
	Problem  string // set before fetching: the query is not run
	name     string // of the lines; several series add their labels
	class    string // CSS class of the lines: the role
	from, to time.Time
	live     bool // to is now: the window grows with every view
	step     time.Duration
	scale    float64       // values are multiplied by it (see axisUnit)
	shift    time.Duration // added to every instant, to lay the lines on another window's axis
	series   []plot.Series
}

var groupTitles = map[string]string{
	compare.GroupRED:        "Requests, errors, duration",
	compare.GroupSaturation: "Saturation",
}

// comparePage draws baseline and canary of every signal side by side and
// overlaid, from the configured metric store.
func (s *Server) comparePage(c *gin.Context) {
	values, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.pageError(c, gohere.Errorf(gohere.Invalid, "malformed query string: %v", err))
		return
	}
	q, err := compare.ParsePageQuery(values)
	if err != nil {
		s.pageError(c, err)
		return
	}
	set := s.opts.CompareSignals
	signals := set.Signals
	if len(signals) == 0 {
		if signals, err = defaultSignals(); err != nil {
			s.pageError(c, err)
			return
		}
	}
	p, err := compare.NewPage(q, signals, set.Vars, time.Now())
	if err != nil {
		s.pageError(c, err)
		return
	}
	view := comparePage{
		Title:   "Compare " + q.Service + " " + q.Env,
		Page:    p,
		Start:   p.DeployStart(),
		NoStore: s.opts.Source == nil,
	}
	panels := make([]comparePanel, len(p.Panels))
	for i, pn := range p.Panels {
		scale, _ := axisUnit(pn.Unit)
		side := func(role, version, query string) compareSide {
			return compareSide{Role: role, Version: version, lineQuery: lineQuery{
				Query: query, name: role + " " + version, class: role, from: p.From, to: p.To, live: q.To.IsZero(),
				step: p.Step, scale: scale}}
		}
		panels[i] = comparePanel{
			Panel:    pn,
			Baseline: side(compare.RoleBaseline, q.Baseline, pn.Baseline),
			Canary:   side(compare.RoleCanary, q.Canary, pn.Canary),
		}
		if pn.Baseline == "" {
			panels[i].Baseline.Problem = "no baseline version to compare with"
		}
	}
	if !view.NoStore {
		var lines []*lineQuery
		for i := range panels {
			lines = append(lines, &panels[i].Baseline.lineQuery, &panels[i].Canary.lineQuery)
		}
		if err := s.fetchLines(c.Request.Context(), "compare page", compareTimeout, lines); err != nil {
			c.Header("Retry-After", busyRetryAfter)
			s.pageError(c, err)
			return
		}
		for i := range panels {
			panels[i].draw(view.Start, p.From, p.To)
		}
	}
	for _, pn := range panels {
		i := slices.IndexFunc(view.Groups, func(g compareGroup) bool { return g.Title == groupTitles[pn.Group] })
		if i < 0 {
			view.Groups = append(view.Groups, compareGroup{Title: groupTitles[pn.Group]})
			i = len(view.Groups) - 1
		}
		view.Groups[i].Panels = append(view.Groups[i].Panels, pn)
	}
	s.render(c, http.StatusOK, "compare.html", &view)
}

// fetchLines answers every line without a Problem from the cache, a query
// another page runs already, or the store, all within timeout; page names
// the page in the log. The store queries of one page run on at most
// queriesPerPage of the process' slots; when it gets none within
// queryWait, its lines say so and it returns errBusy.
func (s *Server) fetchLines(ctx context.Context, page string, timeout time.Duration, lines []*lineQuery) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := time.Now()
	type wanted struct {
		l   *lineQuery
		key queryKey
		f   *flight
	}
	var lead, all []wanted
	for _, l := range lines {
		if l.Problem != "" {
			continue
		}
		k := l.key()
		series, hit, f, leads := s.queries.lookup(k, now)
		if hit {
			l.series, l.Problem = l.toPlot(series)
			continue
		}
		if leads {
			lead = append(lead, wanted{l, k, f})
		}
		all = append(all, wanted{l, k, f})
	}
	slots := 0
	if len(lead) > 0 {
		slots = s.queries.acquire(ctx, min(len(lead), queriesPerPage), queryWait)
	}
	if slots == 0 {
		for _, w := range lead {
			s.queries.land(w.key, w.f, nil, errBusy, time.Time{})
		}
	} else {
		work := make(chan wanted)
		var wg sync.WaitGroup
		for range slots {
			wg.Go(func() {
				defer s.queries.release()
				for w := range work {
					series, err := s.opts.Source.QueryRange(ctx, w.l.Query, w.l.from, w.l.to, w.l.step)
					if err != nil {
						s.log.WarnContext(ctx, page+": query failed", "lines", w.l.name, "query", w.l.Query, "err", err)
					}
					s.queries.land(w.key, w.f, series, err, w.l.expires(now))
				}
			})
		}
		for _, w := range lead {
			work <- w
		}
		close(work)
		wg.Wait()
	}
	var busy error
	for _, w := range all {
		var series []prom.Series
		var err error
		select {
		case <-w.f.done:
			series, err = w.f.series, w.f.err
		case <-ctx.Done():
			err = gohere.Errorf(gohere.Unavailable, "waiting for the metric store: %w", ctx.Err())
		}
		switch {
		case errors.Is(err, errBusy):
			w.l.Problem, busy = err.Error(), err
		case err != nil:
			w.l.Problem = "query failed: " + s.queryError(err)
		default:
			w.l.series, w.l.Problem = w.l.toPlot(series)
		}
	}
	return busy
}

// key is the line's query in the cache.
func (l *lineQuery) key() queryKey {
	k := queryKey{query: l.Query, from: l.from.UnixMilli(), to: l.to.UnixMilli(), step: l.step}
	if l.live {
		k.to = 0
	}
	return k
}

// expires is when the answer of a query run at now goes stale: windows that
// may still get data soon, settled ones never.
func (l *lineQuery) expires(now time.Time) time.Time {
	if l.live || l.to.After(now.Add(-settleAfter)) {
		return now.Add(liveTTL)
	}
	return time.Time{}
}

// queryError is what the page may say about a failed query: the store's
// own errors (kinds other than Internal) are the operator's to read.
func (s *Server) queryError(err error) string {
	if gohere.KindOf(err) == gohere.Internal {
		return "internal error (see the server log)"
	}
	return err.Error()
}

// toPlot turns an answer into lines, or says why there are none.
func (l *lineQuery) toPlot(series []prom.Series) ([]plot.Series, string) {
	if len(series) == 0 {
		return nil, "no data: the query returned no series"
	}
	out := make([]plot.Series, 0, len(series))
	finite := 0
	for _, ps := range series {
		name := l.name
		if len(series) > 1 {
			name += " " + labelText(ps.Labels)
		}
		pts := make([]plot.Point, len(ps.Points))
		for i, pt := range ps.Points {
			pts[i] = plot.Point{T: pt.T.Add(l.shift), V: pt.V * l.scale}
			if !math.IsNaN(pt.V) && !math.IsInf(pt.V, 0) {
				finite++
			}
		}
		out = append(out, plot.Series{Name: name, Class: l.class, Points: pts})
	}
	if finite == 0 {
		return nil, "no data: every value is NaN or infinite (e.g. a ratio of zero requests)"
	}
	return out, ""
}

// draw renders the side charts and the overlay of what has data, all on
// the page's time axis so that they line up and show the deploy marker.
func (p *comparePanel) draw(start, from, to time.Time) {
	_, unit := axisUnit(p.Unit)
	markers := []plot.Marker{{T: start, Label: "deploy start"}}
	var overlay []plot.Series
	for _, side := range []*compareSide{&p.Baseline, &p.Canary} {
		if len(side.series) == 0 {
			continue
		}
		side.Chart = plot.Chart{
			Title: p.Title + " · " + side.Role + " " + side.Version, Unit: unit,
			Series: side.series, Markers: markers, From: from, To: to, Width: 520, Height: 220,
		}.SVG()
		overlay = append(overlay, side.series...)
	}
	if len(overlay) > 0 {
		p.Overlay = plot.Chart{
			Title: p.Title + " · overlay", Unit: unit, Series: overlay, Markers: markers, From: from, To: to, Width: 1060, Height: 260,
		}.SVG()
	}
}

// axisUnit maps a Grafana unit id to a factor for the values and the text
// written after them on the axis.
func axisUnit(unit string) (scale float64, suffix string) {
	switch unit {
	case "percentunit":
		return 100, "%"
	case "percent":
		return 1, "%"
	case "reqps", "ops":
		return 1, "/s"
	case "s", "ms":
		return 1, unit
	case "bytes":
		return 1, "B"
	}
	return 1, ""
}

// labelText writes labels as {a="1",b="2"} to tell apart the lines of a
// query that returns several series.
func labelText(labels map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + `="` + labels[k] + `"`)
	}
	b.WriteByte('}')
	return b.String()
}
