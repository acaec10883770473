package stats

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gohere/gohere"
)

// FuzzSequentialLines: no panics; an error is Invalid and names the line;
// every output line is JSON whose looks have p in [0, 1], non-increasing (0 when the evidence underflows), an
// e-value >= 0 and reject = p <= alpha.
func FuzzSequentialLines(f *testing.F) {
	f.Add(`{"kind":"value","x":[10,20,30],"y":[1,2,3],"looks":[1,2,3],"block":[1,1]}`)
	f.Add(`{"kind":"value","x":[1,1,1,1,2,2,2,2,3],"y":[1,1,1,2,2,2],"looks":[{"nx":4,"ny":3},{"nx":9,"ny":6}],"direction":"decrease","mu":0.5}`)
	f.Add(`{"kind":"value","x":[1.5,2.5],"y":[1,2],"log":true,"mu":1.1,"alpha":0.2}`)
	f.Add(`{"kind":"count","looks":[{"x_events":3,"x_total":100,"y_events":1,"y_total":300},{"x_events":9,"x_total":250,"y_events":2,"y_total":700}],"ratio":1.5,"direction":"either"}`)
	f.Add(`{"kind":"count","looks":[{"x_events":0,"x_total":0,"y_events":0,"y_total":5}]}`)
	f.Add("{\"kind\":\"value\",\"x\":[1e308],\"y\":[-1e308],\"block\":[1,1]}\n{}")
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		err := SequentialLines(strings.NewReader(in), &out)
		if err != nil {
			if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error %v: want Invalid naming the line", err)
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if line == "" {
				continue
			}
			var resp SequentialResponse
			if err := json.Unmarshal([]byte(line), &resp); err != nil {
				t.Fatalf("output %q: %v", line, err)
			}
			prev := 1.0
			for i, l := range resp.Looks {
				if !(l.PValue >= 0 && l.PValue <= prev) || !(l.EValue >= 0) || l.Reject != (l.PValue <= resp.Alpha) ||
					math.IsNaN(l.N) {
					t.Fatalf("look %d of %q: %+v", i, line, l)
				}
				prev = l.PValue
			}
		}
	})
}
