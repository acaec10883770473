package stats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/gohere/gohere"
)

// MannWhitneyRequest is one input line of MannWhitneyLines. Missing fields
// take R's defaults; null entries in x or y are rejected (R would drop
// them silently).
type MannWhitneyRequest struct {
	X           []*float64  `json:"x"`
	Y           []*float64  `json:"y"`
	Alternative Alternative `json:"alternative,omitempty"`
	ConfLevel   *float64    `json:"conf_level,omitempty"`
	Correct     *bool       `json:"correct,omitempty"`
	Exact       *bool       `json:"exact,omitempty"`
	Mu          float64     `json:"mu,omitempty"`
}

// MannWhitneyResponse is one output line of MannWhitneyLines. An infinite
// bound of a one-sided interval is null, since JSON has no Inf.
type MannWhitneyResponse struct {
	W         float64     `json:"w"`
	PValue    float64     `json:"p_value"`
	Estimate  float64     `json:"estimate"`
	ConfInt   [2]*float64 `json:"conf_int"`
	ConfLevel float64     `json:"conf_level"`
	Method    string      `json:"method"`
}

// MannWhitneyLines reads JSON lines of MannWhitneyRequest from r and writes
// one MannWhitneyResponse line to w per request; blank lines are skipped.
// The first bad line stops it with an Invalid error naming the line.
func MannWhitneyLines(r io.Reader, w io.Writer) error {
	return eachLine(r, w, "stats mannwhitney", mannWhitneyLine)
}

// eachLine answers every non-blank JSON line of r with do's line on w; the
// first line do refuses stops it with an Invalid error naming cmd and the
// line number.
func eachLine(r io.Reader, w io.Writer, cmd string, do func(line []byte) ([]byte, error)) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			out, perr := do(line)
			if perr != nil {
				return gohere.Errorf(gohere.Invalid, "%s: line %d: %v", cmd, n, perr)
			}
			if _, werr := w.Write(append(out, '\n')); werr != nil {
				return fmt.Errorf("write result of line %d: %w", n, werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", n, err)
		}
	}
}

func mannWhitneyLine(line []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var req MannWhitneyRequest
	if err := dec.Decode(&req); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	x, err := notNull("x", req.X)
	if err != nil {
		return nil, err
	}
	y, err := notNull("y", req.Y)
	if err != nil {
		return nil, err
	}
	opt := DefaultMannWhitney()
	if req.Alternative != "" {
		opt.Alternative = req.Alternative
	}
	if req.ConfLevel != nil {
		opt.ConfLevel = *req.ConfLevel
		if opt.ConfLevel == 0 { // not "use the default": R rejects it
			return nil, errors.New("conf_level 0: want a number in (0, 1)")
		}
	}
	if req.Correct != nil {
		opt.Correct = *req.Correct
	}
	opt.Exact, opt.Mu = req.Exact, req.Mu
	res, err := MannWhitney(x, y, opt)
	if err != nil {
		return nil, err
	}
	return json.Marshal(MannWhitneyResponse{
		W: res.W, PValue: res.PValue, Estimate: res.Estimate,
		ConfInt:   [2]*float64{finiteOrNil(res.CILow), finiteOrNil(res.CIHigh)},
		ConfLevel: res.ConfLevel, Method: res.Method,
	})
}

func notNull(name string, v []*float64) ([]float64, error) {
	out := make([]float64, len(v))
	for i, p := range v {
		if p == nil {
			return nil, fmt.Errorf("%s[%d] is null: remove missing values first", name, i)
		}
		out[i] = *p
	}
	return out, nil
}

func finiteOrNil(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}
