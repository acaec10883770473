package compare_test

import (
	"fmt"
	"net/url"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
)

var start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func ExampleURL_running() {
	d := gohere.Deploy{
		Service: "checkout", Env: "prod", Version: "v1.4.0", BaselineVersion: "v1.3.2",
		Status: gohere.StatusRunning, StartedAt: start,
	}
	fmt.Println(compare.URL(compare.Config{GrafanaURL: "https://grafana.example.com/"}, d))
	// Output:
	// https://grafana.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v1.3.2&var-canary=v1.4.0&from=1795427100000&to=now
}

func ExampleURL_finished() {
	d := gohere.Deploy{
		Service: "checkout", Env: "prod", Version: "v1.4.0", BaselineVersion: "v1.3.2",
		Status: gohere.StatusSucceeded, StartedAt: start, FinishedAt: start.Add(20 * time.Minute),
	}
	fmt.Println(compare.URL(compare.Config{GrafanaURL: "https://grafana.example.com"}, d))
	// Output:
	// https://grafana.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v1.3.2&var-canary=v1.4.0&from=1795427100000&to=1795430100000
}

func ExampleURL_firstDeploy() {
	d := gohere.Deploy{
		Service: "checkout", Env: "prod", Version: "v0.1.0",
		Status: gohere.StatusRunning, StartedAt: start,
	}
	fmt.Println(compare.URL(compare.Config{PublicURL: "https://gohere.example.com"}, d))
	fmt.Println(compare.Note(d))
	// Output:
	// https://gohere.example.com/compare?service=checkout&env=prod&canary=v0.1.0&from=1795427100000&to=now&start=1795428000000
	// first deploy of checkout in prod: no baseline to compare with
}

func ExampleChooseBaseline() {
	earlier := []gohere.Deploy{
		{ID: "1", Service: "checkout", Env: "prod", Version: "v1", Status: gohere.StatusSucceeded,
			StartedAt: start.Add(-48 * time.Hour), FinishedAt: start.Add(-47 * time.Hour)},
		{ID: "2", Service: "checkout", Env: "prod", Version: "v2", Status: gohere.StatusRolledBack,
			StartedAt: start.Add(-24 * time.Hour), FinishedAt: start.Add(-23 * time.Hour)},
	}
	d := gohere.Deploy{ID: "3", Service: "checkout", Env: "prod", Version: "v3", StartedAt: start}
	fmt.Println(compare.ChooseBaseline(d, earlier))
	// Output:
	// v1 true
}

func ExampleNewPage() {
	q, err := compare.ParsePageQuery(url.Values{
		"service": {"checkout"}, "env": {"prod"}, "baseline": {"v1.3.2"}, "canary": {"v1.4.0"},
		"from": {"1795427100000"}, "to": {"1795430100000"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	signals, err := compare.DefaultSignals(compare.Labels{Version: "app_version"})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := compare.NewPage(q, signals, nil, time.Time{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Step, p.Window)
	fmt.Println(p.Panels[0].Title)
	fmt.Println(p.Panels[0].Baseline)
	fmt.Println(p.Panels[0].Canary)
	// Output:
	// 15s 60s
	// Request rate
	// sum(rate(http_requests_total{service="checkout",env="prod",app_version="v1.3.2"}[60s]))
	// sum(rate(http_requests_total{service="checkout",env="prod",app_version="v1.4.0"}[60s]))
}
