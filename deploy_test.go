package gohere_test

import (
	"strings"
	"testing"

	"github.com/gohere/gohere"
)

// TestValidateName: issue 13, defects 3 and 8. Names keep to a documented
// alphabet: real names pass, and anything that breaks a tag, a link or a
// query, or that hides or reorders characters, is refused naming it.
func TestValidateName(t *testing.T) {
	for _, v := range []string{
		"checkout", "prod-eu-1", "v1.2.3-rc.1+build.5", "release/2026.12", "team_a", "alice@example.com",
		"#42", "main~1", "k=v", "café", "cafe\u0301", "ünïcode", "日本語", "Ελληνικά", "٣٤", "0190f3c2-7b9e-7e3a-9c1d-4a5b6c7d8e9f",
	} {
		if err := gohere.ValidateName("service", v); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", v, err)
		}
	}
	for _, tc := range []struct{ name, v string }{
		{"backslash", `x\`},
		{"promql breakout", `}[1m]))or(vector(1))#`},
		{"double quote", `v1"`},
		{"single quote", "v1'"},
		{"backtick", "v1`"},
		{"comma", "a,b"},
		{"colon", "a:b"},
		{"space", "a b"},
		{"no-break space", "a\u00a0b"},
		{"NUL", "a\x00b"},
		{"newline", "a\nb"},
		{"DEL", "a\x7fb"},
		{"next line U+0085", "a\u0085b"},
		{"line separator U+2028", "a\u2028b"},
		{"paragraph separator U+2029", "a\u2029b"},
		{"LRE U+202A", "a\u202ab"},
		{"RLE U+202B", "a\u202bb"},
		{"PDF U+202C", "a\u202cb"},
		{"LRO U+202D", "a\u202db"},
		{"RLO U+202E", "v1\u202e2v"},
		{"LRI U+2066", "a\u2066b"},
		{"RLI U+2067", "a\u2067b"},
		{"FSI U+2068", "a\u2068b"},
		{"PDI U+2069", "a\u2069b"},
		{"zero-width space U+200B", "a\u200bb"},
		{"ZWNJ U+200C", "a\u200cb"},
		{"ZWJ U+200D", "a\u200db"},
		{"BOM U+FEFF", "\ufeffcheckout"},
		{"Hangul filler", "a\u3164b"},
		{"variation selector", "a\ufe0fb"},
		{"replacement character", "a\ufffdb"},
		{"symbol", "rocket\U0001F680"},
		{"invalid UTF-8", "a\xffb"},
		{"truncated UTF-8", "caf\xc3"},
		{"HTML", "<b>"},
		{"PromQL braces", "a{b}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := gohere.ValidateName("service", tc.v)
			if err == nil {
				t.Fatalf("ValidateName(%q) = nil, want an error", tc.v)
			}
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind = %v, want invalid", k)
			}
			for _, w := range []string{"service", gohere.NameAlphabet} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "not valid UTF-8") && !strings.Contains(err.Error(), "is not allowed") {
				t.Errorf("error %q says neither what is wrong nor which character", err)
			}
			// The error shows the value quoted: nothing invisible or reordering.
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r >= 0x80 && r <= 0x9f || r >= 0x2000 && r <= 0x206f || r == 0xfeff }) {
				t.Errorf("error %q carries the offending character raw", err)
			}
		})
	}
}

// TestDeployValidateText: free-text fields (author, titles, the pr link)
// may hold any script and punctuation, but not invalid UTF-8 (nor the U+FFFD
// encoding/json makes of it), line breaks or bidi overrides.
func TestDeployValidateText(t *testing.T) {
	base := gohere.Deploy{Service: "checkout", Env: "prod", Version: "v2"}
	ok := base
	ok.Author = "Zoë O'Brien, \"zo\""
	ok.Changes = []gohere.Change{{Commit: "0a0a0a", Author: "carol", Title: "ünïcode: titles, with commas \\ and `code`"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate = %v, want nil", err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(*gohere.Deploy)
	}{
		{"service with backslash", "service", func(d *gohere.Deploy) { d.Service = `x\` }},
		{"env breaking out of a query", "env", func(d *gohere.Deploy) { d.Env = `}[1m]))or(vector(1))#` }},
		{"baseline with RLO", "baseline_version", func(d *gohere.Deploy) { d.BaselineVersion = "v1\u202e" }},
		{"author invalid UTF-8", "author", func(d *gohere.Deploy) { d.Author = "a\xffb" }},
		{"author U+FFFD", "author", func(d *gohere.Deploy) { d.Author = "a\ufffdb" }},
		{"merged_by RLO", "merged_by", func(d *gohere.Deploy) { d.MergedBy = "eve\u202egnp.exe" }},
		{"pr LRI", "pr", func(d *gohere.Deploy) { d.PR = "https://x/\u2066" }},
		{"commit NEL", "commit", func(d *gohere.Deploy) { d.Commit = "abc\u0085" }},
		{"title line separator", "changes[0].title", func(d *gohere.Deploy) {
			d.Changes = []gohere.Change{{Commit: "0a", Title: "one\u2028two"}}
		}},
		{"title invalid UTF-8", "changes[0].title", func(d *gohere.Deploy) {
			d.Changes = []gohere.Change{{Commit: "0a", Title: "caf\xc3"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			tc.edit(&d)
			err := d.Validate()
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind = %v, want invalid", k)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

// TestTitled: a fast-lane prefix is a word of its own at the title's start.
func TestTitled(t *testing.T) {
	for title, want := range map[string]bool{
		"DARK new checkout flow": true, "DARK: new flow": true, "  DARK": true, "[DARK] x": false,
		"DARKMODE for all": false, "DARK_LAUNCH x": false, "DARK2 x": false, "dark x": false, "DARK-launch": true,
	} {
		if got := gohere.Titled(title, gohere.DarkPrefix); got != want {
			t.Errorf("Titled(%q, DARK) = %v, want %v", title, got, want)
		}
	}
	d := gohere.Deploy{Changes: []gohere.Change{{Title: "DARK a"}, {Title: "DARKMODE b"}}}
	if d.Dark() || (gohere.Deploy{}).Dark() || !(gohere.Deploy{Changes: d.Changes[:1]}).Dark() {
		t.Error("Dark: want every change DARK, and some change")
	}
}
