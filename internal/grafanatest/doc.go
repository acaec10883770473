// Package grafanatest is an in-process Grafana double for tests: an
// httptest.Server that behaves like Grafana for the endpoints gohere uses
// (annotations, folders, dashboards, search, health) and checks every request
// against Grafana's OpenAPI description (../shared/grafana/openapi3.json,
// found by walking up to go.mod). A request the description does not allow
// gets a 400 and fails the test.
//
//	g := grafanatest.New(t, grafanatest.Options{})
//	w, _ := annotate.NewGrafana(g.URL(), g.Token(), time.Second)
//	... g.Annotations(), g.FailNext(2, 503), g.LoseNextResponses(1), g.Hang(time.Minute)
//	... g.SlowWrites(200*time.Millisecond), g.FailWrites(0.2, 503): a loaded, flaky Grafana
//
// It is test support: only tests import it.
package grafanatest
