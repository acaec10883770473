package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestJSONErrorsSpeakJSON: a body that does not decode is a 400 that names
// the field, the JSON it wants and what it got, or the byte where the JSON
// breaks, in the request's terms, never Go's (issue 13, item 11).
func TestJSONErrorsSpeakJSON(t *testing.T) {
	e := newEnv(t, nil)
	running := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	const create, ok = "/api/v1/deploys", `"service": "checkout", "env": "prod", "version": "v2"`
	finish := "/api/v1/deploys/" + running.ID + "/finish"
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"time a number", create, `{` + ok + `, "started_at": 1767225600}`,
			"field started_at: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got a number"},
		{"time an array", create, `{` + ok + `, "started_at": []}`, "field started_at: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got an array"},
		{"time not a time", create, `{` + ok + `, "started_at": "yesterday"}`, `field started_at: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got "yesterday"`},
		{"time out of range", create, `{` + ok + `, "STARTED_AT": "2026-13-01T00:00:00Z"}`, `field started_at: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got "2026-13-01T00:00:00Z"`},
		{"finish time", finish, `{"status": "failed", "finished_at": {"at": 1}}`, "field finished_at: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got an object"},
		{"string a list", create, `{` + ok + `, "author": ["alice", "bob"]}`, "field author: want a string, got an array"},
		{"list a string", create, `{` + ok + `, "changes": "abc"}`, "field changes: want an array, got a string"},
		{"list of numbers", create, `{` + ok + `, "changes": [1]}`, "field changes: want an object, got a number"},
		{"nested field", create, `{` + ok + `, "changes": [{"commit": true}]}`, "field changes.commit: want a string, got true or false"},
		{"not an object", create, `"checkout"`, "want a JSON object, got a string"},
		// Bytes count from 1: the 12th is the second quote.
		{"syntax", create, `{"service" "checkout"}`, `malformed JSON at byte 12: invalid character '"' after object key`},
		{"syntax after the object", create, `{` + ok + `} x`, "malformed JSON at byte 57: invalid character 'x' looking for beginning of value"},
		{"cut short", create, `{"service": "checkout", `, "malformed JSON at byte 24: unexpected end of input"},
		{"unknown field", finish, `{"status": "failed", "statsu": "x"}`, `malformed JSON: unknown field "statsu"`},
		{"decision", "/api/v1/analyses/a1/decision", `{"decision": 1}`, "field decision: want a string, got a number"},
		{"flagger", "/hooks/flagger/gate", `{"name": "checkout", "metadata": {"token": 5}}`, "field metadata: want a string, got a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, req{method: "POST", path: tc.path, token: adminSecret, body: tc.body})
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", w.Code, w.Body)
			}
			msg := errorBody(t, w)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q\nwant it to say %q", msg, tc.want)
			}
			for _, goTalk := range []string{"Go ", "UnmarshalJSON", "interface {}", "json:", "time.Time", "gohere.", "server.", "parsing time", "[]"} {
				if strings.Contains(msg, goTalk) {
					t.Errorf("error %q speaks Go (%q)", msg, goTalk)
				}
			}
		})
	}
}
