package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/gohere/gohere"
)

type miscGoldens struct {
	Proportion []struct {
		K1, N1, K2, N2 int64
		Alternative    string `json:"alternative"`
		PValue         rnum   `json:"p_value"`
		Method         string `json:"method"`
	} `json:"proportion"`
	Adjust []struct {
		P    []rnum `json:"p"`
		Holm []rnum `json:"holm"`
		BH   []rnum `json:"bh"`
	} `json:"adjust"`
	Quantile []struct {
		X     []rnum `json:"x"`
		Probs []rnum `json:"probs"`
		Q     []rnum `json:"q"`
	} `json:"quantile"`
}

func loadMisc(t *testing.T) miscGoldens {
	t.Helper()
	b, err := os.ReadFile("testdata/golden_misc.json")
	if err != nil {
		t.Fatal(err)
	}
	var g miscGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Proportion) == 0 || len(g.Adjust) == 0 || len(g.Quantile) == 0 {
		t.Fatal("golden_misc.json is missing a section")
	}
	return g
}

// TestProportionGoldens: fisher.test and prop.test p-values from R within
// 1e-9 relative (absolute floor 1e-300).
func TestProportionGoldens(t *testing.T) {
	for i, c := range loadMisc(t).Proportion {
		t.Run(fmt.Sprintf("%02d-%d/%d-vs-%d/%d-%s", i, c.K1, c.N1, c.K2, c.N2, c.Alternative), func(t *testing.T) {
			got, err := ProportionTest(c.K1, c.N1, c.K2, c.N2, Alternative(c.Alternative))
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != c.Method {
				t.Errorf("method = %q, want %q", got.Method, c.Method)
			}
			if !near(got.PValue, float64(c.PValue), 1e-9, 1e-300) {
				t.Errorf("p = %.17g, want %.17g", got.PValue, c.PValue)
			}
		})
	}
}

func TestProportionInvalid(t *testing.T) {
	for _, c := range [][4]int64{{-1, 10, 0, 10}, {11, 10, 0, 10}, {0, 0, 0, 10}, {0, 10, 1, 0}, {0, 10, 0, -5}} {
		_, err := ProportionTest(c[0], c[1], c[2], c[3], TwoSided)
		if gohere.KindOf(err) != gohere.Invalid {
			t.Errorf("ProportionTest%v: err = %v, want Invalid", c, err)
		}
	}
	if _, err := ProportionTest(1, 10, 1, 10, "bigger"); gohere.KindOf(err) != gohere.Invalid {
		t.Errorf("bad alternative: err = %v, want Invalid", err)
	}
}

// TestAdjustGoldens: p.adjust holm and BH equal R's to 1e-15 relative.
func TestAdjustGoldens(t *testing.T) {
	for i, c := range loadMisc(t).Adjust {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p := floats(c.P)
			for name, got := range map[string][]float64{"holm": AdjustHolm(p), "bh": AdjustBH(p)} {
				want := floats(c.Holm)
				if name == "bh" {
					want = floats(c.BH)
				}
				for k := range want {
					if !near(got[k], want[k], 1e-15, 0) {
						t.Errorf("%s(%v)[%d] = %v, want %v", name, p, k, got[k], want[k])
					}
				}
			}
		})
	}
}

// TestQuantileGoldens: R's quantile(type = 7).
func TestQuantileGoldens(t *testing.T) {
	for i, c := range loadMisc(t).Quantile {
		x := floats(c.X)
		for k, p := range floats(c.Probs) {
			if got, want := Quantile(x, p), float64(c.Q[k]); !near(got, want, 1e-15, 0) {
				t.Errorf("case %d: Quantile(%v, %v) = %v, want %v", i, x, p, got, want)
			}
		}
	}
	for _, p := range []float64{-0.1, 1.1, math.NaN()} {
		if got := Quantile([]float64{1, 2}, p); !math.IsNaN(got) {
			t.Errorf("Quantile(p=%v) = %v, want NaN", p, got)
		}
	}
	if got := Quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("Quantile(nil) = %v, want NaN", got)
	}
}
