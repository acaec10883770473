package annotate

import (
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/gohere/gohere"
)

// AlertIDTag is the tag that finds an alert's annotation again.
func AlertIDTag(id int64) string { return "alert-id:" + strconv.FormatInt(id, 10) }

// AlertTags are the tags of a correlated alert's annotation: alert,
// deploy-correlated, gohere, service:<s>, env:<e>, status:<firing|resolved>
// and alert-id:<id>.
func AlertTags(a gohere.Alert) []string {
	tags := []string{"alert", "gohere"}
	if len(a.Correlations) > 0 {
		tags = append(tags, "deploy-correlated")
	}
	for _, kv := range [][2]string{{"service", a.Service}, {"env", a.Env}, {"status", string(a.Status)}} {
		if kv[1] != "" {
			// Labels are not validated like deploy names: keep each tag
			// one key:value pair.
			tags = append(tags, kv[0]+":"+strings.NewReplacer(",", " ", ":", " ").Replace(kv[1]))
		}
	}
	return append(tags, AlertIDTag(a.ID))
}

// ForAlert is the annotation of a correlated alert: a point at its start
// while it fires, the region to its end once resolved. report is the URL
// of a deploy's page ("" for none).
func ForAlert(a gohere.Alert, report func(deployID string) string) Annotation {
	end := a.StartsAt
	if a.Status == gohere.AlertResolved && a.EndsAt.After(a.StartsAt) {
		end = a.EndsAt
	}
	return Annotation{Time: a.StartsAt, TimeEnd: end, Tags: AlertTags(a), Text: AlertText(a, report)}
}

// AlertText names the alert, its likeliest deploy, who wrote and merged
// it, why it correlates, and links to the deploy's report. User text is
// escaped: Grafana renders HTML.
func AlertText(a gohere.Alert, report func(deployID string) string) string {
	e := html.EscapeString
	head := fmt.Sprintf("<b>Alert %s</b> %s", e(a.Name), e(string(a.Status)))
	if a.Severity != "" {
		head += " (" + e(a.Severity) + ")"
	}
	lines := []string{head}
	if a.Summary != "" {
		lines = append(lines, e(a.Summary))
	}
	if len(a.Correlations) == 0 {
		return strings.Join(lines, "<br>\n")
	}
	c := a.Correlations[0]
	cause := fmt.Sprintf("likely cause: %s %s of %s", e(string(c.Stage)), e(c.Version), e(a.Service))
	if c.Author != "" {
		cause += " by " + e(c.Author)
	}
	if c.MergedBy != "" && c.MergedBy != c.Author {
		cause += ", merged by " + e(c.MergedBy)
	}
	lines = append(lines, cause, e(c.Reason))
	if n := len(a.Correlations) - 1; n > 0 {
		lines = append(lines, fmt.Sprintf("and %d other deploy(s) around its start", n))
	}
	if l := anchor(report(c.DeployID), "report"); l != "" {
		lines = append(lines, l)
	}
	return strings.Join(lines, "<br>\n")
}
