package server

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

// Pages are server-rendered HTML without scripts; the stylesheet is served
// by us because the CSP forbids inline styles and external assets.
var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed static/gohere.css
	stylesheet []byte
)

func parsePages() (*template.Template, error) {
	return template.New("pages").Option("missingkey=error").Funcs(template.FuncMap{
		"when":   when,
		"took":   took,
		"num":    num,
		"pval":   pval,
		"mrkdwn": mrkdwn,
	}).ParseFS(templateFS, "templates/*.html")
}

// when formats a time for people: UTC, to the second; zero is empty.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// num formats a statistic to 4 significant digits; nil pointers are empty.
func num(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', 4, 64)
	case *float64:
		if x != nil {
			return strconv.FormatFloat(*x, 'g', 4, 64)
		}
	}
	return ""
}

// pval formats a p-value: tiny ones in exponent form, the rest to 3 digits.
func pval(p float64) string {
	if p < 1e-4 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

// took is how long a deploy ran, or has been running.
func took(d gohere.Deploy) string {
	end := d.FinishedAt
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(d.StartedAt).Round(time.Second).String()
}

type timelinePage struct {
	chrome
	Title   string
	Filter  gohere.DeployFilter
	Running []DeployView
	Deploys []DeployView
	// DORA are the four keys of the last 30 days of what the page shows;
	// nil without them.
	DORA *doraView
}

type deployPage struct {
	chrome
	Title string
	DeployView
	// RunsAnalyses: this server has a metric store to analyse canaries with.
	RunsAnalyses bool
	Analyses     []analysisView
	// Alerts are the alerts correlated with the deploy, newest first;
	// ReceivesAlerts: this server has the alert hooks.
	Alerts         []deployAlert
	ReceivesAlerts bool
}

// deployAlert is an alert as the deploy's page shows it: with the
// correlation to this deploy.
type deployAlert struct {
	gohere.Alert
	Correlation gohere.Correlation
}

// analysisView is one analysis of a deploy with the evidence of its latest
// interval decoded for the page.
type analysisView struct {
	store.Analysis
	Latest  *store.Interval
	Report  *judge.Report    // of Latest; nil when nothing was judged
	Queries []analysis.Query // of Latest: what was asked of the metric store
	// Plots are Latest's value metrics, queried again; NoStore: this
	// server has no metric store to query.
	Plots   []metricPlot
	NoStore bool
	// Standing says where the analysis stands for its deploy, in words
	// that never contradict the deploy's status (see describe).
	Standing string
	// CanApprove and CanHalt: the deploy runs and the trail allows it;
	// the buttons show only to a signed-in Viewer.
	CanApprove, CanHalt bool
	Viewer              *auth.Identity
	SignInURL           string
}

type errorPage struct {
	chrome
	Title   string
	Status  int
	Message string
	Back    string // the page the failed form came from; empty: none
}

// timelinePage lists deploys newest first and, above them, those still
// running. The page of everyone not signed in is shared (see pageCache)
// and tagged for conditional GETs.
func (s *Server) timelinePage(c *gin.Context) {
	f, err := parseFilter(c.Request.URL.RawQuery)
	if err != nil {
		s.pageError(c, err)
		return
	}
	ch := s.chromeOf(c)
	shared := ch.Viewer == nil
	key := ch.SignInURL + "\x00" + ch.ViewerNote + "\x00" + c.Request.URL.RawQuery
	var gen uint64
	if shared {
		page, g, ok := s.rendered.get(key, time.Now())
		if ok {
			page.send(c)
			return
		}
		gen = g
	}
	ds, err := s.opts.Store.ListDeploys(c.Request.Context(), f)
	if err != nil {
		s.pageError(c, err)
		return
	}
	p := timelinePage{Title: "Deploys", Filter: f, Deploys: make([]DeployView, 0, len(ds)),
		DORA: s.timelineKeys(c.Request.Context(), f.Service, f.Env)}
	for _, d := range ds {
		v := s.view(d)
		p.Deploys = append(p.Deploys, v)
		if d.Running() {
			p.Running = append(p.Running, v)
		}
	}
	body, ok := s.execute(c, "timeline.html", &p)
	if !ok {
		return
	}
	if !shared {
		c.Data(http.StatusOK, htmlType, body)
		return
	}
	page := newTagged(htmlType, body)
	s.rendered.put(key, page, gen, time.Now())
	page.send(c)
}

func (s *Server) deployPage(c *gin.Context) {
	d, err := s.opts.Store.GetDeploy(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.pageError(c, err)
		return
	}
	p := deployPage{Title: d.Service + " " + d.Env + " " + d.Version, DeployView: s.view(d), RunsAnalyses: s.opts.Analyses != nil}
	if p.RunsAnalyses {
		if p.Analyses, err = s.analysesOf(c.Request.Context(), d); err != nil {
			s.pageError(c, err)
			return
		}
		ch := s.chromeOf(c)
		for i := range p.Analyses {
			p.Analyses[i].Viewer, p.Analyses[i].SignInURL = ch.Viewer, ch.SignInURL
		}
		if s.opts.Source != nil {
			s.plotAnalyses(c.Request.Context(), p.Analyses)
		}
	}
	if s.opts.Alerts != nil {
		p.ReceivesAlerts = true
		if p.Alerts, err = s.alertsOfDeploy(c.Request.Context(), d.ID); err != nil {
			s.pageError(c, err)
			return
		}
	}
	s.render(c, http.StatusOK, "deploy.html", &p)
}

// alertsOfDeploy reads the alerts correlated with a deploy, each with its
// correlation to it.
func (s *Server) alertsOfDeploy(ctx context.Context, deployID string) ([]deployAlert, error) {
	as, err := s.opts.Alerts.DeployAlerts(ctx, deployID)
	if err != nil {
		return nil, err
	}
	out := make([]deployAlert, 0, len(as))
	for _, a := range as {
		da := deployAlert{Alert: a}
		for _, c := range a.Correlations {
			if c.DeployID == deployID {
				da.Correlation = c
			}
		}
		out = append(out, da)
	}
	return out, nil
}

// analysesOf reads a deploy's analyses, newest first, with their intervals.
func (s *Server) analysesOf(ctx context.Context, d gohere.Deploy) ([]analysisView, error) {
	list, err := s.opts.Analyses.ListAnalyses(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	views := make([]analysisView, 0, len(list))
	for _, a := range list {
		full, err := s.opts.Analyses.GetAnalysisSummary(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		v := analysisView{Analysis: full, NoStore: s.opts.Source == nil, Standing: describe(d, full)}
		halted := full.Decision != nil && full.Decision.Kind == gohere.DecisionHalt
		v.CanHalt = d.Running() && !halted
		v.CanApprove = d.Running() && full.Decision == nil && !full.State.Active()
		if n := len(full.Intervals); n > 0 {
			v.Latest = &full.Intervals[n-1]
			if err := decodeEvidence(*v.Latest, &v); err != nil {
				return nil, fmt.Errorf("analysis %s interval %d: %w", a.ID, v.Latest.Seq, err)
			}
		}
		views = append(views, v)
	}
	return views, nil
}

func decodeEvidence(iv store.Interval, v *analysisView) error {
	if len(iv.Report) > 0 {
		v.Report = new(judge.Report)
		if err := json.Unmarshal(iv.Report, v.Report); err != nil {
			return fmt.Errorf("decode report: %w", err)
		}
	}
	if len(iv.Queries) > 0 {
		if err := json.Unmarshal(iv.Queries, &v.Queries); err != nil {
			return fmt.Errorf("decode queries: %w", err)
		}
	}
	return nil
}

func (s *Server) pageError(c *gin.Context, err error) { s.formError(c, err, "") }

// formError is pageError for a form posted from the page back.
func (s *Server) formError(c *gin.Context, err error, back string) {
	status := statusOf(err)
	s.render(c, status, "error.html", &errorPage{
		Title: http.StatusText(status), Status: status, Message: s.publicMessage(c, err, status), Back: back,
	})
	c.Abort()
}

const htmlType = "text/html; charset=utf-8"

// render executes a page into a buffer first, so that a template failure
// is a clean 500 instead of half a page. data is a pointer to a page struct
// embedding chrome, which render fills with who is signed in.
func (s *Server) render(c *gin.Context, status int, name string, data any) {
	if body, ok := s.execute(c, name, data); ok {
		c.Data(status, htmlType, body)
	}
}

// execute is render without the answer: the page, or false after it
// answered 500.
func (s *Server) execute(c *gin.Context, name string, data any) ([]byte, bool) {
	if p, ok := data.(chromed); ok {
		ch := s.chromeOf(c)
		p.setChrome(ch)
		if ch.Viewer != nil { // a page for one person: no shared cache keeps it
			c.Header("Cache-Control", "private, no-store")
		}
	} else {
		s.log.ErrorContext(c.Request.Context(), "render page without who is signed in: pass a pointer to a page embedding chrome", "page", name)
	}
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.ErrorContext(c.Request.Context(), "render page", "page", name, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal error\n"))
		return nil, false
	}
	return b.Bytes(), true
}
