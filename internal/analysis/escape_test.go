package analysis

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResolveEscapesValues: issue 13, defect 3. Values substituted into a
// query template are escaped for PromQL double-quoted strings, so that
// service `x\` and env `}[1m]))or(vector(1))#` cannot turn a canary query
// into vector(1) with the version filter commented out.
func TestResolveEscapesValues(t *testing.T) {
	cfg := loadConfig(t, `metrics:
  - name: latency
    query: 'sum(rate(m{service="{{.Service}}",env="{{.Env}}",version="{{.Version}}",ns="{{.Vars.ns}}"}[1m])) / on() b{v="{{.Baseline}}",c="{{.Canary}}"}'
analysis:
  lifetime: 10m
  vars: {ns: "a\"}\nor vector(1)"}
`)
	qs, err := compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const skeleton = `sum(rate(m{service="",env="",version="",ns=""}[1m])) / on() b{v="",c=""}`
	tg := Target{Service: `x\`, Env: `}[1m]))or(vector(1))#`, Baseline: `v1\`, Canary: `v2"`, Vars: cfg.Analysis.Vars}
	if err := qs.check(tg, true); err != nil {
		t.Fatalf("check: %v", err)
	}
	want := map[string]string{
		RoleBaseline: `sum(rate(m{service="x\\",env="}[1m]))or(vector(1))#",version="v1\\",ns="a\"}\nor vector(1)"}[1m])) / on() b{v="v1\\",c="v2\""}`,
		RoleCanary:   `sum(rate(m{service="x\\",env="}[1m]))or(vector(1))#",version="v2\"",ns="a\"}\nor vector(1)"}[1m])) / on() b{v="v1\\",c="v2\""}`,
	}
	for _, role := range roles {
		got, err := qs[0].parts[0].resolve(tg, role)
		if err != nil {
			t.Fatal(err)
		}
		if got != want[role] {
			t.Errorf("%s query:\n got %s\nwant %s", role, got, want[role])
		}
		if diff := cmp.Diff(skeleton, stripStrings(t, got)); diff != "" {
			t.Errorf("%s query changed structure (-template +resolved):\n%s", role, diff)
		}
	}
}

// stripStrings empties every double-quoted string of a PromQL query, as
// PromQL's lexer reads them (a backslash escapes the next character), and
// fails on an unterminated one or a raw line break inside one.
func stripStrings(t *testing.T, q string) string {
	t.Helper()
	var b strings.Builder
	in := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case !in:
			b.WriteByte(c)
			in = c == '"'
		case c == '\\':
			i++
		case c == '\n':
			t.Fatalf("raw line break inside a string of %q", q)
		case c == '"':
			b.WriteByte(c)
			in = false
		}
	}
	if in {
		t.Fatalf("unterminated string in %q", q)
	}
	return b.String()
}
