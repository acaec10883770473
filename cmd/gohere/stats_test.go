package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestStatsMannWhitney(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		code     int
		out      []map[string]any // decoded output lines
		errMatch string           // substring of the single stderr line
	}{
		{
			name: "kayenta MW-1 with R defaults",
			in:   `{"x":[10,20,30,40],"y":[1,2,3,4]}` + "\n",
			out: []map[string]any{{"w": 16.0, "p_value": 0.02857142857142857, "estimate": 22.5,
				"conf_int": []any{6.0, 39.0}, "conf_level": 0.95, "method": "exact"}},
		},
		{
			name: "every field, blank lines skipped, last line without newline",
			in: "\n" + `{"x":[10,20,30,40],"y":[1,2,3,4],"exact":false,"correct":true,"conf_level":0.95}` + "\n\n" +
				`{"x":[10,20,30,40],"y":[1,2,3,4],"alternative":"greater","mu":5}`,
			out: []map[string]any{
				{"w": 16.0, "p_value": 0.030382821976577493, "estimate": 22.5,
					"conf_int": []any{6.0, 39.0}, "conf_level": 0.95, "method": "normal"},
				{"w": 16.0, "p_value": 0.014285714285714285, "estimate": 22.5,
					"conf_int": []any{7.0, nil}, "conf_level": 0.95, "method": "exact"},
			},
		},
		{
			name:     "bad JSON on line 2 after a good line",
			in:       `{"x":[1],"y":[2]}` + "\n" + `{"x":[1,` + "\n",
			code:     3,
			out:      []map[string]any{{"w": 0.0, "p_value": 1.0, "estimate": -1.0, "conf_int": []any{-1.0, -1.0}, "conf_level": 0.0, "method": "exact"}},
			errMatch: "line 2:",
		},
		{name: "unknown field", in: `{"x":[1],"y":[2],"conf":0.9}`, code: 3, errMatch: `line 1: json: unknown field "conf"`},
		{name: "null value", in: `{"x":[1,null],"y":[2]}`, code: 3, errMatch: "line 1: x[1] is null"},
		{name: "empty y", in: `{"x":[1,2]}`, code: 3, errMatch: "line 1: mann-whitney: need observations in both samples"},
		{name: "all tied", in: `{"x":[5,5],"y":[5,5,5]}`, code: 3, errMatch: "all observations are tied"},
		{name: "bad alternative", in: `{"x":[1],"y":[2],"alternative":"bigger"}`, code: 3, errMatch: `alternative "bigger"`},
		{name: "conf level out of range", in: `{"x":[1],"y":[2],"conf_level":1.5}`, code: 3, errMatch: "conf level 1.5"},
		{name: "two values on a line", in: `{"x":[1],"y":[2]} {}`, code: 3, errMatch: "more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, stderr := runStats(t, "mannwhitney", tt.in, tt.code)
			// R's p-values, to rounding: R's pnorm and Go's erfc differ in the last bits.
			if diff := cmp.Diff(tt.out, got, cmpopts.EquateApprox(1e-12, 0)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			errOut := stderr.String()
			if tt.errMatch == "" {
				if errOut != "" {
					t.Errorf("stderr = %q, want empty", errOut)
				}
				return
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.errMatch) {
				t.Errorf("stderr = %q, want one line containing %q", errOut, tt.errMatch)
			}
		})
	}
}

// TestStatsSequential: the anytime-valid kernel from outside. The e-values
// are the hand-worked ones of judge/stats (TestShiftKnownValues,
// TestRateKnownValues): x = 10, 20 against y = 1, 2 in blocks of one pair
// gives 1.1866314134717135 in either direction; 12 canary errors and none of
// the baseline's, both of 30,000 requests, give 532.0542742200738 (increase);
// p is 1/e.
func TestStatsSequential(t *testing.T) {
	const eTwoPairs, eTwelve = 1.1866314134717135, 532.0542742200738
	tests := []struct {
		name     string
		in       string
		code     int
		out      []map[string]any
		errMatch string
	}{
		{
			name: "value, one look, blocks of one pair",
			in:   `{"kind":"value","x":[10,20],"y":[1,2],"looks":[2],"block":[1,1]}` + "\n",
			out: []map[string]any{{"kind": "value", "direction": "either", "alpha": 0.05, "effect": "shift",
				"block": []any{1.0, 1.0}, "looks": []any{map[string]any{"n": 4.0, "p_value": 1 / eTwoPairs,
					"e_value": eTwoPairs, "cs": []any{nil, nil}, "reject": false}}}},
		},
		{
			name: "count, blank lines skipped, last line without newline",
			in: "\n" + `{"kind":"count","alpha":0.05,"direction":"increase","looks":[{"x_events":0,"x_total":0,"y_events":0,"y_total":0},` +
				`{"x_events":12,"x_total":30000,"y_events":0,"y_total":30000}]}` + "\n\n" +
				`{"kind":"count","looks":[{"x_events":0,"x_total":30000,"y_events":12,"y_total":30000}],"direction":"increase"}`,
			out: []map[string]any{
				{"kind": "count", "direction": "increase", "alpha": 0.05, "effect": "rate_ratio", "looks": []any{
					map[string]any{"n": 0.0, "p_value": 1.0, "e_value": 1.0, "cs": []any{0.0, nil}, "reject": false},
					map[string]any{"n": 60000.0, "p_value": 1 / eTwelve, "e_value": eTwelve, "cs": []any{"lo > 2"}, "reject": true},
				}},
				{"kind": "count", "direction": "increase", "alpha": 0.05, "effect": "rate_ratio", "looks": []any{
					map[string]any{"n": 60000.0, "p_value": 1.0, "e_value": 0.38345032659847317, "cs": []any{0.0, "hi < 1"}, "reject": false},
				}},
			},
		},
		{
			name:     "bad JSON on line 2 after a good line",
			in:       `{"kind":"value","x":[10,20],"y":[1,2],"looks":[2],"block":[1,1]}` + "\n" + `{"kind":` + "\n",
			code:     3,
			out:      []map[string]any{{"kind": "value"}},
			errMatch: "line 2:",
		},
		{name: "unknown field", in: `{"kind":"value","x":[1],"y":[2],"loks":[1]}`, code: 3, errMatch: `line 1: json: unknown field "loks"`},
		{name: "no kind", in: `{"x":[1],"y":[2]}`, code: 3, errMatch: "line 1: kind: missing"},
		{name: "bad kind", in: `{"kind":"rate","looks":[]}`, code: 3, errMatch: `line 1: kind: "rate"`},
		{name: "bad direction", in: `{"kind":"value","x":[1],"y":[2],"direction":"up"}`, code: 3, errMatch: `line 1: direction: direction "up"`},
		{name: "alpha out of range", in: `{"kind":"value","x":[1],"y":[2],"alpha":1}`, code: 3, errMatch: "line 1: alpha: 1"},
		{name: "null value", in: `{"kind":"value","x":[1,null],"y":[2]}`, code: 3, errMatch: "line 1: x[1] is null"},
		{name: "look beyond the data", in: `{"kind":"value","x":[1,2],"y":[2,3],"looks":[1,3]}`, code: 3, errMatch: "line 1: looks[1]: 3 canary observations, but x has 2"},
		{name: "shrinking looks", in: `{"kind":"value","x":[1,2],"y":[2,3],"looks":[2,{"nx":1,"ny":2}]}`, code: 3, errMatch: "line 1: looks[1]: 1 and 2 observations, fewer than looks[0]"},
		{name: "fractional look", in: `{"kind":"value","x":[1,2],"y":[2,3],"looks":[1.5]}`, code: 3, errMatch: "line 1: looks[0]: 1.5: want a whole number"},
		{name: "look object without ny", in: `{"kind":"value","x":[1,2],"y":[2,3],"looks":[{"nx":1}]}`, code: 3, errMatch: `line 1: looks[0]: want both "nx" and "ny"`},
		{name: "bad block", in: `{"kind":"value","x":[1],"y":[2],"block":[0,1]}`, code: 3, errMatch: "line 1: block: [0, 1]"},
		{name: "log of zero", in: `{"kind":"value","x":[1],"y":[0],"log":true}`, code: 3, errMatch: "line 1: looks[0]: sequential shift: y[0] is 0: log needs values > 0"},
		{name: "ratio for values", in: `{"kind":"value","x":[1],"y":[2],"ratio":2}`, code: 3, errMatch: `line 1: ratio: only for kind "count"`},
		{name: "samples for counts", in: `{"kind":"count","x":[1],"looks":[]}`, code: 3, errMatch: `line 1: x, y: only for kind "value"`},
		{name: "no count looks", in: `{"kind":"count"}`, code: 3, errMatch: "line 1: looks: want at least one look of counts"},
		{name: "missing count field", in: `{"kind":"count","looks":[{"x_events":1,"x_total":10,"y_events":0}]}`, code: 3, errMatch: "line 1: looks[0].y_total: missing"},
		{name: "fractional events", in: `{"kind":"count","looks":[{"x_events":1.5,"x_total":10,"y_events":0,"y_total":10}]}`, code: 3, errMatch: "line 1: looks[0]: json: cannot unmarshal number 1.5"},
		{name: "unknown count field", in: `{"kind":"count","looks":[{"x_errors":1,"x_total":10,"y_events":0,"y_total":10}]}`, code: 3, errMatch: `line 1: looks[0]: json: unknown field "x_errors"`},
		{name: "decreasing counts", in: `{"kind":"count","looks":[{"x_events":5,"x_total":10,"y_events":0,"y_total":10},{"x_events":4,"x_total":20,"y_events":0,"y_total":20}]}`,
			code: 3, errMatch: "line 1: looks[1]: sequential rate: canary counts 4 of 20 are below the previous look's 5 of 10"},
		{name: "two values on a line", in: `{"kind":"count","looks":[]} {}`, code: 3, errMatch: "more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stdout, stderr := runStats(t, "sequential", tt.in, tt.code)
			if len(got) != len(tt.out) {
				t.Fatalf("%d output lines, want %d: %q", len(got), len(tt.out), stdout.String())
			}
			for i, want := range tt.out {
				checkSequentialLine(t, i, want, got[i])
			}
			errOut := stderr.String()
			if tt.errMatch == "" {
				if errOut != "" {
					t.Errorf("stderr = %q, want empty", errOut)
				}
				return
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.errMatch) {
				t.Errorf("stderr = %q, want one line containing %q", errOut, tt.errMatch)
			}
		})
	}
}

// checkSequentialLine compares the fields of want with got: a line with
// only "kind" checks only that; a confidence-sequence end given as
// "lo > v" or "hi < v" checks a bound, since it is found by root finding.
func checkSequentialLine(t *testing.T, i int, want, got map[string]any) {
	t.Helper()
	if len(want) == 1 {
		if got["kind"] != want["kind"] {
			t.Errorf("line %d: kind %v, want %v", i, got["kind"], want["kind"])
		}
		return
	}
	wl, _ := want["looks"].([]any)
	gl, _ := got["looks"].([]any)
	if len(wl) != len(gl) {
		t.Fatalf("line %d: %d looks, want %d", i, len(gl), len(wl))
	}
	for k := range wl {
		w, g := wl[k].(map[string]any), gl[k].(map[string]any)
		wcs, gcs := w["cs"].([]any), g["cs"].([]any)
		if len(wcs) == 1 { // only a bound on the lower end, and an unbounded top
			wcs = []any{wcs[0], nil}
		}
		for j := range 2 {
			switch b := wcs[j].(type) {
			case string:
				var v float64
				if _, err := fmt.Sscanf(b[5:], "%g", &v); err != nil {
					t.Fatal(err)
				}
				gv, ok := gcs[j].(float64)
				if !ok || b[:2] == "lo" && !(gv > v) || b[:2] == "hi" && !(gv < v) {
					t.Errorf("line %d look %d: cs[%d] = %v, want %s", i, k, j, gcs[j], b)
				}
				wcs[j], gcs[j] = nil, nil
			}
		}
		w["cs"], g["cs"] = wcs, gcs
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(1e-12, 0)); diff != "" {
		t.Errorf("line %d (-want +got):\n%s", i, diff)
	}
}

// runStats runs `gohere stats <sub>` on in, wants exit code, and returns
// its output lines as JSON objects and its raw output.
func runStats(t *testing.T, sub, in string, code int) (got []map[string]any, stdout, stderr *bytes.Buffer) {
	t.Helper()
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	if c := run(t.Context(), []string{"stats", sub}, strings.NewReader(in), stdout, stderr); c != code {
		t.Fatalf("exit code = %d, want %d; stderr %q", c, code, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		got = append(got, m)
	}
	return got, stdout, stderr
}
