package judge

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gohere/gohere"
)

func TestJudgeReadData(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name string
		in   string
		want Data
	}{
		{"arrays", `{"a": [1, 2.5, null, "3", "NaN"], "b": []}`,
			Data{"a": {Values: []float64{1, 2.5, nan, 3, nan}}, "b": {Values: []float64{}}}},
		{"rate totals", `{"e": {"numerator": 3, "denominator": 1000}}`,
			Data{"e": {Counts: &Counts{Numerator: 3, Denominator: 1000}}}},
		{"rate series", `{"e": {"numerator": [1, null, 2], "denominator": [100, 200, "300"]}}`,
			Data{"e": {Counts: &Counts{Numerator: 3, Denominator: 600}}}},
		{"victoriametrics export",
			`{"metric":{"__name__":"lat","pod":"a"},"values":[1,2],"timestamps":[1,2]}` + "\n\n" +
				`{"metric":{"__name__":"lat","pod":"b"},"values":[3],"timestamps":[3]}` + "\n" +
				`{"metric":{"__name__":"job:err:numerator"},"values":[1,1],"timestamps":[1,2]}` + "\n" +
				`{"metric":{"__name__":"job:err:denominator"},"values":[50,50],"timestamps":[1,2]}` + "\n",
			Data{"lat": {Values: []float64{1, 2, 3}}, "job:err": {Counts: &Counts{Numerator: 2, Denominator: 100}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadData(strings.NewReader(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJudgeReadDataInvalid(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"not json", `latency: [1, 2]`, "want a JSON object"},
		{"array", `[1, 2]`, "want a JSON object"},
		{"word", `{"a": [1, "fast"]}`, `metric "a": want an array of numbers: "fast" is not a number`},
		{"rate half", `{"e": {"numerator": 3}}`, "a rate needs both numerator and denominator"},
		{"rate extra", `{"e": {"numerator": 3, "denominator": 4, "total": 5}}`, "unknown field"},
		{"rate bad", `{"e": {"numerator": "x", "denominator": 4}}`, "numerator: want a number or an array of numbers"},
		{"vm no name", `{"metric":{"pod":"a"},"values":[1],"timestamps":[1]}`, "line 1: series without __name__"},
		// A missing error counter must not read as zero errors.
		{"vm rate without numerator", `{"metric":{"__name__":"err:denominator"},"values":[100],"timestamps":[1]}`, `no series err:numerator`},
		{"vm rate without denominator", `{"metric":{"__name__":"err:numerator"},"values":[1],"timestamps":[1]}`, `no series err:denominator`},
		{"vm bad line", `{"metric":{"__name__":"a"},"values":[1],"timestamps":[1]}` + "\n{oops\n", "line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadData(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) || gohere.KindOf(err) != gohere.Invalid {
				t.Errorf("err = %v, want an Invalid error containing %q", err, c.want)
			}
		})
	}
}

// TestExampleData: the VictoriaMetrics export of the example canary holds
// the same data as its JSON object form.
func TestJudgeExampleData(t *testing.T) {
	read := func(path string) Data {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		d, err := ReadData(f)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	obj, vm := read("testdata/data/canary-pass.json"), read("testdata/data/canary-pass.vm.jsonl")
	if diff := cmp.Diff(obj, vm, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("JSON object vs VictoriaMetrics export (-object +export):\n%s", diff)
	}
}
