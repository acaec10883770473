package server

import (
	"context"
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

// compareSide is one version's half of a panel. Problem says, in words, why
// there is no line: a failed query or an empty answer is never drawn as a
// plot that looks fine.
type compareSide struct {
	Role    string
	Version string
	Query   string // resolved PromQL; empty: nothing to query
	Problem string
	Chart   template.HTML
	series  []plot.Series
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
		panels[i] = comparePanel{
			Panel:    pn,
			Baseline: compareSide{Role: compare.RoleBaseline, Version: q.Baseline, Query: pn.Baseline},
			Canary:   compareSide{Role: compare.RoleCanary, Version: q.Canary, Query: pn.Canary},
		}
	}
	if !view.NoStore {
		s.fetchPanels(c.Request.Context(), p, panels)
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
	s.render(c, http.StatusOK, "compare.html", view)
}

// fetchPanels runs every side's query at once, all within compareTimeout.
func (s *Server) fetchPanels(ctx context.Context, p compare.Page, panels []comparePanel) {
	ctx, cancel := context.WithTimeout(ctx, compareTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i := range panels {
		for _, side := range []*compareSide{&panels[i].Baseline, &panels[i].Canary} {
			if side.Query == "" {
				side.Problem = "no baseline version to compare with"
				continue
			}
			wg.Go(func() {
				series, err := s.opts.Source.QueryRange(ctx, side.Query, p.From, p.To, p.Step)
				if err != nil {
					s.log.WarnContext(ctx, "compare page: query failed", "signal", panels[i].Name, "role", side.Role, "err", err)
					side.Problem = "query failed: " + s.queryError(err)
					return
				}
				side.series, side.Problem = toPlot(side, panels[i].Unit, series)
			})
		}
	}
	wg.Wait()
}

// queryError is what the page may say about a failed query: the store's
// own errors (kinds other than Internal) are the operator's to read.
func (s *Server) queryError(err error) string {
	if gohere.KindOf(err) == gohere.Internal {
		return "internal error (see the server log)"
	}
	return err.Error()
}

// toPlot turns a side's answer into lines, or says why there are none.
func toPlot(side *compareSide, unit string, series []prom.Series) ([]plot.Series, string) {
	if len(series) == 0 {
		return nil, "no data: the query returned no series"
	}
	scale, _ := axisUnit(unit)
	out := make([]plot.Series, 0, len(series))
	finite := 0
	for _, ps := range series {
		name := side.Role + " " + side.Version
		if len(series) > 1 {
			name += " " + labelText(ps.Labels)
		}
		pts := make([]plot.Point, len(ps.Points))
		for i, pt := range ps.Points {
			pts[i] = plot.Point{T: pt.T, V: pt.V * scale}
			if !math.IsNaN(pt.V) && !math.IsInf(pt.V, 0) {
				finite++
			}
		}
		out = append(out, plot.Series{Name: name, Class: side.Role, Points: pts})
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
