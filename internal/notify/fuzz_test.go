package notify

import (
	"strings"
	"testing"
)

// FuzzParseHandles: any input is parsed or refused without a panic, a
// refusal never shows a URL's path, and what is accepted renders as a
// mention or as inert text.
func FuzzParseHandles(f *testing.F) {
	for _, s := range []string{
		"alice: U024BE7LH\nbob: \"@bob\"\n",
		"{alice: W012A3CDE, 'Dave Smith': '@dave'}",
		"alice: https://hooks.slack.com/services/T0001/B0001/XXXXXXXX\n",
		"bob: @bob\n",
		"a: &a U1\nb: *a\n",
		"- x\n---\na: b\n",
		"a: !!str 1\nb: |\n  @x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := ParseHandles(strings.NewReader(in))
		if err != nil {
			assertNoURLPath(t, in, err.Error())
			return
		}
		for name, handle := range h {
			m := h.Mention(name)
			if m != "<@"+handle+">" && m != handle {
				t.Errorf("Mention(%q) = %q: handle %q accepted but not used", name, m, handle)
			}
			if strings.ContainsAny(handle, " <>|&*~`") {
				t.Errorf("handle %q accepted", handle)
			}
		}
	})
}

// FuzzParseRoutes: any input is parsed or refused without a panic, a
// refusal never shows a URL's path, and every accepted destination is an
// http(s) URL whose Name hides its path.
func FuzzParseRoutes(f *testing.F) {
	for _, s := range []string{
		"routes:\n  - service: checkout\n    env: prod\n    webhooks: [" + slackHook + "]\n    generic: [\"" + genericHook + "\"]\n",
		"routes:\n  - webhooks: " + slackHook + "\n",
		"routes:\n  - webhooks: [" + slackHook + "\n",
		"routes:\n  - " + slackHook + ": x\n",
		"routes:\n  - webhook: ['" + slackHook + "']\n",
		"routes: [{service: a, generic: [x]}, {}]\n",
		"routes:\n  - webhooks: [&a " + slackHook + ", *a]\n",
		"routes:\n  - webhooks: [!!int " + slackHook + "]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := ParseRoutes(strings.NewReader(in))
		if err != nil {
			assertNoURLPath(t, in, err.Error())
			return
		}
		for _, r := range rs.Routes {
			if len(r.Destinations) == 0 {
				t.Errorf("route %+v accepted without destinations", r)
			}
			for _, d := range r.Destinations {
				if _, err := ParseDestination(d.URL, d.Format); err != nil {
					t.Errorf("destination accepted: %v", err)
				}
				assertNoURLPath(t, d.URL, d.Name())
			}
		}
	})
}
