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
	"strconv"
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
	// Deploy is the deploy the page compares, with its verdict; nil when
	// the link names none that is recorded (see deployOf).
	Deploy *DeployView
	// Ranges are the time ranges around the deploy start the page offers.
	Ranges []pageLink
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

// NoData: the store has no series of the signal for either side (and no
// query failed): it is not exported here (memory, say), which one quiet
// line says instead of a box per chart.
func (p comparePanel) NoData() bool {
	return p.Canary.noData && (p.Baseline.noData || p.Baseline.Query == "")
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
	noData   bool // the store answered without a single series
	// labels, when set, keeps only the series with these label values: a
	// metric judged per label set is plotted one set at a time.
	labels map[string]string
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
		Deploy:  s.deployOf(c.Request.Context(), q),
	}
	for _, r := range compare.Ranges {
		around := p.Around(r)
		view.Ranges = append(view.Ranges, pageLink{Label: "±" + rangeText(r), URL: around.Path(),
			Current: around.From.Equal(q.From) && around.To.Equal(q.To)})
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
			l.noData = len(series) == 0
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
			w.l.noData = len(series) == 0
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
	if l.labels != nil {
		series = slices.DeleteFunc(slices.Clone(series), func(s prom.Series) bool {
			for k, v := range l.labels {
				if s.Labels[k] != v {
					return true
				}
			}
			return false
		})
	}
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
// the page's time axis so that they line up and show the deploy marker,
// and on one value scale so that their heights compare (see clipAt).
func (p *comparePanel) draw(start, from, to time.Time) {
	_, unit := axisUnit(p.Unit)
	markers := []plot.Marker{{T: start, Label: "deploy start"}}
	all := append(slices.Clone(p.Baseline.series), p.Canary.series...)
	lo, hi, ok := valueRange(all)
	if !ok {
		return
	}
	ceiling := clipAt(all)
	// plot.Chart fits its value axis to the data and its rules: rules at
	// the bounds of both sides (hidden by the stylesheet, class y-range)
	// give every chart of the signal the same scale.
	rules := []plot.Rule{{V: lo, Class: "y-range"}, {V: min(hi, ceiling), Class: "y-range"}}
	if hi > ceiling {
		rules[1] = plot.Rule{V: ceiling, Label: "clipped above " + formatAxis(ceiling) + unit, Class: "clip"}
	}
	chart := func(title string, series []plot.Series, width, height int) template.HTML {
		series = clip(series, ceiling)
		return plot.Chart{Title: title, Unit: unit, Series: series, Markers: markers, Rules: rules,
			From: from, To: to, Width: width, Height: height}.SVG()
	}
	for _, side := range []*compareSide{&p.Baseline, &p.Canary} {
		if len(side.series) > 0 {
			side.Chart = chart(p.Title+" · "+side.Role+" "+side.Version, side.series, 520, 220)
		}
	}
	p.Overlay = chart(p.Title+" · overlay", all, 1060, 260)
}

// spikeFactor: a value more than this many times the 95th percentile of
// one signal's values (both sides) is a spike. The charts' scale ends
// there, and the values above are drawn at that edge and marked, so that
// one spike does not flatten every other line.
const spikeFactor = 3

// clipAt is the value above which the signal's charts clip; +Inf when no
// value is a spike.
func clipAt(series []plot.Series) float64 {
	var vs []float64
	for _, s := range series {
		for _, pt := range s.Points {
			if plottable(pt.V) {
				vs = append(vs, pt.V)
			}
		}
	}
	if len(vs) == 0 {
		return math.Inf(1)
	}
	slices.Sort(vs)
	p95 := vs[(len(vs)-1)*95/100]
	if p95 <= 0 || vs[len(vs)-1] <= spikeFactor*p95 {
		return math.Inf(1)
	}
	return spikeFactor * p95
}

// valueRange is the range of the finite values of series.
func valueRange(series []plot.Series) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, pt := range s.Points {
			if plottable(pt.V) {
				lo, hi, ok = min(lo, pt.V), max(hi, pt.V), true
			}
		}
	}
	return lo, hi, ok
}

// clip draws the values above ceiling at ceiling, and adds a series that
// marks each of them with a dot on that edge (a zero-length segment, which
// the stylesheet's round caps draw as a dot).
func clip(series []plot.Series, ceiling float64) []plot.Series {
	var marks []plot.Point
	out := make([]plot.Series, 0, len(series)+1)
	for _, s := range series {
		pts := slices.Clone(s.Points)
		for i, pt := range pts {
			if plottable(pt.V) && pt.V > ceiling {
				pts[i].V = ceiling
				marks = append(marks, plot.Point{T: pt.T, V: ceiling}, plot.Point{T: pt.T, V: ceiling}, plot.Point{T: pt.T, V: math.NaN()})
			}
		}
		s.Points = pts
		out = append(out, s)
	}
	if len(marks) == 0 {
		return out
	}
	n := len(marks) / 3
	name := "1 value clipped"
	if n > 1 {
		name = strconv.Itoa(n) + " values clipped"
	}
	return append(out, plot.Series{Name: name, Class: "clipped", Points: marks})
}

func plottable(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// formatAxis writes a value to 3 digits, whole from 1000 on: never in
// exponent form.
func formatAxis(v float64) string {
	if math.Abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// rangeText writes one of compare.Ranges: "15 min", "1 h", "6 h".
func rangeText(d time.Duration) string {
	if d < time.Hour {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return strconv.Itoa(int(d/time.Hour)) + " h"
}

// deployOf finds the deploy a compare link is of: the canary version of
// its service and env that started at the link's start (to the
// millisecond the link keeps); of several, the one whose own link this is
// (its end tells a finished deploy from a running one). nil for a link
// without a start, when none is recorded, or when the store cannot say
// (logged: the page shows without the link).
func (s *Server) deployOf(ctx context.Context, q compare.PageQuery) *DeployView {
	if q.Start.IsZero() {
		return nil
	}
	ds, err := s.opts.Store.ListDeploys(ctx, gohere.DeployFilter{Service: q.Service, Env: q.Env,
		Since: q.Start, Until: q.Start.Add(time.Millisecond)})
	if err != nil {
		s.log.WarnContext(ctx, "compare page: find the deploy", "service", q.Service, "env", q.Env, "err", err)
		return nil
	}
	ds = slices.DeleteFunc(ds, func(d gohere.Deploy) bool { return d.Version != q.Canary })
	if len(ds) == 0 {
		return nil
	}
	i := max(0, slices.IndexFunc(ds, func(d gohere.Deploy) bool { return compare.URL(compare.Config{}, d) == q.Path() }))
	v := s.view(ds[i])
	return &v
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
