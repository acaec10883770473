package compare_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
)

func TestLoadSignalsFile(t *testing.T) {
	side := compare.Vars{Service: "checkout", Env: "prod", Version: "v2", Role: compare.RoleCanary, Baseline: "v1", Canary: "v2", Window: "5m"}
	tests := []struct {
		file    string
		want    map[string]string // signal name → canary query
		wantErr []string          // every one must appear in the error
	}{
		{file: "ok-custom.yaml", want: map[string]string{
			"request_rate": `sum(rate(app_requests_total{app="checkout",ns="shop",version="v2"}[5m]))`,
			"queue_depth":  `max(app_queue_depth{app="checkout",env="prod",version="v2",role="canary"})`,
		}},
		{file: "ok-labels.yaml", want: map[string]string{
			"request_rate": `sum(rate(http_requests_total{job="checkout",namespace="prod",app_version="v2"}[5m]))`,
			"error_ratio":  `sum(rate(http_requests_total{job="checkout",namespace="prod",app_version="v2",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="checkout",namespace="prod",app_version="v2"}[5m]))`,
			"latency_p50":  `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout",namespace="prod",app_version="v2"}[5m])))`,
			"latency_p99":  `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout",namespace="prod",app_version="v2"}[5m])))`,
			"cpu":          `sum(rate(process_cpu_seconds_total{job="checkout",namespace="prod",app_version="v2"}[5m]))`,
			"memory":       `sum(process_resident_memory_bytes{job="checkout",namespace="prod",app_version="v2"})`,
		}},
		{file: "ok-empty.yaml", want: map[string]string{
			"request_rate": `sum(rate(http_requests_total{service="checkout",env="prod",version="v2"}[5m]))`,
			"error_ratio":  `sum(rate(http_requests_total{service="checkout",env="prod",version="v2",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="checkout",env="prod",version="v2"}[5m]))`,
			"latency_p50":  `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout",env="prod",version="v2"}[5m])))`,
			"latency_p99":  `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout",env="prod",version="v2"}[5m])))`,
			"cpu":          `sum(rate(process_cpu_seconds_total{service="checkout",env="prod",version="v2"}[5m]))`,
			"memory":       `sum(process_resident_memory_bytes{service="checkout",env="prod",version="v2"})`,
		}},
		{file: "bad-unknown-field.yaml", wantErr: []string{"bad-unknown-field.yaml", "line 3", `"qeury"`}},
		{file: "bad-labels-with-signals.yaml", wantErr: []string{"apply to the default signals only"}},
		{file: "bad-missing-var.yaml", wantErr: []string{"signal 0 (request_rate)", "namespace", "signal 1 (typo)", "Versoin"}},
		{file: "bad-label-name.yaml", wantErr: []string{`version_label "app-version"`}},
		{file: "bad-duplicate.yaml", wantErr: []string{`name "a" is used twice`, `group "latency"`}},
		{file: "bad-not-a-map.yaml", wantErr: []string{"bad-not-a-map.yaml"}},
		{file: "no-such-file.yaml", wantErr: []string{"no-such-file.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			set, err := compare.LoadSignalsFile(filepath.Join("testdata", "signals", tt.file))
			if len(tt.wantErr) > 0 {
				if gohere.KindOf(err) != gohere.Invalid {
					t.Fatalf("err = %v, want an Invalid error", err)
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
			got := map[string]string{}
			for _, s := range set.Signals {
				q, err := s.Render(compare.Vars{Service: side.Service, Env: side.Env, Version: side.Version, Role: side.Role,
					Baseline: side.Baseline, Canary: side.Canary, Window: side.Window, Vars: set.Vars})
				if err != nil {
					t.Fatalf("%s: %v", s.Name, err)
				}
				got[s.Name] = q
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadSignalsDefaultsGroupAndTitle(t *testing.T) {
	set, err := compare.LoadSignalsFile("testdata/signals/ok-custom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []compare.SignalSpec
	for _, s := range set.Signals {
		s.Query = ""
		got = append(got, s.SignalSpec)
	}
	want := []compare.SignalSpec{
		{Name: "request_rate", Title: "Request rate", Unit: "reqps", Group: compare.GroupRED},
		{Name: "queue_depth", Title: "queue_depth", Unit: "short", Group: compare.GroupSaturation},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLoadSignalsLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("signals:\n")
	for i := range compare.MaxSignals + 1 {
		b.WriteString("  - {name: s" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ", query: x}\n")
	}
	if _, err := compare.LoadSignals(strings.NewReader(b.String())); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("%d signals: err = %v, want at most %d", compare.MaxSignals+1, err, compare.MaxSignals)
	}
	big := bytes.Repeat([]byte("#"), compare.MaxSignalsBytes+1)
	if _, err := compare.LoadSignals(bytes.NewReader(big)); gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized config: err = %v, want Invalid, larger than", err)
	}
}

// FuzzLoadSignals: the loader never panics; a rejection is an Invalid
// error; every signal of an accepted config renders for any valid page.
func FuzzLoadSignals(f *testing.F) {
	files, err := filepath.Glob("testdata/signals/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"signals": [{"name": "a", "query": "{{.Vars.x}}"}], "vars": {"x": "1"}}`))
	f.Add([]byte("signals: !!str [a]"))
	// Alias-heavy: a billion-laughs bomb (refused at the alias cap, fast)
	// and a legitimate merge key.
	f.Add([]byte("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nmetrics: *f\n"))
	f.Add([]byte("base: &m {name: a, query: q}\nmetrics: [{<<: *m}, {<<: *m, name: b}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := compare.LoadSignals(bytes.NewReader(data))
		if err != nil {
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if len(set.Signals) == 0 {
			t.Fatal("accepted a config without signals")
		}
		v := compare.Vars{Service: "checkout", Env: "prod", Version: "v1", Role: compare.RoleBaseline, Baseline: "v1", Canary: "v2", Window: "60s", Vars: set.Vars}
		for _, s := range set.Signals {
			if _, err := s.Render(v); err != nil {
				t.Fatalf("accepted signal %s does not render: %v", s.Name, err)
			}
		}
	})
}
