package dashboards

// gohere's own metrics the overview draws (internal/telemetry and the
// analysis runner export them on /metrics).
const (
	metricDeploys          = "gohere_deploys_total"            // {env,stage}
	metricIntervals        = "gohere_analysis_intervals_total" // {verdict}
	metricAnnotationWrites = "gohere_annotation_writes_total"  // {result}
	metricOutboxPending    = "gohere_outbox_pending"           // {kind}
	metricOutboxOldest     = "gohere_outbox_oldest_seconds"    // {kind}
	metricNotifications    = "gohere_notifications_total"      // {result}
)

func deploysDashboard() dashboard {
	envVar := variable{
		Name: "env", Label: "Environment", Type: "query", Datasource: &prometheus,
		Query:      "label_values(" + metricDeploys + ", env)",
		Definition: "label_values(" + metricDeploys + ", env)",
		Current:    current{Text: "All", Value: "$__all"},
		Options:    []option{}, Refresh: 2, IncludeAll: true, Multi: true, AllValue: ".*", Sort: 1,
	}
	deploys := metricDeploys + `{env=~"$env"}`
	var l layout
	l.row("Deploys")
	l.add(stat("Deploys in range", "deploys recorded by gohere in the time range", "short",
		[]target{instant("A", "sum(increase("+deploys+"[$__range]))", "deploys")}), 6, 6)
	l.add(stat("Deploys by environment", "", "short",
		[]target{instant("A", "sum by (env) (increase("+deploys+"[$__range]))", "{{env}}")}), 6, 6)
	l.add(timeseries("Deploy frequency (per hour)", "deploys started per hour, by environment and stage", "short",
		[]target{query("A", "sum by (env, stage) (increase("+deploys+"[1h]))", "{{env}} {{stage}}")}, nil), 12, 6)
	l.row("Canary analyses")
	l.add(stat("Verdicts in range", "judged analysis intervals by verdict", "short",
		[]target{instant("A", "sum by (verdict) (increase("+metricIntervals+"[$__range]))", "{{verdict}}")}), 12, 6)
	l.add(timeseries("Verdicts over time", "judged analysis intervals by verdict", "short",
		[]target{query("A", "sum by (verdict) (increase("+metricIntervals+"[$__rate_interval]))", "{{verdict}}")}, nil), 12, 6)
	l.row("gohere itself")
	l.add(timeseries("Grafana annotation writes", "by result: ok, retry, error", "short",
		[]target{query("A", "sum by (result) (increase("+metricAnnotationWrites+"[$__rate_interval]))", "{{result}}")}, nil), 8, 6)
	l.add(stat("Outbox pending", "annotation writes waiting for Grafana, chat messages waiting for the chat", "short",
		[]target{instant("A", "max by (kind) ("+metricOutboxPending+")", "{{kind}}")}), 8, 6)
	l.add(timeseries("Outbox oldest entry age", "how long the oldest pending entry of each kind has waited", "s",
		[]target{query("A", "max by (kind) ("+metricOutboxOldest+")", "{{kind}}")}, nil), 8, 6)
	l.add(timeseries("Chat messages", "deliveries to chat webhooks by result (dropped: refused for good, e.g. a deleted webhook)", "short",
		[]target{query("A", "sum by (result) (increase("+metricNotifications+"[$__rate_interval]))", "{{result}}")}, nil), 8, 6)

	return dashboard{
		UID:           DeploysUID,
		Title:         "gohere: deploys",
		Description:   "Every deploy over time (annotation regions), deploy frequency and canary verdicts, from gohere's own /metrics.",
		Tags:          []string{"gohere"},
		Timezone:      "browser",
		SchemaVersion: schemaVersion,
		Editable:      true,
		GraphTooltip:  1,
		Time:          timeRange{From: "now-7d", To: "now"},
		Refresh:       "1m",
		Templating:    list[variable]{List: []variable{datasourceVar, envVar}},
		Annotations: list[annot]{List: []annot{
			builtInAnnotation,
			tagAnnotation("Deploys", "blue", "deploy"),
			tagAnnotation("Alerts", "red", "alert"),
		}},
		Panels: l.panels,
	}
}
