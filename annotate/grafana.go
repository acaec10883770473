package annotate

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gapi "github.com/grafana/grafana-api-golang-client"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/gohere/gohere"
)

// DefaultTimeout bounds one Grafana call when NewGrafana is given none.
const DefaultTimeout = 10 * time.Second

// Grafana writes annotations through the mandated client. It is safe for
// concurrent use; each call is one HTTP request, never retried here.
type Grafana struct {
	baseURL   string
	token     string
	timeout   time.Duration
	transport http.RoundTripper // shared: keeps connections alive across calls
}

// NewGrafana checks the base URL (absolute http(s), no credentials, query or
// fragment) and returns the writer. timeout bounds each call; <= 0 means
// DefaultTimeout. The token is never part of an error.
func NewGrafana(baseURL, token string, timeout time.Duration) (*Grafana, error) {
	u, err := url.Parse(baseURL)
	switch {
	case err != nil:
		return nil, gohere.Errorf(gohere.Invalid, "grafana url: not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, gohere.Errorf(gohere.Invalid, "grafana url %q: want an http or https URL", u.Redacted())
	case u.Host == "":
		return nil, gohere.Errorf(gohere.Invalid, "grafana url %q: no host", u.Redacted())
	case u.User != nil:
		return nil, gohere.Errorf(gohere.Invalid, "grafana url %q: credentials do not belong in the URL; give a service-account token", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, gohere.Errorf(gohere.Invalid, "grafana url %q: no query or fragment allowed", u.Redacted())
	case token == "":
		return nil, gohere.Errorf(gohere.Invalid, "grafana url %q: a service-account token is required", u.Redacted())
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	return &Grafana{
		baseURL: strings.TrimRight(u.String(), "/"),
		token:   token,
		timeout: timeout,
		transport: otelhttp.NewTransport(base, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "grafana " + r.Method + " " + route(r.URL.Path)
		})),
	}, nil
}

// route replaces numeric path segments (annotation ids) so that span names
// stay a bounded set.
func route(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// call is one request through the mandated client with the caller's ctx.
type call struct {
	status int // of the last response; 0 when none arrived
}

// ctxTransport puts the caller's ctx back on the requests of a client that
// builds them without one, and notes the response status for error kinds.
type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
	call *call
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r.WithContext(t.ctx))
	if resp != nil {
		t.call.status = resp.StatusCode
	}
	return resp, err
}

// do runs fn with a client bound to ctx and the per-call timeout, and turns
// its failure into an error of the right kind naming what.
func (g *Grafana) do(ctx context.Context, what string, fn func(*gapi.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	c := &call{}
	client, err := gapi.New(g.baseURL, gapi.Config{
		APIKey:     g.token,
		Client:     &http.Client{Transport: ctxTransport{ctx: ctx, next: g.transport, call: c}},
		NumRetries: 0, // the outbox retries, with backoff and durably
	})
	if err != nil {
		return gohere.Errorf(gohere.Internal, "grafana: %s: %w", what, err)
	}
	if err := fn(client); err != nil {
		// Grafana's error body comes whole inside the client's error: a
		// proxy's 2 MiB error page must not become a 2 MiB log line.
		return &gohere.Error{Kind: gohere.KindOfStatus(c.status), Msg: "grafana: " + what + ": " + capText(err.Error(), maxErrorText), Err: err}
	}
	return nil
}

// maxErrorText bounds what an error shows of Grafana's answer.
const maxErrorText = 2048

// capText cuts s to at most n bytes of valid UTF-8, saying how much it cut.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + fmt.Sprintf("… (%d more bytes)", len(s)-n)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// subject names an annotation in errors by its deploy-id tag.
func subject(a Annotation) string {
	for _, t := range a.Tags {
		if id, ok := strings.CutPrefix(t, "deploy-id:"); ok {
			return "annotation for deploy " + id
		}
	}
	return "annotation"
}

// FindByTag returns the id of the oldest annotation carrying tag, if any.
func (g *Grafana) FindByTag(ctx context.Context, tag string) (id int64, found bool, err error) {
	var got []gapi.Annotation
	err = g.do(ctx, fmt.Sprintf("find annotation tagged %q", tag), func(c *gapi.Client) error {
		var err error
		got, err = c.Annotations(url.Values{"tags": {tag}, "type": {"annotation"}, "limit": {"100"}})
		return err
	})
	if err != nil || len(got) == 0 {
		return 0, false, err
	}
	return slices.MinFunc(got, func(a, b gapi.Annotation) int { return int(a.ID - b.ID) }).ID, true, nil
}

// Create writes a new organisation-wide region annotation and returns its id.
func (g *Grafana) Create(ctx context.Context, a Annotation) (int64, error) {
	var id int64
	err := g.do(ctx, "create "+subject(a), func(c *gapi.Client) error {
		var err error
		id, err = c.NewAnnotation(&gapi.Annotation{Time: ms(a.Time), TimeEnd: ms(a.TimeEnd), Tags: a.Tags, Text: a.Text})
		return err
	})
	return id, err
}

// Update replaces time, timeEnd, tags and text of annotation id (PUT). A
// deleted annotation gives a NotFound error: the caller creates it again.
func (g *Grafana) Update(ctx context.Context, id int64, a Annotation) error {
	return g.do(ctx, fmt.Sprintf("update %s (id %d)", subject(a), id), func(c *gapi.Client) error {
		_, err := c.UpdateAnnotation(id, &gapi.Annotation{Time: ms(a.Time), TimeEnd: ms(a.TimeEnd), Tags: a.Tags, Text: a.Text})
		return err
	})
}
