package stats

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []float64{3}, Summary{N: 1, Mean: 3, Median: 3, Min: 3, Max: 3, P50: 3, P90: 3, P99: 3}},
		// R: mean 2.5, sd 1.2909944487358056, quantile(type 7) 0.9 -> 3.7, 0.99 -> 3.97
		{"unsorted", []float64{4, 1, 3, 2}, Summary{N: 4, Mean: 2.5, Median: 2.5, Std: 1.2909944487358056,
			Min: 1, Max: 4, P50: 2.5, P90: 3.7, P99: 3.97}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			got := Describe(in)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(1e-15, 1e-15)); diff != "" {
				t.Errorf("Describe(%v) (-want +got):\n%s", tt.in, diff)
			}
			if !cmp.Equal(in, tt.in, cmpopts.EquateEmpty()) {
				t.Errorf("Describe modified its input: %v", in)
			}
			if _, err := json.Marshal(got); err != nil {
				t.Errorf("Summary does not encode: %v", err)
			}
		})
	}
}
