package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/gohere/gohere"
)

// Format is the body a destination takes.
type Format string

const (
	FormatSlack   Format = "slack"   // Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat)
	FormatGeneric Format = "generic" // plain JSON, see Generic
)

// Destination is one webhook. Its URL carries a secret (Slack's and
// Mattermost's are the credential): log and count it by Name only.
type Destination struct {
	URL    string
	Format Format
}

// Name is a label for logs, metrics and the delivery record: the host and
// a short hash of the whole URL, "hooks.slack.com#3fa2c1", never the path
// or the query. A generic destination is marked, so that one URL taking
// both formats counts as two destinations.
func (d Destination) Name() string {
	sum := sha256.Sum256([]byte(d.URL))
	host := "invalid"
	if u, err := url.Parse(d.URL); err == nil && u.Host != "" {
		host = strings.ToLower(u.Host)
	}
	name := host + "#" + hex.EncodeToString(sum[:3])
	if d.Format == FormatGeneric {
		name = "generic:" + name
	}
	return name
}

// ParseDestination checks a webhook URL. Its error never shows the URL.
func ParseDestination(raw string, f Format) (Destination, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return Destination{}, gohere.Errorf(gohere.Invalid, "want an http or https URL with a host")
	}
	if f != FormatSlack && f != FormatGeneric {
		return Destination{}, gohere.Errorf(gohere.Invalid, "format %q: want slack or generic", f)
	}
	return Destination{URL: raw, Format: f}, nil
}

// Routes send the messages about some services or environments to their
// own webhooks (--notify-routes FILE).
type Routes struct {
	Routes []Route
}

// Route matches deploys by service and env; an empty one matches any.
type Route struct {
	Service, Env string
	Destinations []Destination
}

// For returns where messages about a deploy of service to env go: the
// destinations of every matching route, or defaults when none matches,
// each once.
func (rs Routes) For(service, env string, defaults []Destination) []Destination {
	var out []Destination
	matched := false
	for _, r := range rs.Routes {
		if (r.Service == "" || r.Service == service) && (r.Env == "" || r.Env == env) {
			matched = true
			out = appendNew(out, r.Destinations...)
		}
	}
	if !matched {
		out = appendNew(out, defaults...)
	}
	return out
}

func appendNew(out []Destination, ds ...Destination) []Destination {
	for _, d := range ds {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

type routesFile struct {
	Routes []routeEntry `yaml:"routes"`
}

type routeEntry struct {
	Service  string   `yaml:"service"`
	Env      string   `yaml:"env"`
	Webhooks []string `yaml:"webhooks"` // Slack-compatible
	Generic  []string `yaml:"generic"`  // plain JSON
}

// ParseRoutes reads a --notify-routes file:
//
//	routes:
//	  - service: checkout   # optional; empty: any
//	    env: prod           # optional; empty: any
//	    webhooks: [https://hooks.slack.com/services/T/B/x]
//	    generic: [https://example.com/hook]
//
// Unknown fields are errors; every problem is returned at once. No error
// shows a URL, nor anything else of the file with a "/" in it.
func ParseRoutes(r io.Reader) (Routes, error) {
	data, err := readConfig(r)
	if err != nil {
		return Routes{}, err
	}
	if err := gohere.CheckYAMLAliases(data); err != nil {
		return Routes{}, err
	}
	f, err := decodeRoutes(data)
	if err != nil {
		return Routes{}, err
	}
	var rs Routes
	var errs []error
	for i, e := range f.Routes {
		at := fmt.Sprintf("routes[%d]", i)
		// The values are not shown: a URL pasted into the wrong field
		// would be.
		if e.Service != "" && gohere.ValidateName("service", e.Service) != nil {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "%s.service: want a service name (%s)", at, gohere.NameAlphabet))
		}
		if e.Env != "" && gohere.ValidateName("env", e.Env) != nil {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "%s.env: want an environment name (%s)", at, gohere.NameAlphabet))
		}
		if len(e.Webhooks)+len(e.Generic) == 0 {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "%s: no webhooks and no generic URLs: nowhere to send to", at))
		}
		route := Route{Service: e.Service, Env: e.Env}
		for _, group := range []struct {
			field  string
			urls   []string
			format Format
		}{{"webhooks", e.Webhooks, FormatSlack}, {"generic", e.Generic, FormatGeneric}} {
			for j, raw := range group.urls {
				d, err := ParseDestination(raw, group.format)
				if err != nil {
					errs = append(errs, gohere.Errorf(gohere.Invalid, "%s.%s[%d]: %w", at, group.field, j, err))
					continue
				}
				route.Destinations = append(route.Destinations, d)
			}
		}
		rs.Routes = append(rs.Routes, route)
	}
	if err := errors.Join(errs...); err != nil {
		return Routes{}, err
	}
	return rs, nil
}

// decodeRoutes decodes strictly; a decoder panic (goccy/go-yaml v1.19.2
// has some) becomes an Invalid error.
func decodeRoutes(data []byte) (f routesFile, err error) {
	defer func() {
		if recover() != nil {
			f, err = routesFile{}, gohere.Errorf(gohere.Invalid, "malformed YAML: the decoder gave up")
		}
	}()
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return routesFile{}, yamlError(err)
	}
	return f, nil
}

// maxConfig bounds a handles or routes file: a few hundred lines are real.
const maxConfig = 1 << 20

func readConfig(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfig+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxConfig {
		return nil, gohere.Errorf(gohere.Invalid, "larger than %d bytes", maxConfig)
	}
	return data, nil
}

// yamlError renders a parse or decode error as "line L, column C: message",
// without the source excerpt that goccy/go-yaml's Error adds: that would
// show the webhook URLs around the problem.
func yamlError(err error) error {
	msg := "malformed YAML"
	if ye, ok := errors.AsType[yaml.Error](err); ok {
		msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			msg = fmt.Sprintf("line %d, column %d: %s", tk.Position.Line, tk.Position.Column, msg)
		}
	}
	return gohere.Errorf(gohere.Invalid, "%s", redact(msg))
}

var withSlash = regexp.MustCompile(`\S*/\S*`)

// redact hides every word with a "/" in an error message: the decoder
// quotes the input it stumbled on (a field name, an anchor), and a URL, or
// the secret path of one, always has a slash.
func redact(msg string) string {
	return withSlash.ReplaceAllString(msg, "(redacted)")
}
