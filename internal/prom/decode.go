package prom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gohere/gohere"
)

// Series is one result series. An instant vector or a scalar has one point.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample. V may be NaN or ±Inf.
type Point struct {
	T time.Time
	V float64
}

// response is the envelope of every API answer.
type response struct {
	Status    string `json:"status"`
	Data      *data  `json:"data"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

type data struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type rawSeries struct {
	Metric     map[string]string `json:"metric"`
	Values     []pair            `json:"values"`
	Value      *pair             `json:"value"`
	Histogram  json.RawMessage   `json:"histogram"`
	Histograms json.RawMessage   `json:"histograms"`
}

// pair is [<unix seconds as a number>, "<value as a string>"].
type pair Point

// maxSeconds bounds timestamps so that conversion to time.Time is exact.
const maxSeconds = 1 << 40

// UnmarshalJSON parses the pair by hand: it is the hot path of decoding
// (one call per point), and encoding/json has already checked that b is
// valid JSON.
func (p *pair) UnmarshalJSON(b []byte) error {
	s := bytes.TrimSpace(b)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return fmt.Errorf("sample %s: want [time, value]", b)
	}
	ts, val, ok := bytes.Cut(s[1:len(s)-1], []byte(","))
	ts, val = bytes.TrimSpace(ts), bytes.TrimSpace(val)
	if !ok || len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return fmt.Errorf("sample %s: want [time, \"value\"]", b)
	}
	sec, err := strconv.ParseFloat(string(ts), 64)
	if err != nil || math.Abs(sec) > maxSeconds {
		return fmt.Errorf("sample time %s: want unix seconds", ts)
	}
	text := string(val[1 : len(val)-1])
	if strings.ContainsAny(text, `"\`) {
		// An escape, or a third element ("1","2"): let encoding/json decide.
		if err := json.Unmarshal(val, &text); err != nil {
			return fmt.Errorf("sample %s: want [time, \"value\"]", b)
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return fmt.Errorf("sample value %q: not a number", text)
	}
	p.T = time.UnixMilli(int64(math.Round(sec * 1000)))
	p.V = v
	return nil
}

// decode turns an API answer into series, or into an error of the right
// kind: the HTTP status and the API's errorType together say whether the
// query is wrong (Invalid), the credentials are (Unauthorized), or the store
// is in trouble (Unavailable).
func decode(status int, body []byte) ([]Series, error) {
	var r response
	jsonErr := json.Unmarshal(body, &r)
	if status/100 != 2 || (jsonErr == nil && r.Status == "error") {
		return nil, apiError(status, r, jsonErr == nil, body)
	}
	if jsonErr != nil {
		return nil, gohere.Errorf(gohere.Invalid, "response is not a Prometheus API answer (%s): %w", snippet(body), jsonErr)
	}
	if r.Status != "success" || r.Data == nil {
		return nil, gohere.Errorf(gohere.Invalid, "response is not a Prometheus API answer: status %q", r.Status)
	}
	series, err := decodeResult(r.Data)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "%s result: %w", r.Data.ResultType, err)
	}
	return series, nil
}

func decodeResult(d *data) ([]Series, error) {
	switch d.ResultType {
	case "matrix", "vector":
		var raw []rawSeries
		if err := json.Unmarshal(d.Result, &raw); err != nil {
			return nil, err
		}
		out := make([]Series, 0, len(raw))
		for _, r := range raw {
			if r.Histogram != nil || r.Histograms != nil {
				return nil, fmt.Errorf("series %v: native histograms are not supported; query a classic histogram or a function of it", r.Metric)
			}
			s := Series{Labels: r.Metric, Points: make([]Point, 0, len(r.Values)+1)}
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			for _, p := range r.Values {
				s.Points = append(s.Points, Point(p))
			}
			if r.Value != nil {
				s.Points = append(s.Points, Point(*r.Value))
			}
			if len(s.Points) == 0 {
				return nil, fmt.Errorf("series %v: no samples", r.Metric)
			}
			out = append(out, s)
		}
		return out, nil
	case "scalar":
		var p pair
		if err := json.Unmarshal(d.Result, &p); err != nil {
			return nil, err
		}
		return []Series{{Labels: map[string]string{}, Points: []Point{Point(p)}}}, nil
	}
	return nil, fmt.Errorf("result type %q is not supported (want matrix, vector or scalar)", d.ResultType)
}

// apiError classifies a failed answer. A proxy in front of the store may
// answer with HTML, so the HTTP status decides when the body is not JSON.
func apiError(status int, r response, isJSON bool, body []byte) error {
	msg := r.Error
	if !isJSON || msg == "" {
		msg = snippet(body)
	}
	kind := gohere.Unavailable
	switch r.ErrorType {
	case "bad_data", "execution", "422":
		kind = gohere.Invalid
	case "timeout", "canceled", "unavailable", "internal", "503":
		kind = gohere.Unavailable
	default:
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			kind = gohere.Unauthorized
		case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status/100 == 5:
			kind = gohere.Unavailable
		case status/100 == 4:
			kind = gohere.Invalid // wrong path, method or parameters: retrying will not help
		}
	}
	if r.ErrorType != "" {
		return gohere.Errorf(kind, "%d %s: %s", status, r.ErrorType, msg)
	}
	return gohere.Errorf(kind, "%d %s: %s", status, http.StatusText(status), msg)
}

// snippet is the start of a body, for messages: enough to recognise an HTML
// error page or a truncated answer, never a whole response.
func snippet(body []byte) string {
	b := bytes.TrimSpace(body)
	if len(b) > 200 {
		return strconv.Quote(string(b[:200])) + "..."
	}
	return strconv.Quote(string(b))
}
