package judge

import (
	"strings"
	"testing"
)

// TestCheckTemplate: every variable a query template names is checked
// where dot is the template's data, and only there.
func TestCheckTemplate(t *testing.T) {
	vars := []string{"region"}
	for _, tt := range []struct {
		name, text string
		unknown    string // "" when the template is fine
	}{
		{"plain text", `up`, ""},
		{"every variable", `{{.Service}}{{.Env}}{{.Version}}{{.Role}}{{.Baseline}}{{.Canary}}{{.Vars.region}}`, ""},
		{"typo", `up{service="{{.Servcie}}"}`, ".Servcie"},
		{"lower case", `{{.service}}`, ".service"},
		{"unknown var", `{{.Vars.zone}}`, ".Vars.zone"},
		{"field of a string", `{{.Version.Major}}`, ".Version.Major"},
		{"behind $", `{{$.Enviroment}}`, ".Enviroment"},
		{"$ alone is the data", `{{with $}}{{end}}{{$.Env}}`, ""},
		{"in an if condition and body", `{{if .Canry}}{{.Versoin}}{{end}}`, ".Canry, .Versoin"},
		{"in else", `{{if .Canary}}a{{else}}{{.Basline}}{{end}}`, ".Basline"},
		{"in a pipeline", `{{.Servce | printf "%s"}}`, ".Servce"},
		{"as an argument", `{{printf "%s-%s" .Service .Evn}}`, ".Evn"},
		{"in a parenthesised chain", `{{(.Vars).region}}{{(.Varz).x}}`, ".Varz"},
		{"each once", `{{.Servcie}}{{.Servcie}}`, ".Servcie"},
		{"with changes dot", `{{with .Vars}}{{.region}}{{.anything}}{{end}}`, ""},
		{"with's pipeline sees the data", `{{with .Varss}}{{end}}`, ".Varss"},
		{"with's else sees the data", `{{with .Vars.region}}{{.}}{{else}}{{.Srvice}}{{end}}`, ".Srvice"},
		{"range changes dot", `{{range $k, $v := .Vars}}{{$k}}={{.}}{{end}}`, ""},
		{"$ inside range is the data", `{{range .Vars}}{{$.Servcie}}{{end}}`, ".Servcie"},
		{"index is not checked", `{{index .Vars "zone"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkTemplate("query", tt.text, vars)
			if tt.unknown == "" {
				if err != nil {
					t.Errorf("checkTemplate(%q) = %v, want nil", tt.text, err)
				}
				return
			}
			want := "unknown variable " + tt.unknown + "; known: .Service, .Env, .Version, .Role, .Baseline, .Canary, .Vars, .Vars.region"
			if err == nil || err.Error() != want {
				t.Errorf("checkTemplate(%q) = %v, want %q", tt.text, err, want)
			}
		})
	}
	if err := checkTemplate("query", `{{.Version`, nil); err == nil || !strings.HasPrefix(err.Error(), "not a valid template: ") {
		t.Errorf("unparsable template: %v, want not a valid template", err)
	}
}
