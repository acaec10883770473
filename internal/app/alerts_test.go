package app

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/amtest"
	"github.com/gohere/gohere/internal/chattest"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/grafanatest"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/pgtest"
)

// TestAlertmanagerFindsTheDeploy: a real Alertmanager delivers an alert of
// checkout/prod to gohere's hook while a canary of checkout runs. Through a
// Grafana outage and a chat outage, the alert ends up as one point
// annotation tagged alert and deploy-correlated naming the author, one
// chat message mentioning the author and merger, and on the deploy's API
// and page; its resolution ends the annotation's region, and nothing is
// told twice.
func TestAlertmanagerFindsTheDeploy(t *testing.T) {
	pgtest.Engines(t, func(t *testing.T, dsn string) {
		g := grafanatest.New(t, grafanatest.Options{})
		chat := chattest.New(t)
		opts := Options{DB: dsn, GrafanaURL: g.URL(), GrafanaToken: g.Token(), PublicURL: "https://gohere.example",
			Notify: NotifyOptions{Webhooks: []notify.Destination{{URL: chat.URL + "/generic", Format: notify.FormatGeneric}},
				Handles: notify.Handles{"alice": "U024BE7LH", "bob": "@bob"}}}
		a, c := start(t, opts)
		ctx := t.Context()
		d, err := c.StartDeploy(ctx, client.StartRequest{Service: "checkout", Env: "prod", Version: "v1.5.0", Author: "alice", MergedBy: "bob",
			Changes: []gohere.Change{{Commit: "3f2a1c", Author: "alice", Title: "cache tax rates"}}})
		if err != nil {
			t.Fatal(err)
		}
		other, err := c.StartDeploy(ctx, client.StartRequest{Service: "checkout", Env: "staging", Version: "v1.6.0", Author: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the deploys' messages", func() bool { return len(chat.Messages()) == 2 })

		g.FailNext(3, http.StatusServiceUnavailable)
		chat.Fail(http.StatusServiceUnavailable)
		am := amtest.Start(t, amtest.Receiver{URL: "http://" + a.Addr() + "/hooks/alertmanager", Username: "alertmanager", Password: ciSecret})
		started := time.Now().Truncate(time.Millisecond) // after the deploys began: Grafana keeps milliseconds
		alert := amtest.Alert{
			Labels:       map[string]string{"alertname": "HighLatency", "service": "checkout", "env": "prod", "severity": "critical"},
			Annotations:  map[string]string{"summary": "p99 above 500 ms"},
			StartsAt:     started,
			GeneratorURL: "http://prometheus.example:9090/graph",
		}
		am.Push(t, alert)

		var list struct{ Alerts []gohere.Alert }
		waitFor(t, "the alert on the deploy", func() bool {
			list.Alerts = nil
			return getJSON(t, "http://"+a.Addr()+"/api/v1/deploys/"+d.ID+"/alerts", &list) == http.StatusOK && len(list.Alerts) == 1
		})
		got := list.Alerts[0]
		if got.Name != "HighLatency" || got.Service != "checkout" || got.Env != "prod" || got.Source != "alertmanager" ||
			!got.StartsAt.Equal(started) || len(got.Correlations) != 1 || got.Correlations[0].DeployID != d.ID {
			t.Fatalf("alert %+v; want HighLatency of checkout/prod correlated with %s only", got, d.ID)
		}
		var none struct{ Alerts []gohere.Alert }
		if getJSON(t, "http://"+a.Addr()+"/api/v1/deploys/"+other.ID+"/alerts", &none) != http.StatusOK || len(none.Alerts) != 0 {
			t.Errorf("the staging deploy got %d alerts; want none (other env)", len(none.Alerts))
		}

		// Both outages end: what waited is delivered.
		chat.Accept()
		var point grafanatest.Annotation
		waitFor(t, "the alert's annotation", func() bool {
			for _, an := range g.Annotations() {
				if slices.Contains(an.Tags, "alert") {
					point = an
					return true
				}
			}
			return false
		})
		for _, tag := range []string{"deploy-correlated", "service:checkout", "env:prod", "status:firing"} {
			if !slices.Contains(point.Tags, tag) {
				t.Errorf("alert annotation tags %v lack %q", point.Tags, tag)
			}
		}
		if point.Time != started.UnixMilli() || point.TimeEnd != point.Time {
			t.Errorf("alert annotation %d..%d; want a point at %d", point.Time, point.TimeEnd, started.UnixMilli())
		}
		for _, want := range []string{"HighLatency", "alice", "bob", "v1.5.0", "https://gohere.example/deploys/" + d.ID} {
			if !strings.Contains(point.Text, want) {
				t.Errorf("alert annotation text %q lacks %q", point.Text, want)
			}
		}
		waitFor(t, "the alert's message", func() bool { return len(alertMessages(t, chat)) == 1 })
		if m := alertMessages(t, chat)[0]; m.Deploy.ID != d.ID || m.Alert.Name != "HighLatency" {
			t.Errorf("alert message %+v; want HighLatency, deploy %s", m, d.ID)
		}

		page := get(t, "http://"+a.Addr()+"/deploys/"+d.ID)
		for _, want := range []string{"HighLatency", "p99 above 500 ms", "alert started"} {
			if !strings.Contains(page, want) {
				t.Errorf("deploy page lacks %q", want)
			}
		}

		// Resolved: Alertmanager sends it with its end; the region closes.
		alert.EndsAt = time.Now().Truncate(time.Millisecond)
		am.Push(t, alert)
		waitFor(t, "the resolved alert's region", func() bool {
			for _, an := range g.Annotations() {
				if an.ID == point.ID && slices.Contains(an.Tags, "status:resolved") && an.TimeEnd > an.Time {
					return true
				}
			}
			return false
		})
		time.Sleep(1500 * time.Millisecond) // a resent notification would arrive by now
		if n := len(alertMessages(t, chat)); n != 1 {
			t.Errorf("%d alert messages; want one for the alert, however often it was sent", n)
		}
		alertAnnotations := 0
		for _, an := range g.Annotations() {
			if slices.Contains(an.Tags, "alert") {
				alertAnnotations++
			}
		}
		if alertAnnotations != 1 {
			t.Errorf("%d alert annotations; want 1", alertAnnotations)
		}
		if v := g.Violations(); len(v) > 0 {
			t.Errorf("requests violating Grafana's API: %v", v)
		}
	})
}

// alertMessage is what this test reads of a generic alert message.
type alertMessage struct {
	Event  string
	Deploy struct{ ID string }
	Alert  gohere.Alert
}

func alertMessages(t *testing.T, chat *chattest.Server) []alertMessage {
	t.Helper()
	var out []alertMessage
	for _, m := range chat.Messages() {
		var am alertMessage
		if err := json.Unmarshal(m.Body, &am); err != nil {
			t.Fatal(err)
		}
		if am.Event == "alert" {
			out = append(out, am)
		}
	}
	return out
}

// getJSON GETs url with the CI token into out and returns the status.
func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ciSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}
