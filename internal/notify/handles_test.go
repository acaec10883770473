package notify

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
)

func TestParseHandles(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     Handles
	}{
		{"empty file", "", Handles{}},
		{"only comments", "# nobody yet\n", Handles{}},
		{"slack ids and @names", `# who is who in #deploys
alice: U024BE7LH
carol: W012A3CDE
bob: "@bob"
'Dave Smith': '@dave.smith-2_x'
`, Handles{"alice": "U024BE7LH", "carol": "W012A3CDE", "bob": "@bob", "Dave Smith": "@dave.smith-2_x"}},
		{"flow style", `{alice: U024BE7LH, bob: "@bob"}`, Handles{"alice": "U024BE7LH", "bob": "@bob"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseHandles(strings.NewReader(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ParseHandles (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHandlesErrors(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string // in the error, in this order
	}{
		{"unquoted @name", "alice: U024BE7LH\nbob: @bob\n", []string{"line 2", "'@' is a reserved character", `quote a handle that starts with @: bob: "@bob"`}},
		{"number", "alice: U024BE7LH\nbob: 42\n", []string{`line 2: "bob": the handle must be a string`}},
		{"bool", "bob: true\n", []string{`line 1: "bob": the handle must be a string`}},
		{"list", "bob: [\"@bob\"]\n", []string{`line 1: "bob": the handle must be a string`}},
		{"empty", "bob:\n", []string{`line 1: "bob": the handle is empty`}},
		{"empty string", "bob: ''\n", []string{`line 1: "bob": the handle is empty`}},
		{"space", "bob: \"@bob smith\"\n", []string{`line 1: "bob": want a Slack member id (U024BE7LH) or @name`}},
		{"angle brackets", "bob: \"<@U024BE7LH>\"\n", []string{`line 1: "bob": want a Slack member id`}},
		{"pipe", "bob: \"@bob|x\"\n", []string{`line 1: "bob": want a Slack member id`}},
		{"lower-case id", "bob: u024be7lh\n", []string{`line 1: "bob": want a Slack member id`}},
		{"empty name", "'': U024BE7LH\n", []string{"line 1: want an author name"}},
		{"number as name", "7: U024BE7LH\n", []string{"line 1: want an author name"}},
		{"every problem at once", "a: 1\nb: \"x y\"\nc:\n", []string{`line 1: "a"`, `line 2: "b"`, `line 3: "c"`}},
		{"duplicate", "bob: \"@bob\"\nbob: U024BE7LH\n", []string{"line 2", `mapping key "bob" already defined`}},
		{"not a map", "- alice\n- bob\n", []string{"line 1: want a map of author names to chat handles"}},
		{"two documents", "alice: U024BE7LH\n---\nbob: \"@bob\"\n", []string{"line 3: want one YAML document"}},
		{"alias", "alice: &a U024BE7LH\nbob: *a\n", []string{`line 1: "alice": the handle must be a string`, `line 2: "bob": the handle must be a string`}},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d]\n",
			[]string{"aliases expand beyond"}},
		{"syntax", "alice: \"U024BE7LH\n", []string{"line 1"}},
		{"too large", "a: U024BE7LH\n" + strings.Repeat("#", maxConfig), []string{"larger than"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := ParseHandles(strings.NewReader(c.in))
			if err == nil {
				t.Fatalf("ParseHandles = %v, want an error", h)
			}
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind %v, want invalid", k)
			}
			t.Log(err)
			assertInOrder(t, err.Error(), c.want)
		})
	}
}

// TestParseHandlesHidesURLs: a webhook URL pasted into the handles file
// is not repeated by the error.
func TestParseHandlesHidesURLs(t *testing.T) {
	const secret = "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX"
	for _, in := range []string{
		"alice: https://hooks.slack.com" + secret + "\n",
		"alice: [https://hooks.slack.com" + secret + "\n",
		"alice: \"https://hooks.slack.com" + secret + "\n",
		"https://hooks.slack.com" + secret + ": 1\n",
		"alice: *https://hooks.slack.com" + secret + "\n",
		"- https://hooks.slack.com" + secret + "\n",
	} {
		_, err := ParseHandles(strings.NewReader(in))
		if err == nil {
			t.Errorf("ParseHandles(%q): want an error", in)
			continue
		}
		if strings.Contains(err.Error(), "services/T0001") || strings.Contains(err.Error(), "XXXXXXXX") {
			t.Errorf("ParseHandles(%q) error shows the URL: %v", in, err)
		}
	}
}

// assertInOrder checks that s holds each of want, in order.
func assertInOrder(t *testing.T, s string, want []string) {
	t.Helper()
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("error %q: want %q (in this order: %q)", s, w, want)
			return
		}
		rest = rest[i+len(w):]
	}
}
