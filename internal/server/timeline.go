package server

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

type timelinePage struct {
	chrome
	Title   string
	Filter  gohere.DeployFilter
	Running []DeployView
	// Trains are the push trains with people aboard (or stopped), of the
	// filtered service when there is one.
	Trains  []TrainView
	Now     time.Time
	Deploys []DeployView
	// Statuses are the status filter's links, the first one "all".
	Statuses []pageLink
	// Older is the link to the next page of older deploys, Newest back to
	// the first page; "" when there is none.
	Older, Newest string
	// DORA are the four keys of the last 30 days of what the page shows;
	// nil without them.
	DORA *doraView
}

// pageLink is one choice of a control made of plain links (a filter, a
// time range).
type pageLink struct {
	Label, URL string
	Current    bool
}

// timelineStatuses are the statuses the timeline filters by, in the order
// of a deploy's life.
var timelineStatuses = []gohere.Status{gohere.StatusRunning, gohere.StatusSucceeded, gohere.StatusFailed,
	gohere.StatusHalted, gohere.StatusRolledBack}

// timelinePage lists deploys newest first, a page at a time, and, above
// them, those still running. The page of everyone not signed in is shared
// (see pageCache) and tagged for conditional GETs.
func (s *Server) timelinePage(c *gin.Context) {
	q, f, err := parseTimeline(c.Request.URL.RawQuery)
	if err != nil {
		s.pageError(c, err)
		return
	}
	ch := s.chromeOf(c)
	shared := ch.Viewer == nil
	// The raw query holds every parameter (filter, status, cursor): each
	// combination is a page of its own.
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
	ctx := c.Request.Context()
	// One more than the page shows tells whether there is an older page.
	size := min(cmp.Or(f.Limit, store.DefaultListLimit), store.MaxListLimit-1)
	list := f
	list.Limit = size + 1
	ds, err := s.opts.Store.ListDeploys(ctx, list)
	if err != nil {
		s.pageError(c, err)
		return
	}
	// Running deploys are read by themselves: the newest page of a busy
	// server need not hold a canary that started hours ago.
	running, err := s.opts.Store.ListDeploys(ctx, gohere.DeployFilter{Service: f.Service, Env: f.Env, Status: gohere.StatusRunning})
	if err != nil {
		s.pageError(c, err)
		return
	}
	p := timelinePage{Title: "Deploys", Filter: f, Deploys: make([]DeployView, 0, min(len(ds), size)),
		DORA: s.timelineKeys(ctx, f.Service, f.Env)}
	for _, d := range running {
		p.Running = append(p.Running, s.view(d))
	}
	if p.Trains, err = s.boardedTrains(ctx, f.Service); err != nil {
		s.pageError(c, err)
		return
	}
	p.Now = time.Now()
	if len(ds) > size {
		ds = ds[:size]
		last := ds[size-1]
		p.Older = timelineURL(q, "before", formatCursor(gohere.DeployCursor{StartedAt: last.StartedAt, ID: last.ID}))
	}
	if f.Before != nil {
		p.Newest = timelineURL(q, "before", "")
	}
	for _, d := range ds {
		p.Deploys = append(p.Deploys, s.view(d))
	}
	p.Statuses = append(p.Statuses, pageLink{Label: "all", URL: timelineURL(q, "status", ""), Current: f.Status == ""})
	for _, st := range timelineStatuses {
		p.Statuses = append(p.Statuses, pageLink{Label: strings.ReplaceAll(string(st), "_", " "),
			URL: timelineURL(q, "status", string(st)), Current: f.Status == st})
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

// timelineParams are the timeline's parameters besides the deploy list's
// filter (parseFilter).
var timelineParams = append([]string{"status", "before"}, filterParams...)

// parseTimeline reads the timeline's query strictly, as parseFilter does
// the list's, plus ?status= and ?before=<cursor>. It returns the query too,
// for the page's links.
func parseTimeline(rawQuery string) (url.Values, gohere.DeployFilter, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, gohere.DeployFilter{}, gohere.Errorf(gohere.Invalid, "query: %w", err)
	}
	if err := onlyParams(q, timelineParams...); err != nil {
		return nil, gohere.DeployFilter{}, err
	}
	rest := url.Values{}
	for k, vs := range q {
		if k != "status" && k != "before" {
			rest[k] = vs
		}
	}
	f, err := parseFilter(rest.Encode())
	if err != nil {
		return nil, f, err
	}
	if v := q.Get("status"); v != "" {
		i := slices.Index(timelineStatuses, gohere.Status(v))
		if i < 0 {
			return nil, f, gohere.Errorf(gohere.Invalid, "status %q: want one of %s", v, statusList())
		}
		f.Status = timelineStatuses[i]
	}
	if v := q.Get("before"); v != "" {
		cur, err := parseCursor(v)
		if err != nil {
			return nil, f, err
		}
		f.Before = &cur
	}
	return q, f, nil
}

func statusList() string {
	names := make([]string, len(timelineStatuses))
	for i, s := range timelineStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// formatCursor writes a place in the timeline as the start in epoch
// microseconds (what the store keeps), a dot and the deploy's id.
func formatCursor(c gohere.DeployCursor) string {
	return strconv.FormatInt(c.StartedAt.UnixMicro(), 10) + "." + c.ID
}

func parseCursor(v string) (gohere.DeployCursor, error) {
	bad := gohere.Errorf(gohere.Invalid, "before %q: want the cursor of an \"older\" link (start in epoch microseconds, a dot, a deploy id)", v)
	us, id, ok := strings.Cut(v, ".")
	if !ok || id == "" {
		return gohere.DeployCursor{}, bad
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil || n < 0 {
		return gohere.DeployCursor{}, bad
	}
	if err := gohere.ValidateName("before", id); err != nil {
		return gohere.DeployCursor{}, bad
	}
	return gohere.DeployCursor{StartedAt: time.UnixMicro(n).UTC(), ID: id}, nil
}

// timelineURL is the timeline with the query q but k set to v (v "": left
// out). A new filter starts again from the newest deploy.
func timelineURL(q url.Values, k, v string) string {
	next := url.Values{}
	for name, vs := range q {
		if name != k && (k != "status" || name != "before") {
			next[name] = vs
		}
	}
	if v != "" {
		next.Set(k, v)
	}
	if len(next) == 0 {
		return "/"
	}
	return "/?" + next.Encode()
}

// boardedTrains are the trains with a car or a stop to show, of service
// alone unless it is "".
func (s *Server) boardedTrains(ctx context.Context, service string) ([]TrainView, error) {
	if s.opts.Trains == nil {
		return nil, nil
	}
	ts, err := s.opts.Trains.ListTrains(ctx)
	if err != nil {
		return nil, err
	}
	var out []TrainView
	for _, t := range ts {
		if (len(t.Cars) > 0 || t.Stopped) && (service == "" || t.Name == service) {
			out = append(out, viewTrain(t))
		}
	}
	return out, nil
}

func (p *timelinePage) Elapsed(t time.Time) string { return elapsed(p.Now, t) }
