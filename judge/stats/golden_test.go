package stats

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gohere/gohere"
)

// rnum decodes a number written by golden.R: a JSON number, or "Inf",
// "-Inf", "NaN" as strings.
type rnum float64

func (r *rnum) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "Inf":
			*r = rnum(math.Inf(1))
		case "-Inf":
			*r = rnum(math.Inf(-1))
		case "NaN", "NA":
			*r = rnum(math.NaN())
		default:
			return fmt.Errorf("bad number %q", s)
		}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*r = rnum(v)
	return err
}

func floats(v []rnum) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

type wilcoxCase struct {
	Kind        string  `json:"kind"`
	X           []rnum  `json:"x"`
	Y           []rnum  `json:"y"`
	Alternative string  `json:"alternative"`
	Mu          rnum    `json:"mu"`
	Exact       *bool   `json:"exact"`
	Correct     bool    `json:"correct"`
	ConfLevel   rnum    `json:"conf_level"`
	Error       string  `json:"error"`
	W           rnum    `json:"w"`
	PValue      rnum    `json:"p_value"`
	Estimate    rnum    `json:"estimate"`
	ConfInt     [2]rnum `json:"conf_int"`
	Achieved    rnum    `json:"achieved_conf_level"`
	Method      string  `json:"method"`
}

func (c wilcoxCase) options(tol float64) MannWhitneyOptions {
	return MannWhitneyOptions{Alternative: Alternative(c.Alternative), Mu: float64(c.Mu),
		Exact: c.Exact, Correct: c.Correct, ConfLevel: float64(c.ConfLevel), TolRoot: tol}
}

func loadWilcoxGoldens(t testing.TB) []wilcoxCase {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []wilcoxCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 280 {
		t.Fatalf("golden.json has %d cases, want >= 280", len(g.Cases))
	}
	return g.Cases
}

// near reports whether got is within rel of want, or within abs of it:
// the absolute floor covers values near zero, where R's own root tolerance
// (tol.root = 1e-12, absolute) dominates.
func near(got, want, rel, abs float64) bool {
	if math.IsInf(want, 0) || math.IsNaN(want) {
		return got == want || math.IsNaN(got) && math.IsNaN(want)
	}
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

// TestMannWhitneyGoldens checks every case of testdata/golden.json, made by
// golden.R from R 4.2.2: W exact, p within 1e-9 relative (absolute floor
// 1e-300 for underflow), estimate and interval within 1e-6 relative
// (absolute floor 1e-11, ten times R's root tolerance), achieved level and
// method equal. It runs twice: with R's tol.root = 1e-12 emulated, and
// with the default full-precision roots.
func TestMannWhitneyGoldens(t *testing.T) {
	cases := loadWilcoxGoldens(t)
	for _, tol := range []float64{1e-12, 0} {
		for i, c := range cases {
			t.Run(fmt.Sprintf("tol=%g/%03d-%s", tol, i, c.Kind), func(t *testing.T) {
				got, err := MannWhitney(floats(c.X), floats(c.Y), c.options(tol))
				if c.Error != "" {
					if err == nil {
						t.Fatalf("R says %q, got %+v and no error", c.Error, got)
					}
					if tied := strings.Contains(c.Error, "TRUE/FALSE") || strings.Contains(c.Error, "lower < upper"); tied && !errors.Is(err, ErrAllTied) {
						t.Errorf("R says %q, got error %v, want ErrAllTied", c.Error, err)
					}
					if gohere.KindOf(err) != gohere.Invalid {
						t.Errorf("R says %q, got error %v, want kind Invalid", c.Error, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("R gives %v, got error %v", c, err)
				}
				if got.W != float64(c.W) {
					t.Errorf("W = %v, want %v", got.W, c.W)
				}
				if !near(got.PValue, float64(c.PValue), 1e-9, 1e-300) {
					t.Errorf("p = %.17g, want %.17g", got.PValue, c.PValue)
				}
				if !near(got.Estimate, float64(c.Estimate), 1e-6, 1e-11) {
					t.Errorf("estimate = %.17g, want %.17g", got.Estimate, c.Estimate)
				}
				if !near(got.CILow, float64(c.ConfInt[0]), 1e-6, 1e-11) || !near(got.CIHigh, float64(c.ConfInt[1]), 1e-6, 1e-11) {
					t.Errorf("CI = [%.17g, %.17g], want [%.17g, %.17g]", got.CILow, got.CIHigh, c.ConfInt[0], c.ConfInt[1])
				}
				if !near(got.ConfLevel, float64(c.Achieved), 1e-12, 0) {
					t.Errorf("conf level = %v, want %v", got.ConfLevel, c.Achieved)
				}
				if got.Method != c.Method {
					t.Errorf("method = %q, want %q", got.Method, c.Method)
				}
			})
		}
	}
}
