package grafanatest

import (
	"net/url"
	"testing"
)

// FuzzCheck feeds arbitrary bodies and query strings to the request checker:
// it must answer with problems, never panic or hang.
func FuzzCheck(f *testing.F) {
	path, err := defaultSpecPath()
	if err != nil {
		f.Fatal(err)
	}
	sp, err := loadSpec(path)
	if err != nil {
		f.Skipf("Grafana's OpenAPI description: %v", err)
	}
	for _, seed := range []struct{ method, path, query, body string }{
		{"POST", "/annotations", "", `{"text":"x","time":1,"tags":["a"]}`},
		{"GET", "/annotations", "tags=a&tags=b&matchAny=true&limit=5", ""},
		{"POST", "/dashboards/db", "", `{"dashboard":{"title":"t","panels":[{}]},"overwrite":true}`},
		{"PATCH", "/annotations/1", "", `{"timeEnd":1e99}`},
		{"GET", "/search", "dashboardIds=[1]&type=dash-db", ""},
	} {
		f.Add(seed.method, seed.path, seed.query, seed.body)
	}
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		op, _ := sp.find(method, path)
		if op == nil {
			return
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		sp.check(op, q, []byte(body))
	})
}
