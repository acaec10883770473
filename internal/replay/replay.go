package replay

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
)

//go:embed recordings
var files embed.FS

// Recording is what a store answered to the queries of one fixture
// scenario's analysis, every time relative to the scenario's start.
type Recording struct {
	scenario   string
	start, end time.Duration // the analysis window
	answers    map[key][]series
}

// key identifies one query: its text, window and step.
type key struct {
	query            string
	start, end, step time.Duration
}

// Window is the analysis window that was recorded, for the scenario
// starting at start.
func (r *Recording) Window(start time.Time) (time.Time, time.Time) {
	return start.Add(r.start), start.Add(r.end)
}

// Load reads the embedded recording of a fixture scenario. An unknown name
// is gohere.NotFound.
func Load(name string) (*Recording, error) {
	b, err := files.ReadFile("recordings/" + name + ".json")
	if err != nil {
		return nil, gohere.Errorf(gohere.NotFound, "replay: no recording of scenario %q", name)
	}
	r, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("replay: recording of %q: %w", name, err)
	}
	if r.scenario != name {
		return nil, fmt.Errorf("replay: recordings/%s.json holds scenario %q", name, r.scenario)
	}
	return r, nil
}

// Placement puts a recording's scenario at a start time.
type Placement struct {
	Recording *Recording
	Start     time.Time
}

// Source answers range queries from placed recordings (an analysis.Source).
// It is safe for concurrent use.
type Source struct {
	placed []Placement
}

// New returns a source of the placed recordings. Placements of one
// scenario's queries should not overlap in time, or a query could be
// answered by both; such a query is an error.
func New(ps ...Placement) *Source {
	return &Source{placed: ps}
}

// QueryRange answers a recorded query, shifted to its placement's start,
// without the points after now: a store has no samples of the future,
// even where a recording placed lately reaches there. A query without a
// recording, or with several, is gohere.Invalid.
func (s *Source) QueryRange(_ context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
	var (
		found []series
		at    time.Time
		n     int
	)
	for _, p := range s.placed {
		k := key{query: query, start: start.Sub(p.Start), end: end.Sub(p.Start), step: step}
		if got, ok := p.Recording.answers[k]; ok {
			found, at, n = got, p.Start, n+1
		}
	}
	window := fmt.Sprintf("%q over %s to %s, step %s", query, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), step)
	switch n {
	case 0:
		return nil, gohere.Errorf(gohere.Invalid, "replay: no recording of %s", window)
	case 1:
	default:
		return nil, gohere.Errorf(gohere.Invalid, "replay: %d placed recordings answer %s; place them further apart", n, window)
	}
	now := time.Now()
	out := make([]prom.Series, 0, len(found))
	for _, f := range found {
		pts := make([]prom.Point, 0, len(f.T))
		for j, t := range f.T {
			if at := at.Add(time.Duration(t) * time.Millisecond); !at.After(now) {
				pts = append(pts, prom.Point{T: at, V: float64(f.V[j])})
			}
		}
		if len(pts) > 0 {
			out = append(out, prom.Series{Labels: maps.Clone(f.Labels), Points: pts})
		}
	}
	return out, nil
}

// file is a recording as stored (JSON, one answer a line).
type file struct {
	Scenario string   `json:"scenario"`
	Start    duration `json:"start"` // the analysis window
	End      duration `json:"end"`
	Answers  []answer `json:"answers"`
}

type answer struct {
	Query  string   `json:"query"`
	Start  duration `json:"start"`
	End    duration `json:"end"`
	Step   duration `json:"step"`
	Series []series `json:"series"`
}

// series has its timestamps in milliseconds from the scenario's start.
type series struct {
	Labels map[string]string `json:"labels"`
	T      []int64           `json:"t"`
	V      []value           `json:"v"`
}

func decode(b []byte) (*Recording, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	r := &Recording{scenario: f.Scenario, start: time.Duration(f.Start), end: time.Duration(f.End), answers: map[key][]series{}}
	for i, a := range f.Answers {
		for _, s := range a.Series {
			if len(s.T) != len(s.V) {
				return nil, fmt.Errorf("answer %d (%q): %d timestamps, %d values", i, a.Query, len(s.T), len(s.V))
			}
		}
		r.answers[key{query: a.Query, start: time.Duration(a.Start), end: time.Duration(a.End), step: time.Duration(a.Step)}] = a.Series
	}
	return r, nil
}

// duration is a time.Duration written as text ("2m0s").
type duration time.Duration

func (d duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = duration(v)
	return err
}

// value is a sample value: a JSON number, or "NaN", "+Inf", "-Inf" as
// Prometheus writes them (JSON has no numbers for them).
type value float64

func (v value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte(`"` + strconv.FormatFloat(f, 'g', -1, 64) + `"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

func (v *value) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
		if s != "NaN" && s != "+Inf" && s != "-Inf" {
			return fmt.Errorf("value %q: want a number, NaN, +Inf or -Inf", s)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("value %s: %w", b, err)
	}
	*v = value(f)
	return nil
}
