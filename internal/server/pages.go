package server

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
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
		"count":  count,
		"shift":  shift,
		"level":  level,
		"runner": runner,
		"nodata": isNoData,
		"lacks":  lacks,
	}).ParseFS(templateFS, "templates/*.html")
}

// when formats a time for people: UTC, to the second; zero is empty.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// num formats a statistic to 4 significant digits, whole numbers (counts,
// weights) in full with thousands separators, never in exponent form below
// 1e15; nil pointers are empty.
func num(v any) string {
	switch x := v.(type) {
	case float64:
		return formatNum(x)
	case *float64:
		if x != nil {
			return formatNum(*x)
		}
	case int:
		return count(float64(x))
	case int64:
		return count(float64(x))
	}
	return ""
}

func formatNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return count(x)
	}
	if a := math.Abs(x); a >= 1e4 && a < 1e15 { // 12345.67: no exponent
		return group(strconv.FormatFloat(x, 'f', 1, 64))
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// count formats a count of events or samples: whole, with thousands
// separators ("33,810"), never in exponent form below 1e15.
func count(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return group(strconv.FormatFloat(math.Round(v), 'f', -1, 64))
}

// group puts thousands separators into the integer part of a decimal.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// noChange is the relative shift below which a shift is floating-point
// noise, not a result.
const noChange = 1e-9

// shift formats a relative shift (a fraction) with the sign of the
// estimate as a percentage: "+30.3 %"; below noChange "no change"; nil is
// empty.
func shift(rel *float64, estimate float64) string {
	if rel == nil {
		return ""
	}
	r := math.Abs(*rel)
	if r < noChange || estimate == 0 {
		return "no change"
	}
	sign := "+"
	if estimate < 0 {
		sign = "−"
	}
	pct := 100 * r
	var s string
	switch {
	case pct >= 100:
		s = strconv.FormatFloat(pct, 'f', 0, 64)
	case pct >= 0.1:
		s = strconv.FormatFloat(pct, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(pct, 'g', 2, 64)
	}
	return sign + group(s) + " %"
}

// level formats a confidence level (0.98) as "98 %".
func level(l float64) string {
	return strconv.FormatFloat(100*l, 'g', 4, 64) + " %"
}

// runner says which runner judged an interval in words: its owner is
// "host/pid" ("host vm, process 19904"); anything else is shown as it is.
func runner(owner string) string {
	host, pid, ok := strings.Cut(owner, "/")
	if !ok || host == "" {
		return owner
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return owner
	}
	return "host " + host + ", process " + pid
}

func isNoData(v gohere.Verdict) bool { return v == gohere.VerdictNoData }

// lacks says which side lacked data for a metric without enough of it:
// "baseline", "canary" or "both"; "" for a metric that had its data.
func lacks(m judge.MetricResult) string {
	if m.Label != judge.LabelNoData && m.Label != judge.LabelNoDataFail {
		return ""
	}
	var b, c bool
	if m.Rate {
		b = m.Baseline.Counts == nil || m.Baseline.Counts.Denominator == 0
		c = m.Canary.Counts == nil || m.Canary.Counts.Denominator == 0
		if m.Baseline.Counts == nil {
			c = false // the judge stopped at the baseline: the canary was not looked at
		}
	} else {
		b, c = m.Baseline.N == 0, m.Canary.N == 0
	}
	if !b && !c { // too few samples rather than none: the reason names the side
		b = strings.Contains(m.Reason, "baseline")
		c = !b && strings.Contains(m.Reason, "canary")
	}
	switch {
	case b && c:
		return "both"
	case b:
		return "baseline"
	case c:
		return "canary"
	}
	return "unknown"
}

// NoDataReason says why an interval of the analysis is NoData: the judge's
// first reason for the latest interval, else the interval's problem or
// which side had no samples.
func (v analysisView) NoDataReason(iv store.Interval) string {
	if v.Latest != nil && iv.Seq == v.Latest.Seq && v.Report != nil && len(v.Report.Reasons) > 0 {
		return "no data: " + v.Report.Reasons[0]
	}
	switch {
	case iv.Error != "":
		return "no data: " + iv.Error
	case iv.BaselineSamples == 0 && iv.CanarySamples == 0:
		return "no data: no samples on either side"
	case iv.BaselineSamples == 0:
		return "no data: no baseline samples"
	case iv.CanarySamples == 0:
		return "no data: no canary samples"
	}
	return "no data"
}

// Reason is the report's first reason ("" without one), for a NoData
// verdict's "no data: <reason>".
func (v analysisView) Reason() string {
	if v.Report == nil || len(v.Report.Reasons) == 0 {
		return ""
	}
	return v.Report.Reasons[0]
}

// Adjustment heads the column of adjusted p-values with the adjustment of
// the analysis' config, or says only "adjusted" when the config cannot be
// read (the report does not name it).
func (v analysisView) Adjustment() string {
	if v.config == nil {
		return "adjusted p"
	}
	switch v.config.Adjust {
	case judge.AdjustHolm:
		return "adjusted p (Holm)"
	case judge.AdjustBH:
		return "adjusted p (Benjamini-Hochberg)"
	case judge.AdjustNone:
		return "p used (no adjustment)"
	}
	return "adjusted p"
}

// Unit is the unit the analysis' config declares for a metric; "" for
// none or when the config cannot be read.
func (v analysisView) Unit(metric string) judge.Unit {
	m, _ := v.metricConfig(metric)
	return m.Unit
}

// metricConfig is a metric's entry in the analysis' config; false when
// the config cannot be read or lacks it.
func (v analysisView) metricConfig(metric string) (judge.Metric, bool) {
	if v.config != nil {
		for _, m := range v.config.Metrics {
			if m.Name == metric {
				return m, true
			}
		}
	}
	return judge.Metric{}, false
}

// Value formats a value (a mean, a rate) of metric m in its unit.
func (v analysisView) Value(m judge.MetricResult, x float64) string { return inUnit(x, v.Unit(m.Name)) }

// Diff formats a difference of two values of metric m (a CI bound) in
// its unit, with its sign.
func (v analysisView) Diff(m judge.MetricResult, x float64) string {
	return diffInUnit(x, v.Unit(m.Name))
}

// Estimate is metric m's shift in its unit; see estimate.
func (v analysisView) Estimate(m judge.MetricResult) string { return estimate(m, v.Unit(m.Name)) }

// estimate is a metric's shift canary − baseline in unit u with its
// relative size ("+45.10 ms (+30.3 %)"); a relative shift below noChange,
// or none at all, is "no change"; "" when no test ran.
func estimate(m judge.MetricResult, u judge.Unit) string {
	t := m.Test
	if t == nil {
		return ""
	}
	if t.Estimate == 0 || (m.RelativeShift != nil && math.Abs(*m.RelativeShift) < noChange) {
		return "no change"
	}
	s := diffInUnit(t.Estimate, u)
	if r := shift(m.RelativeShift, t.Estimate); r != "" {
		s += " (" + r + ")"
	}
	return s
}

// CIDecides: the metric is judged by its confidence interval (Kayenta's
// rule for value metrics), not by its adjusted p-value.
func (v analysisView) CIDecides(m judge.MetricResult) bool {
	return v.Report != nil && v.Report.Judge == judge.ModeKayenta && !m.Rate
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
	// config is the analysis' config; nil when it cannot be read.
	config *judge.Config
	// filter picks the rows of the metrics table (?metrics=).
	filter metricFilter
	// Plots are Latest's judged metrics, queried again; NoStore: this
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

func (s *Server) deployPage(c *gin.Context) {
	filter, err := parseMetricFilter(c.Query("metrics"))
	if err != nil {
		s.pageError(c, err)
		return
	}
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
			p.Analyses[i].filter = filter
		}
		if s.opts.Source != nil {
			s.plotAnalyses(c.Request.Context(), d, p.Analyses)
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
		if cfg, err := judge.LoadConfig(strings.NewReader(full.Config)); err == nil {
			v.config = &cfg // unreadable (e.g. from an older gohere): plain numbers, no unit
		}
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
