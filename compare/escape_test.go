package compare_test

import (
	"strings"
	"testing"

	"github.com/gohere/gohere/compare"
)

// TestRenderEscapesVars: issue 13, defect 3. Names with quotes or
// backslashes are refused (TestRenderRefusesBreakouts); every value that
// reaches a template, the config's vars included, is also escaped for a
// double-quoted PromQL string.
func TestRenderEscapesVars(t *testing.T) {
	set, err := compare.LoadSignals(strings.NewReader(`vars: {ns: "x\\", env: "}[1m]))or(vector(1))#\""}
signals:
  - name: rate
    query: 'sum(rate(m{ns="{{.Vars.ns}}",e="{{.Vars.env}}",version="{{.Version}}"}[{{.Window}}]))'
`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := set.Signals[0].Render(compare.Vars{Service: "s", Env: "e", Version: "v2", Role: compare.RoleCanary,
		Baseline: "v1", Canary: "v2", Window: "5m", Vars: set.Vars})
	if err != nil {
		t.Fatal(err)
	}
	want := `sum(rate(m{ns="x\\",e="}[1m]))or(vector(1))#\"",version="v2"}[5m]))`
	if got != want {
		t.Errorf("Render:\n got %s\nwant %s", got, want)
	}
}
