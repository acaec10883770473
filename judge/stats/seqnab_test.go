package stats

import (
	"encoding/csv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// nabSeries reads the values of a NAB slice in testdata/nab.
func nabSeries(t *testing.T, name string) []float64 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "nab", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1201 || rows[0][1] != "value" {
		t.Fatalf("%s: %d rows, header %q: want the 1,200-row slice of testdata/nab/README.md", name, len(rows), rows[0])
	}
	v := make([]float64, 0, len(rows)-1)
	for _, r := range rows[1:] {
		x, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v = append(v, x)
	}
	return v
}

// nabSplit routes each point of a series to the canary (x) or the baseline
// (y) by a fair coin, as a load balancer would, and looks every 20 points
// (100 minutes of the 5-minute series): 60 looks over the 1,200 points.
type nabSplit struct {
	x, y   []float64
	nx, ny []int // counts at each look
}

func splitNAB(v []float64, seed uint64) nabSplit {
	r := rand.New(rand.NewPCG(seed, 2205_14762))
	var s nabSplit
	for i, p := range v {
		if r.IntN(2) == 1 {
			s.x = append(s.x, p)
		} else {
			s.y = append(s.y, p)
		}
		if (i+1)%20 == 0 {
			s.nx, s.ny = append(s.nx, len(s.x)), append(s.ny, len(s.y))
		}
	}
	return s
}

// run returns the first look at which the sequential test rejects (0:
// never), its last result, and the first look at which a Mann-Whitney test
// at alpha on all data so far rejects in the test's direction (0: never).
func (s nabSplit) run(t *testing.T, factor float64, opt ShiftOptions) (seq int, last SequentialResult, naive int) {
	t.Helper()
	x := slices.Clone(s.x)
	for i := range x {
		x[i] *= factor
	}
	m, err := NewShiftMonitor(opt)
	if err != nil {
		t.Fatal(err)
	}
	mwOpt := DefaultMannWhitney()
	mwOpt.Alternative = map[Direction]Alternative{Increase: Greater, Decrease: Less, Either: TwoSided}[opt.Direction]
	for k := range s.nx {
		last, err = m.Look(x[:s.nx[k]], s.y[:s.ny[k]])
		if err != nil {
			t.Fatal(err)
		}
		if last.Reject && seq == 0 {
			seq = k + 1
		}
		if naive == 0 {
			res, err := MannWhitney(x[:s.nx[k]], s.y[:s.ny[k]], mwOpt)
			if err != nil {
				t.Fatal(err)
			}
			if res.PValue <= simAlpha {
				naive = k + 1
			}
		}
	}
	return seq, last, naive
}

var nabFiles = []string{
	"ec2_request_latency_system_failure.csv",
	"ec2_cpu_utilization_5f5533.csv",
	"rds_cpu_utilization_cc0c53.csv",
	"ec2_network_in_257a54.csv",
}

// nabSeeds is the number of random splits per series (fewer under the race
// detector: the repeated Mann-Whitney tests beside it are slow there).
var nabSeeds = map[bool]int{false: 10, true: 4}[raceEnabled]

// TestSequentialNAB: real series with no labelled anomaly, split at random
// into canary and baseline, 60 looks: the sequential test (both directions,
// on the values and on their logarithms) never rejects; with the canary
// multiplied by 1.2 it detects the increase, and its ratio sequence ends
// around 1.2. Beside it: how often a Mann-Whitney test repeated at every
// look rejects the same untouched splits.
func TestSequentialNAB(t *testing.T) {
	var pairs, naiveFalse int
	var detect []int
	for _, name := range nabFiles {
		v := nabSeries(t, name)
		t.Run(name, func(t *testing.T) {
			var fileNaive int
			var fileDetect []int
			for seed := range uint64(nabSeeds) {
				s := splitNAB(v, seed)
				for _, log := range []bool{false, true} {
					seq, last, naive := s.run(t, 1, ShiftOptions{Direction: Either, Log: log})
					pairs++
					if naive > 0 {
						naiveFalse++
						fileNaive++
					}
					if seq > 0 {
						t.Errorf("seed %d, log %v: untouched series rejected at look %d: p %.3g, cs [%.4g, %.4g]",
							seed, log, seq, last.PValue, last.CSLow, last.CSHigh)
					}
				}
				seq, last, _ := s.run(t, 1.2, ShiftOptions{Direction: Increase, Log: true})
				fileDetect = append(fileDetect, seq)
				if seq == 0 {
					t.Errorf("seed %d: +20 %% not detected in 60 looks: p %.3g", seed, last.PValue)
				}
				if !(last.CSLow <= 1.2 && 1.2 <= last.CSHigh) || last.CSLow < 1.1 {
					t.Errorf("seed %d: +20 %%: ratio sequence [%.4g, %.4g] at the last look: want 1.2 inside and above 1.1",
						seed, last.CSLow, last.CSHigh)
				}
			}
			detect = append(detect, fileDetect...)
			t.Logf("%d untouched splits: sequential rejected none; repeated Mann-Whitney rejected %d; +20 %% detected at looks %v",
				2*nabSeeds, fileNaive, fileDetect)
		})
	}
	slices.Sort(detect)
	detected := len(detect) - slices.IndexFunc(detect, func(l int) bool { return l > 0 })
	if slices.IndexFunc(detect, func(l int) bool { return l > 0 }) < 0 {
		detected = 0
	}
	t.Logf("NAB: %d untouched splits, repeated Mann-Whitney falsely rejected %d; +20 %% detected in %d of %d, median look %d",
		pairs, naiveFalse, detected, len(detect), detect[(len(detect)-1)/2])
}
