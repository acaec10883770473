package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestJSONErrorFindsNestedTimes: a time that fails anywhere in a body, in
// a list, a map or an embedded struct, is named by its path.
func TestJSONErrorFindsNestedTimes(t *testing.T) {
	type inner struct {
		At time.Time `json:"at"`
	}
	type Embedded struct {
		Since *time.Time `json:"since"`
	}
	type body struct {
		Embedded
		Name   string           `json:"name"`
		Alerts []inner          `json:"alerts"`
		ByKey  map[string]inner `json:"by_key"`
	}
	for _, tc := range []struct{ body, want string }{
		{`{"alerts": [{"at": "2026-11-23T08:00:00Z"}, {"at": 5}]}`, "field alerts[1].at: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got a number"},
		{`{"by_key": {"x": {"AT": "soon"}}}`, `field by_key.x.at: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got "soon"`},
		{`{"since": true}`, "field since: want an RFC 3339 time such as 2026-11-23T08:00:00Z, got true or false"},
		{`{"since": "` + strings.Repeat("x", 100) + `"}`, `got "` + strings.Repeat("x", 64) + `…"`},
	} {
		var v body
		err := json.Unmarshal([]byte(tc.body), &v)
		if err == nil {
			t.Fatalf("%s decoded", tc.body)
		}
		if got := jsonError(err, []byte(tc.body), &v).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
}
