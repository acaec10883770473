package prom

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gohere/gohere"
)

func TestDecode(t *testing.T) {
	at := func(ms int64) time.Time { return time.UnixMilli(ms) }
	tests := []struct {
		name   string
		status int
		body   string
		want   []Series
	}{
		{"matrix with special values", 200,
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a"},"values":[[1700000000,"1"],[1700000015.5,"NaN"],[1700000031,"+Inf"],[1700000046.001,"-Inf"],[1700000061,"1e-3"]]}]}}`,
			[]Series{{Labels: map[string]string{"__name__": "up", "job": "a"}, Points: []Point{
				{at(1700000000000), 1}, {at(1700000015500), math.NaN()}, {at(1700000031000), math.Inf(1)},
				{at(1700000046001), math.Inf(-1)}, {at(1700000061000), 0.001},
			}}}},
		{"vector", 200,
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.123,"42"]},{"metric":{"a":"b"},"value":[1700000000.123,"-0.5"]}]}}`,
			[]Series{
				{Labels: map[string]string{}, Points: []Point{{at(1700000000123), 42}}},
				{Labels: map[string]string{"a": "b"}, Points: []Point{{at(1700000000123), -0.5}}},
			}},
		{"scalar", 200,
			`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}`,
			[]Series{{Labels: map[string]string{}, Points: []Point{{at(1700000000000), 2}}}}},
		{"spaces and escapes", 200,
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[ [ 1.5 , "2" ] , [2,"\u0031\u0032"] ]}]}}`,
			[]Series{{Labels: map[string]string{"a": "b"}, Points: []Point{{at(1500), 2}, {at(2000), 12}}}}},
		{"empty matrix", 200,
			`{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			[]Series{}},
		{"warnings are ignored", 200,
			`{"status":"success","warnings":["x"],"data":{"resultType":"vector","result":[]}}`,
			[]Series{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.status, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateNaNs(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		kind   gohere.Kind
	}{
		{"bad_data", 400, `{"status":"error","errorType":"bad_data","error":"parse error at char 5"}`, gohere.Invalid},
		{"execution", 422, `{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}`, gohere.Invalid},
		{"victoriametrics 422", 422, `{"status":"error","errorType":"422","error":"too many points"}`, gohere.Invalid},
		{"timeout", 503, `{"status":"error","errorType":"timeout","error":"query timed out"}`, gohere.Unavailable},
		{"unavailable", 503, `{"status":"error","errorType":"unavailable","error":"not ready"}`, gohere.Unavailable},
		{"internal", 500, `{"status":"error","errorType":"internal","error":"boom"}`, gohere.Unavailable},
		{"error status with 200", 200, `{"status":"error","errorType":"bad_data","error":"x"}`, gohere.Invalid},
		{"html 502 from a proxy", 502, `<html><body>Bad Gateway</body></html>`, gohere.Unavailable},
		{"503 empty", 503, ``, gohere.Unavailable},
		{"429", 429, `slow down`, gohere.Unavailable},
		{"401", 401, `Unauthorized`, gohere.Unauthorized},
		{"403 json", 403, `{"status":"error","error":"forbidden"}`, gohere.Unauthorized},
		{"404 wrong path", 404, `404 page not found`, gohere.Invalid},
		{"200 html", 200, `<html>grafana login</html>`, gohere.Invalid},
		{"200 truncated", 200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]`, gohere.Invalid},
		{"no data", 200, `{"status":"success"}`, gohere.Invalid},
		{"string result", 200, `{"status":"success","data":{"resultType":"string","result":[1,"a"]}}`, gohere.Invalid},
		{"unknown result type", 200, `{"status":"success","data":{"resultType":"streams","result":[]}}`, gohere.Invalid},
		{"value not a number", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}`, gohere.Invalid},
		{"value unquoted", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}`, gohere.Invalid},
		{"time quoted", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":["1","2"]}]}}`, gohere.Invalid},
		{"time out of range", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1e300,"2"]}]}}`, gohere.Invalid},
		{"three strings", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2","3"]}]}}`, gohere.Invalid},
		{"comma in value", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2,3"]}]}}`, gohere.Invalid},
		{"three elements", 200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2",3]]}]}}`, gohere.Invalid},
		{"series without samples", 200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"}}]}}`, gohere.Invalid},
		{"native histogram", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1"}]}]}}`, gohere.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.status, []byte(tt.body))
			if err == nil {
				t.Fatalf("decode = %v, want an error", got)
			}
			if k := gohere.KindOf(err); k != tt.kind {
				t.Errorf("kind = %v, want %v (%v)", k, tt.kind, err)
			}
			if got, want := Retryable(err), tt.kind == gohere.Unavailable; got != want {
				t.Errorf("Retryable = %v, want %v", got, want)
			}
		})
	}
}

// FuzzDecode: any answer decodes to series or to a classified error, never
// a panic, and successful results are well formed.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2.5,"NaN"]]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"-Inf"]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`<html></html>`,
	} {
		f.Add(200, []byte(s))
	}
	f.Add(503, []byte(`{"status":"error","errorType":"unavailable"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		series, err := decode(status, body)
		if err != nil {
			if series != nil {
				t.Fatal("series and error both returned")
			}
			if k := gohere.KindOf(err); k == gohere.Internal {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if status/100 != 2 {
			t.Fatalf("status %d decoded as success", status)
		}
		for _, s := range series {
			if s.Labels == nil || len(s.Points) == 0 {
				t.Fatalf("malformed series %+v", s)
			}
		}
	})
}

// BenchmarkDecode: decoding one 360-point series of a range query.
func BenchmarkDecode(b *testing.B) {
	var body []byte
	body = append(body, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x","version":"v2"},"values":[`...)
	for i := range 360 {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, fmt.Sprintf(`[%d.5,"%g"]`, 1700000000+10*i, 0.1234567*float64(i))...)
	}
	body = append(body, `]}]}}`...)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decode(200, body); err != nil {
			b.Fatal(err)
		}
	}
}
