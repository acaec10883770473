package compare_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
)

func deploy(id, service, env, version string, status gohere.Status, started, finished time.Duration) gohere.Deploy {
	d := gohere.Deploy{ID: id, Service: service, Env: env, Version: version, Status: status, StartedAt: start.Add(started)}
	if finished != 0 {
		d.FinishedAt = start.Add(finished)
	}
	return d
}

// TestGoHere is the golden table of the issue: the baseline chosen from a
// history and the link built from it.
func withBaseline(d gohere.Deploy, v string) gohere.Deploy {
	d.BaselineVersion = v
	return d
}

func TestGoHere(t *testing.T) {
	const h = time.Hour
	history := []gohere.Deploy{
		deploy("1", "checkout", "prod", "v1", gohere.StatusSucceeded, -72*h, -71*h),
		deploy("2", "checkout", "prod", "v2", gohere.StatusSucceeded, -48*h, -47*h),
		deploy("3", "checkout", "prod", "v3", gohere.StatusFailed, -24*h, -23*h),
		deploy("4", "checkout", "staging", "v4", gohere.StatusSucceeded, -2*h, -h),
		deploy("5", "search", "prod", "s9", gohere.StatusSucceeded, -2*h, -h),
	}
	grafana := compare.Config{GrafanaURL: "https://g.example.com", PublicURL: "https://gohere.example.com"}
	builtin := compare.Config{PublicURL: "https://gohere.example.com"}
	tests := []struct {
		name     string
		d        gohere.Deploy
		history  []gohere.Deploy
		cfg      compare.Config
		baseline string
		note     string
		url      string
	}{
		{
			name: "first deploy",
			d:    deploy("9", "payments", "prod", "p1", gohere.StatusRunning, 0, 0),
			cfg:  grafana,
			note: "first deploy of payments in prod: no baseline to compare with",
			url:  "https://g.example.com/d/gohere-compare/gohere-compare?var-service=payments&var-env=prod&var-canary=p1&from=1795427100000&to=now",
		},
		{
			name:     "rollback to an older version compares with the newest succeeded, not the failed one",
			d:        deploy("9", "checkout", "prod", "v1", gohere.StatusRunning, 0, 0),
			cfg:      grafana,
			baseline: "v2",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v2&var-canary=v1&from=1795427100000&to=now",
		},
		{
			name:     "env isolation: staging's newer succeeded deploy is not prod's baseline",
			d:        deploy("9", "checkout", "prod", "v4", gohere.StatusRunning, 0, 0),
			cfg:      grafana,
			baseline: "v2",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v2&var-canary=v4&from=1795427100000&to=now",
		},
		{
			name:     "env isolation: staging has its own history",
			d:        deploy("9", "checkout", "staging", "v5", gohere.StatusRunning, 0, 0),
			cfg:      grafana,
			baseline: "v4",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=staging&var-baseline=v4&var-canary=v5&from=1795427100000&to=now",
		},
		{
			name:     "finished: to is finish plus 15 minutes",
			d:        deploy("9", "checkout", "prod", "v5", gohere.StatusSucceeded, 0, 30*time.Minute),
			cfg:      grafana,
			baseline: "v2",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v2&var-canary=v5&from=1795427100000&to=1795430700000",
		},
		{
			name:     "halted deploy is finished too",
			d:        deploy("9", "checkout", "prod", "v5", gohere.StatusHalted, 0, 10*time.Minute),
			cfg:      builtin,
			baseline: "v2",
			url:      "https://gohere.example.com/compare?service=checkout&env=prod&baseline=v2&canary=v5&from=1795427100000&to=1795429500000&start=1795428000000",
		},
		{
			name:     "built-in page while running",
			d:        deploy("9", "checkout", "prod", "v5", gohere.StatusRunning, 0, 0),
			cfg:      builtin,
			baseline: "v2",
			url:      "https://gohere.example.com/compare?service=checkout&env=prod&baseline=v2&canary=v5&from=1795427100000&to=now&start=1795428000000",
		},
		{
			name: "a given baseline wins",
			d: func() gohere.Deploy {
				d := deploy("9", "checkout", "prod", "v5", gohere.StatusRunning, 0, 0)
				d.BaselineVersion = "v0"
				return d
			}(),
			cfg:      grafana,
			baseline: "v0",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v0&var-canary=v5&from=1795427100000&to=now",
		},
		{
			name:     "redeploy of the stable version compares with the version before it",
			d:        deploy("9", "checkout", "prod", "v2", gohere.StatusRunning, 0, 0),
			cfg:      grafana,
			baseline: "v1",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v1&var-canary=v2&from=1795427100000&to=now",
		},
		{
			name:     "the same version given as baseline says so",
			d:        withBaseline(deploy("9", "checkout", "prod", "v2", gohere.StatusRunning, 0, 0), "v2"),
			cfg:      grafana,
			baseline: "v2",
			note:     "baseline and canary are both v2: the comparison shows one version twice",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v2&var-canary=v2&from=1795427100000&to=now",
		},
		{
			name:     "no grafana and no public url: a relative link",
			d:        deploy("9", "checkout", "prod", "v5", gohere.StatusRunning, 0, 0),
			baseline: "v2",
			url:      "/compare?service=checkout&env=prod&baseline=v2&canary=v5&from=1795427100000&to=now&start=1795428000000",
		},
		{
			name:     "values are query-escaped",
			d:        deploy("9", "checkout", "prod", "v5+build/7&x=1", gohere.StatusRunning, 0, 0),
			cfg:      grafana,
			baseline: "v2",
			url:      "https://g.example.com/d/gohere-compare/gohere-compare?var-service=checkout&var-env=prod&var-baseline=v2&var-canary=v5%2Bbuild%2F7%26x%3D1&from=1795427100000&to=now",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hist := tt.history
			if hist == nil {
				hist = history
			}
			got, ok := compare.ChooseBaseline(tt.d, hist)
			if got != tt.baseline || ok != (tt.baseline != "") {
				t.Fatalf("ChooseBaseline = %q, %v; want %q, %v", got, ok, tt.baseline, tt.baseline != "")
			}
			d := tt.d
			d.BaselineVersion = got
			if got := compare.Note(d); got != tt.note {
				t.Errorf("Note = %q, want %q", got, tt.note)
			}
			if got := compare.URL(tt.cfg, d); got != tt.url {
				t.Errorf("URL:\n got %s\nwant %s", got, tt.url)
			}
		})
	}
}

func TestChooseBaselineEdges(t *testing.T) {
	const h = time.Hour
	d := deploy("9", "checkout", "prod", "v9", gohere.StatusRunning, 0, 0)
	tests := []struct {
		name    string
		earlier []gohere.Deploy
		want    string
	}{
		{"nothing earlier", nil, ""},
		{"only failed, halted, rolled back and running", []gohere.Deploy{
			deploy("1", "checkout", "prod", "v1", gohere.StatusFailed, -4*h, -3*h),
			deploy("2", "checkout", "prod", "v2", gohere.StatusHalted, -3*h, -2*h),
			deploy("3", "checkout", "prod", "v3", gohere.StatusRolledBack, -2*h, -h),
			deploy("4", "checkout", "prod", "v4", gohere.StatusRunning, -h, 0),
		}, ""},
		{"a later deploy is not a baseline", []gohere.Deploy{
			deploy("1", "checkout", "prod", "v1", gohere.StatusSucceeded, h, 2*h),
		}, ""},
		{"the deploy itself is not its baseline", []gohere.Deploy{
			{ID: "9", Service: "checkout", Env: "prod", Version: "v9", Status: gohere.StatusSucceeded, StartedAt: start.Add(-h)},
		}, ""},
		{"overlapping: succeeded only after this one started", []gohere.Deploy{
			deploy("1", "checkout", "prod", "v1", gohere.StatusSucceeded, -5*h, -4*h),
			deploy("2", "checkout", "prod", "v2", gohere.StatusSucceeded, -10*time.Minute, 10*time.Minute),
		}, "v1"},
		{"newest wins whatever the order", []gohere.Deploy{
			deploy("2", "checkout", "prod", "v2", gohere.StatusSucceeded, -2*h, -h),
			deploy("1", "checkout", "prod", "v1", gohere.StatusSucceeded, -5*h, -4*h),
			deploy("3", "checkout", "prod", "v3", gohere.StatusSucceeded, -3*h, -2*h),
		}, "v2"},
		{"same start: the higher id", []gohere.Deploy{
			deploy("a", "checkout", "prod", "va", gohere.StatusSucceeded, -2*h, -h),
			deploy("c", "checkout", "prod", "vc", gohere.StatusSucceeded, -2*h, -90*time.Minute),
			deploy("b", "checkout", "prod", "vb", gohere.StatusSucceeded, -2*h, -h),
		}, "vc"},
		{"other services are ignored", []gohere.Deploy{
			deploy("1", "search", "prod", "s1", gohere.StatusSucceeded, -2*h, -h),
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := compare.ChooseBaseline(d, tt.earlier)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("ChooseBaseline = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

// TestBuiltinURLRoundTrip: every built-in link parses back into the page
// query it was built from.
func TestBuiltinURLRoundTrip(t *testing.T) {
	for _, d := range []gohere.Deploy{
		deploy("1", "checkout", "prod", "v2", gohere.StatusRunning, 0, 0),
		deploy("2", "checkout", "prod", "v2+b.7", gohere.StatusSucceeded, 0, 40*time.Minute),
	} {
		d.BaselineVersion = "v1"
		raw := compare.URL(compare.Config{PublicURL: "http://127.0.0.1:8080"}, d)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(u.Path, "/compare") {
			t.Errorf("path %q, want /compare", u.Path)
		}
		got, err := compare.ParsePageQuery(u.Query())
		if err != nil {
			t.Fatalf("ParsePageQuery(%s): %v", raw, err)
		}
		want := compare.PageQuery{
			Service: d.Service, Env: d.Env, Baseline: "v1", Canary: d.Version,
			From: d.StartedAt.Add(-compare.Margin), Start: d.StartedAt,
		}
		if !d.Running() {
			want.To = d.FinishedAt.Add(compare.Margin)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: page query (-want +got):\n%s", raw, diff)
		}
	}
}

// TestAround: the page's ranges around the deploy start keep the page's
// parameters, fix both ends (also ahead of now) and parse back to
// themselves.
func TestAround(t *testing.T) {
	q, err := compare.ParsePageQuery(url.Values{"service": {"checkout"}, "env": {"prod"}, "canary": {"v2"},
		"from": {"1795428000000"}, "to": {"now"}, "start": {"1795428900000"}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := compare.NewPage(q, nil, nil, time.UnixMilli(1795429000000))
	if err != nil {
		t.Fatal(err)
	}
	around := page.Around(time.Hour)
	want := "/compare?service=checkout&env=prod&canary=v2&from=1795425300000&to=1795432500000&start=1795428900000"
	if got := around.Path(); got != want {
		t.Fatalf("±1 h: %s, want %s", got, want)
	}
	link, err := url.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	back, err := compare.ParsePageQuery(link.Query())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(around, back); diff != "" {
		t.Errorf("the ±1 h link parses to another query (-built +parsed):\n%s", diff)
	}
	if got := q.Path(); !strings.Contains(got, "&to=now&") {
		t.Errorf("a running deploy's page: %s, want to=now", got)
	}
}
