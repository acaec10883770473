package main

import (
	"bytes"
	"encoding/json"
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
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{"stats", "mannwhitney"}, strings.NewReader(tt.in), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit code = %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			var got []map[string]any
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
