package stats

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/gohere/gohere"
)

// fuzzSamples turns fuzz bytes into two samples: small integers scaled by
// a power of ten (dense ties), or near 1 in steps of one ulp (rounding
// collisions when shifted).
func fuzzSamples(data []byte, split uint8, scale int8) (x, y []float64) {
	for i, b := range data {
		v := float64(int8(b)) * math.Pow(10, float64(scale%8))
		if scale < -100 {
			v = 1 + float64(b%8)*0x1p-52
		}
		if i < int(split)%(len(data)+1) {
			x = append(x, v)
		} else {
			y = append(y, v)
		}
	}
	return x, y
}

// FuzzMannWhitney: no panics; valid input gives p in [0, 1], W in
// [0, nx·ny], an achieved level in [0, 1), estimate and interval bounds
// inside [min(x)-max(y), max(x)-min(y)] (or infinite on the open side), an
// ordered exact interval, and a merge that agrees with a plain ranking.
func FuzzMannWhitney(f *testing.F) {
	f.Add([]byte{10, 20, 30, 40, 1, 2, 3, 4}, uint8(4), int8(0), uint8(0), 0.95, 0.0)
	f.Add([]byte{100, 100, 100, 100, 100, 100, 100, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, uint8(10), int8(1), uint8(1), 0.98, 0.0)
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0}, uint8(4), int8(-3), uint8(6), 0.9, 0.5)
	f.Add([]byte{1, 2, 3, 4, 5, 6}, uint8(3), int8(-128), uint8(3), 0.95, 0.0)
	f.Fuzz(func(t *testing.T, data []byte, split uint8, scale int8, flags uint8, conf, mu float64) {
		x, y := fuzzSamples(data, split, scale)
		opt := MannWhitneyOptions{
			Alternative: []Alternative{TwoSided, Less, Greater}[flags%3],
			Correct:     flags&4 != 0, ConfLevel: conf, Mu: mu,
		}
		switch flags >> 3 % 3 {
		case 1:
			opt.Exact = ptr(true)
		case 2:
			opt.Exact = ptr(false)
		}
		res, err := MannWhitney(x, y, opt)
		if err != nil {
			if gohere.KindOf(err) != gohere.Invalid {
				t.Fatalf("error of kind %v: %v", gohere.KindOf(err), err)
			}
			return
		}
		nxy := float64(len(x) * len(y))
		if !(res.PValue >= 0 && res.PValue <= 1) || !(res.W >= 0 && res.W <= nxy) ||
			!(res.ConfLevel >= 0 && res.ConfLevel < 1) {
			t.Fatalf("out of range: %+v", res)
		}
		s := newSamples(x, y)
		lo, hi := s.x[0]-s.y[len(s.y)-1], s.x[len(s.x)-1]-s.y[0]
		in := func(v float64) bool { return v >= lo && v <= hi }
		if !in(res.Estimate) ||
			!(in(res.CILow) || res.CILow == math.Inf(-1) && opt.Alternative == Less) ||
			!(in(res.CIHigh) || res.CIHigh == math.Inf(1) && opt.Alternative == Greater) {
			t.Fatalf("estimate or CI outside [%v, %v]: %+v", lo, hi, res)
		}
		if res.Method == "exact" && res.CILow > res.CIHigh {
			t.Fatalf("exact CI not ordered: %+v", res)
		}
		for _, d := range []float64{mu, lo, hi, lo + (hi-lo)/3} {
			gu, gt := s.rank(d)
			if wu, wt := naiveRank(x, y, d); gu != wu || gt != wt {
				t.Fatalf("rank(%v) = (%d, %v), want (%d, %v)", d, gu, gt, wu, wt)
			}
		}
	})
}

// FuzzMannWhitneyLines: the JSON-lines reader never panics, and every
// output line it writes is valid JSON with p in [0, 1].
func FuzzMannWhitneyLines(f *testing.F) {
	f.Add(`{"x":[10,20,30,40],"y":[1,2,3,4]}`)
	f.Add(`{"x":[1,2,3],"y":[4,5,6.5,7],"alternative":"less","exact":false,"correct":false,"conf_level":0.9,"mu":1}` + "\n\n" + `{"x":[1],"y":[2]}`)
	f.Add(`{"x":[1,null],"y":[2]}`)
	f.Add(`{"x":[5,5],"y":[5,5]}`)
	f.Add(`{"x":[1e308],"y":[-1e308]}`)
	f.Add(`{"x":[1],"y":[2]} {}`)
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		err := MannWhitneyLines(strings.NewReader(in), &out)
		if err != nil && gohere.KindOf(err) != gohere.Invalid {
			t.Fatalf("error of kind %v: %v", gohere.KindOf(err), err)
		}
		dec := json.NewDecoder(&out)
		for {
			var r MannWhitneyResponse
			if err := dec.Decode(&r); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if !(r.PValue >= 0 && r.PValue <= 1) {
				t.Fatalf("p = %v", r.PValue)
			}
		}
	})
}
