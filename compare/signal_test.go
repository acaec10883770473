package compare_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
)

func TestDefaultSignals(t *testing.T) {
	tests := []struct {
		name   string
		labels compare.Labels
		want   map[string]string // signal → canary query
	}{
		{
			name: "default labels",
			want: map[string]string{
				"request_rate": `sum(rate(http_requests_total{service="checkout",env="prod",version="v2"}[5m]))`,
				"error_ratio":  `sum(rate(http_requests_total{service="checkout",env="prod",version="v2",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="checkout",env="prod",version="v2"}[5m]))`,
				"latency_p50":  `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout",env="prod",version="v2"}[5m])))`,
				"latency_p99":  `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout",env="prod",version="v2"}[5m])))`,
				"cpu":          `sum(rate(process_cpu_seconds_total{service="checkout",env="prod",version="v2"}[5m]))`,
				"memory":       `sum(process_resident_memory_bytes{service="checkout",env="prod",version="v2"})`,
			},
		},
		{
			name:   "configured labels",
			labels: compare.Labels{Version: "app_version", Service: "job", Env: "namespace"},
			want: map[string]string{
				"request_rate": `sum(rate(http_requests_total{job="checkout",namespace="prod",app_version="v2"}[5m]))`,
				"error_ratio":  `sum(rate(http_requests_total{job="checkout",namespace="prod",app_version="v2",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="checkout",namespace="prod",app_version="v2"}[5m]))`,
				"latency_p50":  `histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout",namespace="prod",app_version="v2"}[5m])))`,
				"latency_p99":  `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout",namespace="prod",app_version="v2"}[5m])))`,
				"cpu":          `sum(rate(process_cpu_seconds_total{job="checkout",namespace="prod",app_version="v2"}[5m]))`,
				"memory":       `sum(process_resident_memory_bytes{job="checkout",namespace="prod",app_version="v2"})`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signals, err := compare.DefaultSignals(tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range signals {
				q, err := s.Render(compare.Vars{Service: "checkout", Env: "prod", Version: "v2", Role: compare.RoleCanary, Baseline: "v1", Canary: "v2", Window: "5m"})
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

func TestLabelsValidate(t *testing.T) {
	for _, l := range []compare.Labels{{Version: "app-version"}, {Service: "0job"}, {Env: `env"}`}} {
		_, err := compare.DefaultSignals(l)
		if gohere.KindOf(err) != gohere.Invalid {
			t.Errorf("DefaultSignals(%+v) = %v, want an Invalid error", l, err)
		}
	}
}

func TestNewSignalsErrors(t *testing.T) {
	ok := compare.SignalSpec{Name: "rate", Group: compare.GroupRED, Query: `sum(rate(x{v="{{.Version}}",ns="{{.Vars.namespace}}"}[{{.Window}}]))`}
	tests := []struct {
		name  string
		specs []compare.SignalSpec
		vars  map[string]string
		want  []string // every one must appear in the error
	}{
		{"no signals", nil, nil, []string{"no signals"}},
		{"missing var is caught at load", []compare.SignalSpec{ok}, nil, []string{"namespace"}},
		{"unknown field", []compare.SignalSpec{{Name: "a", Group: "red", Query: "{{.Versoin}}"}}, nil, []string{"Versoin"}},
		{"parse error", []compare.SignalSpec{{Name: "a", Group: "red", Query: "{{.Version"}}, nil, []string{"query template"}},
		{"bad name, bad group, empty query, all at once", []compare.SignalSpec{
			{Name: "a b", Group: "red", Query: "x"},
			{Name: "b", Group: "latency", Query: "x"},
			{Name: "c", Group: "red", Query: " "},
		}, nil, []string{`name "a b"`, `group "latency"`, "query is required"}},
		{"duplicate name", []compare.SignalSpec{ok, ok}, map[string]string{"namespace": "shop"}, []string{"used twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compare.NewSignals(tt.specs, tt.vars)
			if err == nil {
				t.Fatal("NewSignals = nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRenderRefusesBreakouts(t *testing.T) {
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{`v1"} or vector(1) #`, `v1\`, "v1\nx"} {
		_, err := signals[0].Render(compare.Vars{Service: "s", Env: "e", Version: v, Window: "5m"})
		if gohere.KindOf(err) != gohere.Invalid {
			t.Errorf("Render(version %q) = %v, want an Invalid error", v, err)
		}
	}
	if _, err := (compare.Signal{}).Render(compare.Vars{}); err == nil {
		t.Error("zero Signal rendered, want an error")
	}
}
