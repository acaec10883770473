package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
)

// genericEvent is the JSON of Generic. Structs, not maps: the key order is
// part of what receivers and golden files see.
type genericEvent struct {
	ID       string           `json:"id"`
	Event    Kind             `json:"event"`
	At       time.Time        `json:"at"`
	Deploy   gohere.Deploy    `json:"deploy"`
	Tags     []string         `json:"tags,omitempty"` // dark, config: the deploy's fast lane
	Analysis *genericAnalysis `json:"analysis,omitempty"`
	Decision *gohere.Decision `json:"decision,omitempty"`
	Status   gohere.Status    `json:"status,omitempty"`
	Failing  []genericFailing `json:"failing,omitempty"`
	Alert    *gohere.Alert    `json:"alert,omitempty"`
	Links    genericLinks     `json:"links"`
}

type genericAnalysis struct {
	ID             string         `json:"id"`
	State          string         `json:"state"`
	Verdict        gohere.Verdict `json:"verdict,omitempty"`
	Score          float64        `json:"score"`
	Reason         string         `json:"reason,omitempty"`
	Seq            int            `json:"seq,omitempty"`
	AwaitsDecision bool           `json:"awaits_decision"`
}

type genericFailing struct {
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Critical bool     `json:"critical"`
	Shift    *float64 `json:"shift,omitempty"`
	Reason   string   `json:"reason,omitempty"`
}

type genericLinks struct {
	GoHere string `json:"go_here,omitempty"`
	Report string `json:"report,omitempty"`
}

// Generic renders e as plain JSON for any other receiver:
// {"id","event","at","deploy","tags","analysis","decision","status","failing","links"},
// the parts an event does not have left out. Text is as stored, not
// HTML-escaped: receivers escape for where they show it.
func Generic(e Event) ([]byte, error) {
	g := genericEvent{
		ID:       e.ID,
		Event:    e.Kind,
		At:       e.At,
		Deploy:   e.Deploy,
		Tags:     annotate.LaneTags(e.Deploy),
		Decision: e.Decision,
		Status:   e.Status,
		Alert:    e.Alert,
		Links:    genericLinks{GoHere: e.Links.GoHere, Report: e.Links.Report},
	}
	if a := e.Analysis; a != nil {
		g.Analysis = &genericAnalysis{
			ID: a.ID, State: a.State, Verdict: a.Verdict, Score: a.Score,
			Reason: a.Reason, Seq: a.Seq, AwaitsDecision: a.AwaitsDecision,
		}
	}
	for _, f := range e.Failing {
		g.Failing = append(g.Failing, genericFailing(f))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g); err != nil {
		return nil, fmt.Errorf("event %s: encode: %w", e.ID, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
