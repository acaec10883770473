package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// SequentialRequest is one input line of SequentialLines.
//
// Kind "value": x (canary) and y (baseline) in arrival order; looks, each
// either a number n (the first n observations of both samples) or an object
// {"nx":..,"ny":..}; missing looks mean one look at all the data. Optional
// mu (the null shift), log (compare logarithms: the effect is the ratio
// canary/baseline and mu a ratio, see ShiftOptions.Log) and block ([a, b],
// see ShiftOptions.Block).
//
// Kind "count": looks of cumulative counts
// {"x_events":..,"x_total":..,"y_events":..,"y_total":..}; optional ratio
// (the null rate ratio, default 1).
//
// Both: alpha (default 0.05) and direction ("increase", "decrease" or
// "either", the default).
type SequentialRequest struct {
	Kind      string            `json:"kind"`
	X         []*float64        `json:"x,omitempty"`
	Y         []*float64        `json:"y,omitempty"`
	Looks     []json.RawMessage `json:"looks"`
	Alpha     *float64          `json:"alpha,omitempty"`
	Direction Direction         `json:"direction,omitempty"`
	Mu        *float64          `json:"mu,omitempty"`
	Log       bool              `json:"log,omitempty"`
	Ratio     *float64          `json:"ratio,omitempty"`
	Block     *[2]int           `json:"block,omitempty"`
}

// SequentialLookJSON is one look of a SequentialResponse. N is the number of
// observations at the look: nx + ny for values, x_total + y_total for counts.
// An unbounded side of the confidence sequence is null.
type SequentialLookJSON struct {
	N      float64     `json:"n"`
	PValue float64     `json:"p_value"`
	EValue float64     `json:"e_value"`
	CS     [2]*float64 `json:"cs"`
	Reject bool        `json:"reject"`
}

// SequentialResponse is one output line of SequentialLines. Effect names
// what cs bounds: "shift" (canary minus baseline, the metric's units),
// "ratio" (canary / baseline, for values with log) or "rate_ratio" (canary
// rate / baseline rate).
type SequentialResponse struct {
	Kind      string               `json:"kind"`
	Direction Direction            `json:"direction"`
	Alpha     float64              `json:"alpha"`
	Effect    string               `json:"effect"`
	Block     *[2]int              `json:"block,omitempty"`
	Looks     []SequentialLookJSON `json:"looks"`
}

// SequentialLines reads JSON lines of SequentialRequest from r and writes
// one SequentialResponse line to w per request; blank lines are skipped.
// The first bad line stops it with an Invalid error naming the line and the
// field.
func SequentialLines(r io.Reader, w io.Writer) error {
	return eachLine(r, w, "stats sequential", sequentialLine)
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

func sequentialLine(line []byte) ([]byte, error) {
	var req SequentialRequest
	if err := strictDecode(line, &req); err != nil {
		return nil, err
	}
	if req.Direction == "" {
		req.Direction = Either
	}
	if err := req.Direction.validate(); err != nil {
		return nil, fmt.Errorf("direction: %w", err)
	}
	alpha := 0.05
	if req.Alpha != nil {
		alpha = *req.Alpha
		if !(alpha > 0 && alpha < 1) {
			return nil, fmt.Errorf("alpha: %v: want a number in (0, 1)", alpha)
		}
	}
	resp := SequentialResponse{Kind: req.Kind, Direction: req.Direction, Alpha: alpha}
	var results []SequentialResult
	var ns []float64
	switch req.Kind {
	case "value":
		if req.Ratio != nil {
			return nil, errors.New(`ratio: only for kind "count" (the null shift of a value is mu)`)
		}
		x, err := notNull("x", req.X)
		if err != nil {
			return nil, err
		}
		y, err := notNull("y", req.Y)
		if err != nil {
			return nil, err
		}
		looks, err := valueLooks(req.Looks, len(x), len(y))
		if err != nil {
			return nil, err
		}
		opt := ShiftOptions{Alpha: alpha, Direction: req.Direction, Log: req.Log}
		if req.Mu != nil {
			opt.Mu = *req.Mu
		}
		if req.Block != nil {
			if req.Block[0] < 1 || req.Block[1] < 1 || req.Block[0]*req.Block[1] > maxBlockCells {
				return nil, fmt.Errorf("block: [%d, %d]: want a, b >= 1 and a·b <= %d", req.Block[0], req.Block[1], maxBlockCells)
			}
			opt.Block = *req.Block
		}
		res, block, err := SequentialShift(x, y, looks, opt)
		if err != nil {
			return nil, err
		}
		results, resp.Effect = res, "shift"
		if req.Log {
			resp.Effect = "ratio"
		}
		if block != [2]int{} {
			resp.Block = &block
		}
		for _, l := range looks {
			ns = append(ns, float64(l.NX+l.NY))
		}
	case "count":
		switch {
		case req.X != nil || req.Y != nil:
			return nil, errors.New(`x, y: only for kind "value" (counts go in looks)`)
		case req.Mu != nil:
			return nil, errors.New(`mu: only for kind "value" (the null rate ratio is ratio)`)
		case req.Block != nil:
			return nil, errors.New(`block: only for kind "value"`)
		case req.Log:
			return nil, errors.New(`log: only for kind "value"`)
		case len(req.Looks) == 0:
			return nil, errors.New("looks: want at least one look of counts")
		}
		opt := RateOptions{Alpha: alpha, Direction: req.Direction}
		if req.Ratio != nil {
			if !(*req.Ratio > 0) {
				return nil, fmt.Errorf("ratio: %v: want a number > 0", *req.Ratio)
			}
			opt.Ratio = *req.Ratio
		}
		looks := make([]RateCounts, len(req.Looks))
		for i, raw := range req.Looks {
			var c struct {
				XEvents *int64   `json:"x_events"`
				XTotal  *float64 `json:"x_total"`
				YEvents *int64   `json:"y_events"`
				YTotal  *float64 `json:"y_total"`
			}
			if err := strictDecode(raw, &c); err != nil {
				return nil, fmt.Errorf("looks[%d]: %w", i, err)
			}
			for _, f := range []struct {
				name string
				ok   bool
			}{{"x_events", c.XEvents != nil}, {"x_total", c.XTotal != nil}, {"y_events", c.YEvents != nil}, {"y_total", c.YTotal != nil}} {
				if !f.ok {
					return nil, fmt.Errorf("looks[%d].%s: missing", i, f.name)
				}
			}
			looks[i] = RateCounts{XEvents: *c.XEvents, XTotal: *c.XTotal, YEvents: *c.YEvents, YTotal: *c.YTotal}
		}
		res, err := SequentialRate(looks, opt)
		if err != nil {
			return nil, err
		}
		results, resp.Effect = res, "rate_ratio"
		for _, l := range looks {
			ns = append(ns, l.XTotal+l.YTotal)
		}
	case "":
		return nil, errors.New(`kind: missing: want "value" or "count"`)
	default:
		return nil, fmt.Errorf(`kind: %q: want "value" or "count"`, req.Kind)
	}
	resp.Looks = make([]SequentialLookJSON, len(results))
	for i, r := range results {
		resp.Looks[i] = SequentialLookJSON{
			N: ns[i], PValue: r.PValue, EValue: r.EValue,
			CS:     [2]*float64{finiteOrNil(r.CSLow), finiteOrNil(r.CSHigh)},
			Reject: r.Reject,
		}
	}
	return json.Marshal(resp)
}

// valueLooks parses the looks of a value request: numbers (both samples) or
// {"nx","ny"} objects, within the samples and never shrinking.
func valueLooks(raw []json.RawMessage, nx, ny int) ([]ShiftLook, error) {
	if len(raw) == 0 {
		return []ShiftLook{{NX: nx, NY: ny}}, nil
	}
	looks := make([]ShiftLook, len(raw))
	for i, r := range raw {
		var l ShiftLook
		if t := bytes.TrimSpace(r); len(t) > 0 && t[0] == '{' {
			var o struct {
				NX *int `json:"nx"`
				NY *int `json:"ny"`
			}
			if err := strictDecode(r, &o); err != nil {
				return nil, fmt.Errorf("looks[%d]: %w", i, err)
			}
			if o.NX == nil || o.NY == nil {
				return nil, fmt.Errorf(`looks[%d]: want both "nx" and "ny"`, i)
			}
			l = ShiftLook{NX: *o.NX, NY: *o.NY}
		} else {
			var n float64
			if err := json.Unmarshal(r, &n); err != nil || n != math.Trunc(n) || math.Abs(n) > 1<<40 {
				return nil, fmt.Errorf("looks[%d]: %s: want a whole number or {\"nx\":..,\"ny\":..}", i, r)
			}
			l = ShiftLook{NX: int(n), NY: int(n)}
		}
		switch {
		case l.NX < 0 || l.NY < 0:
			return nil, fmt.Errorf("looks[%d]: %d and %d observations: want counts >= 0", i, l.NX, l.NY)
		case l.NX > nx:
			return nil, fmt.Errorf("looks[%d]: %d canary observations, but x has %d", i, l.NX, nx)
		case l.NY > ny:
			return nil, fmt.Errorf("looks[%d]: %d baseline observations, but y has %d", i, l.NY, ny)
		case i > 0 && (l.NX < looks[i-1].NX || l.NY < looks[i-1].NY):
			return nil, fmt.Errorf("looks[%d]: %d and %d observations, fewer than looks[%d]", i, l.NX, l.NY, i-1)
		}
		looks[i] = l
	}
	return looks, nil
}
