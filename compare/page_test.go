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

func TestParsePageQuery(t *testing.T) {
	base := "service=checkout&env=prod&canary=v2&from=1795427100000"
	tests := []struct {
		name    string
		raw     string
		want    compare.PageQuery
		wantErr []string
	}{
		{name: "running, no baseline", raw: base + "&to=now",
			want: compare.PageQuery{Service: "checkout", Env: "prod", Canary: "v2", From: start.Add(-compare.Margin)}},
		{name: "no to means now", raw: base,
			want: compare.PageQuery{Service: "checkout", Env: "prod", Canary: "v2", From: start.Add(-compare.Margin)}},
		{name: "finished with baseline and start", raw: base + "&baseline=v1&to=1795430100000&start=1795428000000&theme=dark",
			want: compare.PageQuery{Service: "checkout", Env: "prod", Baseline: "v1", Canary: "v2",
				From: start.Add(-compare.Margin), To: start.Add(35 * time.Minute), Start: start}},
		{name: "nothing", raw: "", wantErr: []string{"service is required", "env is required", "canary is required", "from is required"}},
		{name: "bad names", raw: "service=a,b&env=p:q&canary=v%202&baseline=%22&from=1", wantErr: []string{"service", "env", "canary", "baseline"}},
		{name: "from after to", raw: base + "&to=1795427000000", wantErr: []string{"is not before"}},
		{name: "from equals to", raw: base + "&to=1795427100000", wantErr: []string{"is not before"}},
		{name: "span too long", raw: "service=s&env=e&canary=v&from=1000&to=1795427100000", wantErr: []string{"longer than"}},
		{name: "not milliseconds", raw: "service=s&env=e&canary=v&from=2026-11-23T10:00:00Z&to=-5&start=1e3", wantErr: []string{`from "2026`, `to "-5"`, `start "1e3"`}},
		{name: "too far", raw: "service=s&env=e&canary=v&from=99999999999999999", wantErr: []string{"epoch milliseconds"}},
		{name: "repeated", raw: base + "&service=other", wantErr: []string{"service is given 2 times"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := compare.ParsePageQuery(q)
			if len(tt.wantErr) > 0 {
				if gohere.KindOf(err) != gohere.Invalid {
					t.Fatalf("err = %v, want Invalid", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewPage(t *testing.T) {
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		t.Fatal(err)
	}
	now := start.Add(45 * time.Minute)
	t.Run("running with baseline", func(t *testing.T) {
		q := compare.PageQuery{Service: "checkout", Env: "prod", Baseline: "v1", Canary: "v2", From: start.Add(-compare.Margin), Start: start}
		p, err := compare.NewPage(q, signals, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if !p.To.Equal(now) || !p.From.Equal(q.From) {
			t.Errorf("range %s..%s, want %s..%s", p.From, p.To, q.From, now)
		}
		// 60 minutes in at most 240 points: 15 s, the floor.
		if p.Step != 15*time.Second || p.Window != "60s" {
			t.Errorf("step %s window %s, want 15s and 60s", p.Step, p.Window)
		}
		if p.Note != "" || len(p.Panels) != len(signals) {
			t.Errorf("note %q, %d panels; want none and %d", p.Note, len(p.Panels), len(signals))
		}
		first := p.Panels[0]
		wantB := `sum(rate(http_requests_total{service="checkout",env="prod",version="v1"}[60s]))`
		wantC := `sum(rate(http_requests_total{service="checkout",env="prod",version="v2"}[60s]))`
		if first.Name != "request_rate" || first.Baseline != wantB || first.Canary != wantC {
			t.Errorf("first panel %+v, want request_rate with\n%s\n%s", first, wantB, wantC)
		}
	})
	t.Run("first deploy: no baseline query, a note", func(t *testing.T) {
		q := compare.PageQuery{Service: "checkout", Env: "prod", Canary: "v2", From: start.Add(-24 * time.Hour), To: start}
		p, err := compare.NewPage(q, signals, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if p.Note == "" {
			t.Error("no note for a page without baseline")
		}
		for _, panel := range p.Panels {
			if panel.Baseline != "" || panel.Canary == "" {
				t.Errorf("%s: baseline %q canary %q; want none and a query", panel.Name, panel.Baseline, panel.Canary)
			}
		}
		if n := int(q.To.Sub(q.From) / p.Step); n > compare.MaxPoints || p.Step%time.Second != 0 {
			t.Errorf("step %s gives %d points; want whole seconds and at most %d", p.Step, n, compare.MaxPoints)
		}
	})
	t.Run("to=now before from", func(t *testing.T) {
		q := compare.PageQuery{Service: "s", Env: "e", Canary: "v", From: now.Add(time.Minute)}
		if _, err := compare.NewPage(q, signals, nil, now); gohere.KindOf(err) != gohere.Invalid {
			t.Errorf("err = %v, want Invalid", err)
		}
	})
}

func FuzzParsePageQuery(f *testing.F) {
	f.Add("service=checkout&env=prod&canary=v2&baseline=v1&from=1795427100000&to=now&start=1795428000000")
	f.Add("service=s&env=e&canary=v&from=1&to=2")
	f.Add("service=%ff&from=-1&to=9223372036854775807")
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := compare.ParsePageQuery(v)
		if err != nil {
			if gohere.KindOf(err) != gohere.Invalid {
				t.Fatalf("error of kind %v: %v", gohere.KindOf(err), err)
			}
			return
		}
		// A valid query always renders: names cannot break out of PromQL.
		now := q.From.Add(time.Hour)
		if !q.To.IsZero() {
			now = q.To
		}
		if _, err := compare.NewPage(q, signals, nil, now); err != nil {
			t.Fatalf("NewPage(%+v): %v", q, err)
		}
	})
}
