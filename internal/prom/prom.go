package prom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gohere/gohere"
)

var tracer = otel.Tracer("github.com/gohere/gohere/internal/prom")

const (
	// MaxPoints is Prometheus' limit of points per series in one range query.
	MaxPoints = 11000
	// DefaultTimeout bounds a query when Options.Timeout is zero.
	DefaultTimeout = 30 * time.Second
	// maxBody bounds an answer; a bigger one is a query selecting far too much.
	maxBody = 256 << 20
	// grace lets the store's own timeout answer arrive before ours cuts in.
	grace = time.Second
)

// Options configure a Client. The zero value of every field but URL is safe.
type Options struct {
	URL         string // base URL, e.g. http://vm:8428 or https://mimir/prometheus; user:pass@ is basic auth
	BearerToken string
	// BearerTokenFile holds the bearer token instead; New reads it once.
	BearerTokenFile string
	Username        string // basic auth; not together with a bearer token
	Password        string
	// Headers go with every query: tenancy such as X-Scope-OrgID (Mimir,
	// Cortex) or AccountID; see ParseHeaders for what is refused.
	Headers http.Header
	// CAFile is a PEM file of the certificates the store's TLS certificate
	// must chain to, instead of the system's roots.
	CAFile     string
	Timeout    time.Duration // per query, sent to the store as `timeout`; 0 = DefaultTimeout
	HTTPClient *http.Client  // nil = a client of its own; its transport is wrapped with otelhttp
}

// Client queries one Prometheus-compatible store. It is safe for concurrent use.
type Client struct {
	base     *url.URL // without userinfo
	redacted string   // base for messages
	auth     func(*http.Request)
	headers  http.Header
	timeout  time.Duration
	http     *http.Client
}

// New validates opts and returns a client. Errors are gohere.Invalid.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus URL %q: want an http(s) URL", redact(opts.URL))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus URL %q: must not have a query or fragment", redact(opts.URL))
	}
	user, pass := opts.Username, opts.Password
	if u.User != nil {
		if user != "" || pass != "" {
			return nil, gohere.Errorf(gohere.Invalid, "prometheus URL %q: credentials both in the URL and in the options", redact(opts.URL))
		}
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	if opts.BearerTokenFile != "" {
		if opts.BearerToken != "" {
			return nil, gohere.Errorf(gohere.Invalid, "prometheus %s: a bearer token and a bearer token file are exclusive", u)
		}
		if opts.BearerToken, err = readToken(opts.BearerTokenFile); err != nil {
			return nil, err
		}
	}
	if err := checkHeaders(opts.Headers); err != nil {
		return nil, err
	}
	if opts.BearerToken != "" && (user != "" || pass != "") {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus %s: bearer token and basic auth are exclusive", u)
	}
	if opts.Timeout < 0 {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus %s: negative timeout %s", u, opts.Timeout)
	}
	c := &Client{base: u, redacted: u.String(), timeout: opts.Timeout, headers: opts.Headers.Clone(), auth: func(*http.Request) {}}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case opts.BearerToken != "":
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+opts.BearerToken) }
	case user != "" || pass != "":
		c.auth = func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}
	hc := http.Client{}
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if opts.CAFile != "" {
		if base, err = withCA(base, opts.CAFile); err != nil {
			return nil, err
		}
	}
	hc.Transport = otelhttp.NewTransport(base)
	c.http = &hc
	return c, nil
}

// redact drops the userinfo, query and fragment of a URL for messages (they
// may hold secrets), also when the URL does not parse.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		return u.String()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "//"); j >= 0 && j < i {
			return raw[:j+2] + "REDACTED@" + raw[i+1:]
		}
		return "REDACTED@" + raw[i+1:]
	}
	return raw
}

// Step returns the step for a range query: want, or more when want would
// give more than MaxPoints points per series (then whole seconds).
func Step(start, end time.Time, want time.Duration) time.Duration {
	d := end.Sub(start)
	if d <= 0 {
		return want
	}
	// points = floor(d/step) + 1 <= MaxPoints  <=>  step >= d/(MaxPoints-1)
	minStep := (d + MaxPoints - 2) / (MaxPoints - 1)
	if want >= minStep {
		return want
	}
	if minStep > time.Second {
		minStep = (minStep + time.Second - 1).Truncate(time.Second)
	}
	return minStep
}

// QueryRange evaluates query over [start, end] every step.
func (c *Client) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	switch {
	case strings.TrimSpace(query) == "":
		return nil, gohere.Errorf(gohere.Invalid, "query_range: empty query")
	case end.Before(start):
		return nil, gohere.Errorf(gohere.Invalid, "query_range %q: end %s before start %s", query, end.Format(time.RFC3339), start.Format(time.RFC3339))
	case step <= 0:
		return nil, gohere.Errorf(gohere.Invalid, "query_range %q: step %s must be positive", query, step)
	case int64(end.Sub(start)/step) >= MaxPoints:
		return nil, gohere.Errorf(gohere.Invalid, "query_range %q: step %s gives more than %d points per series; use prom.Step", query, step, MaxPoints)
	}
	form := url.Values{
		"query": {query},
		"start": {unixSeconds(start)},
		"end":   {unixSeconds(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	return c.do(ctx, "query_range", form, attribute.String("gohere.query", query),
		attribute.Int64("gohere.step_ms", step.Milliseconds()))
}

// Query evaluates query at one instant.
func (c *Client) Query(ctx context.Context, query string, at time.Time) ([]Series, error) {
	if strings.TrimSpace(query) == "" {
		return nil, gohere.Errorf(gohere.Invalid, "query: empty query")
	}
	form := url.Values{"query": {query}, "time": {unixSeconds(at)}}
	return c.do(ctx, "query", form, attribute.String("gohere.query", query))
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// do posts the form to /api/v1/<endpoint> and decodes the answer.
func (c *Client) do(ctx context.Context, endpoint string, form url.Values, attrs ...attribute.KeyValue) (_ []Series, err error) {
	ctx, span := tracer.Start(ctx, "prom."+endpoint, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, gohere.KindOf(err).String())
		}
		span.End()
	}()
	// The store gets our timeout (or what is left of the caller's) so that it
	// stops working when we stop waiting, and answers with a timeout error
	// just before our own deadline would cut the connection.
	timeout := c.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return nil, c.errorf(endpoint, form, "%w", context.DeadlineExceeded)
	}
	form.Set("timeout", strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64))
	reqCtx, cancel := context.WithTimeout(ctx, timeout+grace)
	defer cancel()

	u := c.base.JoinPath("api", "v1", endpoint)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus %s: %s: %v", c.redacted, endpoint, err)
	}
	for name, values := range c.headers {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	c.auth(req)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, endpoint, form, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, c.transportError(ctx, endpoint, form, err)
	}
	if len(body) > maxBody {
		return nil, c.wrap(endpoint, form, gohere.Errorf(gohere.Invalid, "answer larger than %d MiB", maxBody>>20))
	}
	series, err := decode(resp.StatusCode, body)
	if err != nil {
		return nil, c.wrap(endpoint, form, err)
	}
	span.SetAttributes(attribute.Int("gohere.series", len(series)))
	return series, nil
}

// transportError classifies a failure to get an answer. A caller that
// cancelled is not the store's fault and not retryable; everything else
// (refused connection, reset, a deadline passed) is the store being
// unavailable.
func (c *Client) transportError(ctx context.Context, endpoint string, form url.Values, err error) error {
	// *url.Error repeats the request URL; ours carries no credentials, but
	// say it once, our way.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("prometheus %s: %s %q: %w", c.redacted, endpoint, form.Get("query"), context.Cause(ctx))
	}
	if ctx.Err() != nil { // the caller's deadline: the store was too slow for it
		err = context.Cause(ctx)
	}
	return c.errorf(endpoint, form, "%w", err)
}

func (c *Client) wrap(endpoint string, form url.Values, err error) error {
	return gohere.Errorf(gohere.KindOf(err), "prometheus %s: %s %q: %w", c.redacted, endpoint, form.Get("query"), err)
}

func (c *Client) errorf(endpoint string, form url.Values, format string, args ...any) error {
	return c.wrap(endpoint, form, gohere.Errorf(gohere.Unavailable, format, args...))
}

// Retryable reports whether err is the store being down, slow or failing, so
// the same query may succeed later. Bad queries, bad credentials and a
// caller that gave up are not retryable.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	return gohere.KindOf(err) == gohere.Unavailable
}
