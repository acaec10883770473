package dashboards

import (
	"github.com/gohere/gohere/compare"
)

// Fixed colours, the same on every panel: blue is the baseline, orange the
// canary.
const (
	baselineColor = "blue"
	canaryColor   = "orange"
)

func compareDashboard(signals []compare.Signal) (dashboard, error) {
	d := dashboard{
		UID:   CompareUID,
		Title: "gohere: baseline vs canary",
		Description: "Old versus new version of one service in one environment, side by side and overlaid. " +
			"Opened by gohere's GO HERE link; deploy regions and alerts of the service are annotated.",
		Tags:          []string{"gohere"},
		Timezone:      "browser",
		SchemaVersion: schemaVersion,
		Editable:      true,
		GraphTooltip:  1,
		Time:          timeRange{From: "now-1h", To: "now"},
		Refresh:       "30s",
		Templating: list[variable]{List: []variable{
			datasourceVar,
			textbox("service", "Service", "the service deployed"),
			textbox("env", "Environment", "the environment deployed to"),
			textbox("baseline", "Baseline version", "the stable version (empty on a first deploy)"),
			textbox("canary", "Canary version", "the version being deployed"),
		}},
		Annotations: list[annot]{List: []annot{
			builtInAnnotation,
			tagAnnotation("Deploys", "blue", "deploy", "service:$service", "env:$env"),
			tagAnnotation("Alerts", "red", "alert", "service:$service"),
		}},
	}
	side := func(role string) compare.Vars {
		v := compare.Vars{Service: "$service", Env: "$env", Baseline: "$baseline", Canary: "$canary", Window: "$__rate_interval", Role: role}
		v.Version = v.Canary
		if role == compare.RoleBaseline {
			v.Version = v.Baseline
		}
		return v
	}
	var l layout
	for _, g := range []struct{ group, title string }{
		{compare.GroupRED, "RED: rate, errors, duration"},
		{compare.GroupSaturation, "Saturation"},
	} {
		l.row(g.title)
		for _, s := range signals {
			if s.Group != g.group {
				continue
			}
			b, err := s.Render(side(compare.RoleBaseline))
			if err != nil {
				return dashboard{}, err
			}
			c, err := s.Render(side(compare.RoleCanary))
			if err != nil {
				return dashboard{}, err
			}
			base := query("A", b, "baseline $baseline")
			can := query("B", c, "canary $canary")
			colors := map[string]string{"A": baselineColor, "B": canaryColor}
			l.add(timeseries(s.Title+" · baseline $baseline", "", s.Unit, []target{base}, colors), 8, 8)
			l.add(timeseries(s.Title+" · canary $canary", "", s.Unit, []target{can}, colors), 8, 8)
			l.add(timeseries(s.Title+" · overlay", "baseline (blue) and canary (orange) on one axis", s.Unit, []target{base, can}, colors), 8, 8)
		}
	}
	d.Panels = l.panels
	return d, nil
}
