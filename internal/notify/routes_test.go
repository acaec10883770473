package notify

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
)

const (
	slackHook   = "https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX"
	otherHook   = "https://hooks.slack.com/services/T0001/B0002/YYYYYYYYYYYYYYYYYYYYYYYY"
	genericHook = "https://example.com/hooks/gohere?token=s3cr3t"
)

func TestParseRoutes(t *testing.T) {
	in := `# chat channels per team
routes:
  - service: checkout
    env: prod
    webhooks: [` + slackHook + `]
    generic: ["` + genericHook + `"]
  - env: staging        # every service's staging deploys
    webhooks:
      - ` + otherHook + `
  - service: search
    generic: [http://10.0.0.7:8080/hook]
`
	got, err := ParseRoutes(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Routes{Routes: []Route{
		{Service: "checkout", Env: "prod", Destinations: []Destination{{slackHook, FormatSlack}, {genericHook, FormatGeneric}}},
		{Env: "staging", Destinations: []Destination{{otherHook, FormatSlack}}},
		{Service: "search", Destinations: []Destination{{"http://10.0.0.7:8080/hook", FormatGeneric}}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseRoutes (-want +got):\n%s", diff)
	}
	for _, in := range []string{"", "# none\n", "routes: []\n", "routes:\n"} {
		got, err := ParseRoutes(strings.NewReader(in))
		if err != nil || len(got.Routes) != 0 {
			t.Errorf("ParseRoutes(%q) = %v, %v; want no routes", in, got, err)
		}
	}
}

func TestParseRoutesErrors(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"unknown field", "routes:\n  - service: checkout\n    webhook: [" + slackHook + "]\n", []string{"line 3, column 5", `unknown field "webhook"`}},
		{"unknown top-level field", "route:\n  - webhooks: [" + slackHook + "]\n", []string{"line 1", `unknown field "route"`}},
		{"string, not a list", "routes:\n  - webhooks: " + slackHook + "\n", []string{"line 2", "string was used where sequence is expected"}},
		{"not a URL", "routes:\n  - webhooks: [hooks.slack.com/services/T/B/x]\n", []string{"routes[0].webhooks[0]: want an http or https URL with a host"}},
		{"other scheme", "routes:\n  - generic: [ftp://example.com/x/secret]\n", []string{"routes[0].generic[0]: want an http or https URL"}},
		{"no host", "routes:\n  - webhooks: [\"https:///services/T/B/x\"]\n", []string{"routes[0].webhooks[0]: want an http or https URL"}},
		{"control character", "routes:\n  - webhooks: [\"https://hooks.slack.com/services/T/B/x\\n\"]\n", []string{"routes[0].webhooks[0]: want an http or https URL"}},
		{"nowhere", "routes:\n  - service: checkout\n", []string{"routes[0]: no webhooks and no generic URLs"}},
		{"bad service", "routes:\n  - service: " + slackHook + "\n    webhooks: [" + otherHook + "]\n", []string{"routes[0].service: want a service name"}},
		{"bad env", "routes:\n  - env: \"pr od\"\n    webhooks: [" + otherHook + "]\n", []string{"routes[0].env: want an environment name"}},
		{"every problem at once", "routes:\n  - webhooks: [x, " + slackHook + ", y]\n  - generic: []\n", []string{
			"routes[0].webhooks[0]", "routes[0].webhooks[2]", "routes[1]: no webhooks"}},
		{"syntax", "routes:\n  - webhooks: [" + slackHook + "\n", []string{"line 2", "sequence end token ']' not found"}},
		{"quote", "routes:\n  - webhooks: ['" + slackHook + "\n", []string{"line 2", "could not find end character of single-quoted text"}},
		{"url as a field name", "routes:\n  - " + slackHook + ": x\n", []string{"line 2", "unknown field"}},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nroutes: [*d, *d]\n",
			[]string{"aliases expand beyond"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := ParseRoutes(strings.NewReader(c.in))
			if err == nil {
				t.Fatalf("ParseRoutes = %v, want an error", rs)
			}
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind %v, want invalid", k)
			}
			t.Log(err)
			assertInOrder(t, err.Error(), c.want)
			assertNoURLPath(t, c.in, err.Error())
		})
	}
}

var urlWithPath = regexp.MustCompile(`(?i)https?://[^/\s]*(/[^\s]+)`)

// assertNoURLPath fails when msg shows the path (or query) of a URL in in:
// webhook URLs carry their secret there.
func assertNoURLPath(t testing.TB, in, msg string) {
	t.Helper()
	for _, m := range urlWithPath.FindAllStringSubmatch(in, -1) {
		if len(m[1]) > 1 && strings.Contains(msg, m[1]) {
			t.Fatalf("error shows a URL's path %q: %s", m[1], msg)
		}
	}
}

func TestRoutesFor(t *testing.T) {
	a, b, g := Destination{slackHook, FormatSlack}, Destination{otherHook, FormatSlack}, Destination{genericHook, FormatGeneric}
	def := Destination{"https://hooks.slack.com/services/T0001/B0009/ZZZ", FormatSlack}
	rs := Routes{Routes: []Route{
		{Service: "checkout", Env: "prod", Destinations: []Destination{a, g}},
		{Service: "checkout", Destinations: []Destination{a}},
		{Env: "staging", Destinations: []Destination{b}},
	}}
	for _, c := range []struct {
		name, service, env string
		routes             Routes
		defaults           []Destination
		want               []Destination
	}{
		{"service and env", "checkout", "prod", rs, []Destination{def}, []Destination{a, g}},
		{"every matching route, each destination once", "checkout", "staging", rs, []Destination{def}, []Destination{a, b}},
		{"env only", "search", "staging", rs, []Destination{def}, []Destination{b}},
		{"none matches: defaults", "search", "prod", rs, []Destination{def}, []Destination{def}},
		{"none matches, no defaults", "search", "prod", rs, nil, nil},
		{"no routes", "checkout", "prod", Routes{}, []Destination{def, def}, []Destination{def}},
		{"same URL in both formats", "x", "y", Routes{Routes: []Route{{Destinations: []Destination{a, {slackHook, FormatGeneric}, a}}}}, nil,
			[]Destination{a, {slackHook, FormatGeneric}}},
		{"a route matching any", "search", "prod", Routes{Routes: []Route{{Destinations: []Destination{b}}}}, []Destination{def}, []Destination{b}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.routes.For(c.service, c.env, c.defaults)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("For(%q, %q) (-want +got):\n%s", c.service, c.env, diff)
			}
		})
	}
}

func TestDestinationName(t *testing.T) {
	names := map[string]bool{}
	for _, d := range []Destination{
		{slackHook, FormatSlack}, {otherHook, FormatSlack}, {slackHook, FormatGeneric},
		{genericHook, FormatGeneric}, {"http://user:pw@EXAMPLE.com:8080/x", FormatSlack}, {"::not a url", FormatSlack},
	} {
		name := d.Name()
		if !regexp.MustCompile(`^(generic:)?[a-z0-9.:-]+#[0-9a-f]{6}$`).MatchString(name) {
			t.Errorf("Name of %v = %q: want host#hash", d, name)
		}
		if names[name] {
			t.Errorf("Name %q: twice", name)
		}
		names[name] = true
		assertNoURLPath(t, d.URL, name)
		if strings.Contains(name, "pw") || strings.Contains(name, "user") {
			t.Errorf("Name %q shows the user info", name)
		}
		if d.Name() != name {
			t.Errorf("Name of %v is not stable", d)
		}
	}
	if got := (Destination{URL: slackHook, Format: FormatSlack}).Name(); !strings.HasPrefix(got, "hooks.slack.com#") {
		t.Errorf("Name = %q, want hooks.slack.com#…", got)
	}
	if got := (Destination{URL: genericHook, Format: FormatGeneric}).Name(); !strings.HasPrefix(got, "generic:example.com#") {
		t.Errorf("Name = %q, want generic:example.com#…", got)
	}
}

func TestParseDestination(t *testing.T) {
	if d, err := ParseDestination(slackHook, FormatSlack); err != nil || d != (Destination{slackHook, FormatSlack}) {
		t.Errorf("ParseDestination = %v, %v", d, err)
	}
	for _, raw := range []string{"", "hooks.slack.com/services/x", "mailto:a@example.com", "https://", "https://:443/x", "javascript:alert(1)//x"} {
		_, err := ParseDestination(raw, FormatSlack)
		if err == nil {
			t.Errorf("ParseDestination(%q): want an error", raw)
			continue
		}
		assertNoURLPath(t, raw, err.Error())
		if raw != "" && strings.Contains(err.Error(), raw) {
			t.Errorf("ParseDestination(%q) error shows the URL: %v", raw, err)
		}
	}
	if _, err := ParseDestination(slackHook, "teams"); err == nil {
		t.Error("ParseDestination(format teams): want an error")
	}
}
