package judge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/gohere/gohere"
)

// Samples is what was measured for one metric on one side: Values for a
// value metric (NaN or ±Inf marks a missing point), Counts for a rate
// metric.
type Samples struct {
	Values []float64 `json:"values,omitempty"`
	Counts *Counts   `json:"counts,omitempty"`
}

// Counts are the totals of a rate metric over the judged window, e.g. 5xx
// responses (Numerator) out of all responses (Denominator). They are
// rounded to whole events for the test.
type Counts struct {
	Numerator   float64 `json:"numerator"`
	Denominator float64 `json:"denominator"`
}

// Data maps a metric's name to its samples on one side.
type Data map[string]Samples

// MaxDataBytes bounds a recorded-series file read by ReadData.
const MaxDataBytes = 512 << 20

// ReadData reads recorded series for `gohere judge` in either format:
//
//  1. one JSON object mapping a metric name to an array of numbers (null
//     is a missing point), or, for a rate metric, to
//     {"numerator": N|[...], "denominator": N|[...]} (arrays are summed,
//     nulls skipped);
//  2. VictoriaMetrics' JSON-lines export, one series per line,
//     {"metric":{"__name__":"x",...},"values":[...],"timestamps":[...]}:
//     a series named after a metric adds its values to it; one named
//     "<metric>:numerator" or "<metric>:denominator" adds its sum to that
//     total of a rate metric. Other labels are ignored.
//
// Numbers may also be strings ("1.5", "NaN"), as Prometheus writes them.
func ReadData(r io.Reader) (Data, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read data: %w", err)
	}
	if len(data) > MaxDataBytes {
		return nil, gohere.Errorf(gohere.Invalid, "data is larger than %d bytes", MaxDataBytes)
	}
	if isVMExport(data) {
		return readVMExport(data)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "data: want a JSON object of metric name to numbers, or VictoriaMetrics JSON lines: %v", err)
	}
	out := make(Data, len(raw))
	for name, v := range raw {
		s, err := decodeSeries(v)
		if err != nil {
			return nil, gohere.Errorf(gohere.Invalid, "data: metric %q: %v", name, err)
		}
		out[name] = s
	}
	return out, nil
}

func decodeSeries(v json.RawMessage) (Samples, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '{' {
		var rate struct {
			Numerator   json.RawMessage `json:"numerator"`
			Denominator json.RawMessage `json:"denominator"`
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rate); err != nil {
			return Samples{}, fmt.Errorf("want {\"numerator\": ..., \"denominator\": ...}: %v", err)
		}
		if rate.Numerator == nil || rate.Denominator == nil {
			return Samples{}, errors.New("a rate needs both numerator and denominator")
		}
		num, err := total(rate.Numerator)
		if err != nil {
			return Samples{}, fmt.Errorf("numerator: %v", err)
		}
		den, err := total(rate.Denominator)
		if err != nil {
			return Samples{}, fmt.Errorf("denominator: %v", err)
		}
		return Samples{Counts: &Counts{Numerator: num, Denominator: den}}, nil
	}
	var xs []number
	if err := json.Unmarshal(v, &xs); err != nil {
		return Samples{}, fmt.Errorf("want an array of numbers: %v", err)
	}
	return Samples{Values: floats(xs)}, nil
}

// total is a count given as a number or as an array to sum.
func total(v json.RawMessage) (float64, error) {
	var n number
	if err := json.Unmarshal(v, &n); err == nil {
		return float64(n), nil
	}
	var xs []number
	if err := json.Unmarshal(v, &xs); err != nil {
		return 0, errors.New("want a number or an array of numbers")
	}
	return sum(floats(xs)), nil
}

// sum adds the finite values; missing points add nothing.
func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s += x
		}
	}
	return s
}

func floats(xs []number) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// number is a JSON number, null (missing: NaN), or a string holding a
// number as Prometheus writes it ("NaN", "+Inf", "1e3").
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*n = number(math.NaN())
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		*n = number(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*n = number(v)
	return nil
}

type vmSeries struct {
	Metric map[string]string `json:"metric"`
	Values []number          `json:"values"`
}

// isVMExport: the first JSON value is an object with "metric" holding an
// object and a "values" key. A metric of format 1 never looks like that: its
// value would be an array or a rate object.
func isVMExport(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var first map[string]json.RawMessage
	if dec.Decode(&first) != nil {
		return false
	}
	m, v := bytes.TrimSpace(first["metric"]), first["values"]
	return len(m) > 0 && m[0] == '{' && v != nil
}

func readVMExport(data []byte) (Data, error) {
	out := Data{}
	// Which parts of each rate metric were seen: a missing numerator must
	// not read as zero events (a canary with no errors), nor a missing
	// denominator as zero traffic.
	parts := map[string]map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxDataBytes)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var s vmSeries
		dec := json.NewDecoder(bytes.NewReader(text))
		if err := dec.Decode(&s); err != nil {
			return nil, gohere.Errorf(gohere.Invalid, "data: line %d: %v", line, err)
		}
		name := s.Metric["__name__"]
		if name == "" {
			return nil, gohere.Errorf(gohere.Invalid, "data: line %d: series without __name__", line)
		}
		values := floats(s.Values)
		// The suffix follows the last colon: recording-rule names have colons.
		i := strings.LastIndexByte(name, ':')
		if base, part := name[:max(i, 0)], name[i+1:]; i > 0 && (part == "numerator" || part == "denominator") {
			cur := out[base]
			if cur.Counts == nil {
				cur.Counts = &Counts{}
			}
			if part == "numerator" {
				cur.Counts.Numerator += sum(values)
			} else {
				cur.Counts.Denominator += sum(values)
			}
			out[base] = cur
			if parts[base] == nil {
				parts[base] = map[string]bool{}
			}
			parts[base][part] = true
			continue
		}
		cur := out[name]
		cur.Values = append(cur.Values, values...)
		out[name] = cur
	}
	if err := sc.Err(); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "data: %v", err)
	}
	for base, seen := range parts {
		for _, part := range []string{"numerator", "denominator"} {
			if !seen[part] {
				return nil, gohere.Errorf(gohere.Invalid, "data: metric %q: a rate needs both numerator and denominator; no series %s:%s", base, base, part)
			}
		}
	}
	return out, nil
}
