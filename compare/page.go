package compare

import (
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/gohere/gohere"
)

// Limits of the built-in page: MaxSpan bounds what one page may ask the
// metrics store for, MaxPoints how many points each series has.
const (
	MaxSpan   = 31 * 24 * time.Hour
	MaxPoints = 240
	minStep   = 15 * time.Second // a common scrape interval; finer steps add no data
	minWindow = time.Minute      // rate() needs a few scrapes in its window
)

// PageQuery is the validated query string of the built-in compare page:
// /compare?service=S&env=E&baseline=V0&canary=V&from=MS&to=MS|now&start=MS,
// times in epoch milliseconds as in Grafana links.
type PageQuery struct {
	Service  string
	Env      string
	Baseline string // empty: no baseline (a first deploy)
	Canary   string
	From     time.Time
	To       time.Time // zero: now ("to=now" or no to)
	Start    time.Time // the deploy start to mark; zero: none
}

// ParsePageQuery validates the page's query string and returns every problem
// at once. Unknown parameters are ignored, so links may carry more.
func ParsePageQuery(q url.Values) (PageQuery, error) {
	var (
		p    PageQuery
		errs []error
	)
	get := func(name string) string {
		vs := q[name]
		if len(vs) > 1 {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "%s is given %d times", name, len(vs)))
		}
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	name := func(field string, optional bool) string {
		v := get(field)
		if v == "" && optional {
			return ""
		}
		if err := gohere.ValidateName(field, v); err != nil {
			errs = append(errs, err)
		} else if breaksQuery(v) {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "%s %q: backslashes and backquotes are not allowed", field, v))
		}
		return v
	}
	p.Service = name("service", false)
	p.Env = name("env", false)
	p.Baseline = name("baseline", true)
	p.Canary = name("canary", false)

	var err error
	if p.From, err = parseMillis("from", get("from"), false); err != nil {
		errs = append(errs, err)
	}
	if to := get("to"); to != "now" {
		if p.To, err = parseMillis("to", to, true); err != nil {
			errs = append(errs, err)
		}
	}
	if p.Start, err = parseMillis("start", get("start"), true); err != nil {
		errs = append(errs, err)
	}
	if !p.From.IsZero() && !p.To.IsZero() {
		if err := checkRange(p.From, p.To); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return PageQuery{}, err
	}
	return p, nil
}

// maxMillis is the end of year 9999, the last time RFC 3339 can write.
const maxMillis = 253402300799999

func parseMillis(field, v string, optional bool) (time.Time, error) {
	if v == "" {
		if optional {
			return time.Time{}, nil
		}
		return time.Time{}, gohere.Errorf(gohere.Invalid, "%s is required (epoch milliseconds)", field)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > maxMillis {
		return time.Time{}, gohere.Errorf(gohere.Invalid, "%s %q: want epoch milliseconds", field, v)
	}
	return time.UnixMilli(n).UTC(), nil
}

func checkRange(from, to time.Time) error {
	if !from.Before(to) {
		return gohere.Errorf(gohere.Invalid, "from %s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if span := to.Sub(from); span > MaxSpan {
		return gohere.Errorf(gohere.Invalid, "range of %s is longer than %s", span, MaxSpan)
	}
	return nil
}

// Page is what the built-in compare page shows: one panel per signal, each
// with the resolved query of both sides, over one time range.
type Page struct {
	Query  PageQuery
	From   time.Time
	To     time.Time
	Step   time.Duration // query_range step: at most MaxPoints points per series
	Window string        // the rate window the queries use
	Note   string        // e.g. there is no baseline; "" when nothing to say
	Panels []Panel
}

// Panel is one signal: baseline and canary side by side and overlaid.
type Panel struct {
	SignalSpec
	Baseline string // resolved PromQL; empty when there is no baseline
	Canary   string // resolved PromQL
}

// NewPage resolves q against now (for to=now) and renders every signal for
// both sides. vars are the compare config's .Vars.
func NewPage(q PageQuery, signals []Signal, vars map[string]string, now time.Time) (Page, error) {
	to := q.To
	if to.IsZero() {
		to = now.UTC()
	}
	if err := checkRange(q.From, to); err != nil {
		return Page{}, err
	}
	step := max(ceilSecond((to.Sub(q.From)+MaxPoints-1)/MaxPoints), minStep)
	p := Page{
		Query:  q,
		From:   q.From,
		To:     to,
		Step:   step,
		Window: strconv.Itoa(int(max(4*step, minWindow)/time.Second)) + "s",
		Note:   Note(gohere.Deploy{Service: q.Service, Env: q.Env, Version: q.Canary, BaselineVersion: q.Baseline}),
	}
	v := Vars{Service: q.Service, Env: q.Env, Baseline: q.Baseline, Canary: q.Canary, Window: p.Window, Vars: vars}
	for _, s := range signals {
		panel := Panel{SignalSpec: s.SignalSpec}
		var err error
		if q.Baseline != "" {
			v.Version, v.Role = q.Baseline, RoleBaseline
			if panel.Baseline, err = s.Render(v); err != nil {
				return Page{}, err
			}
		}
		v.Version, v.Role = q.Canary, RoleCanary
		if panel.Canary, err = s.Render(v); err != nil {
			return Page{}, err
		}
		p.Panels = append(p.Panels, panel)
	}
	return p, nil
}

func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1) / time.Second * time.Second
}

// DeployStart is the instant the page marks: the link's start, or, for a
// link without one, from + Margin as URL places from.
func (p Page) DeployStart() time.Time {
	if !p.Query.Start.IsZero() {
		return p.Query.Start
	}
	return p.From.Add(Margin)
}
