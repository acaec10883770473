package prom_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/tsdbtest"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuthAndTenancy: a bearer token read from a file, a tenant header and
// a private CA reach a real VictoriaMetrics through a proxy that checks
// them; without them the proxy refuses.
func TestAuthAndTenancy(t *testing.T) {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, []tsdbtest.Sample{{Labels: map[string]string{"__name__": "up", "job": "checkout"},
		Timestamps: []int64{t0.UnixMilli()}, Values: []float64{1}}})
	want := http.Header{"Authorization": {"Bearer s3cret-token"}, "X-Scope-Orgid": {"team-a"}}
	tokenFile := writeFile(t, "token", "s3cret-token\n")
	tenant, err := prom.ParseHeaders([]string{"X-Scope-OrgID: team-a"})
	if err != nil {
		t.Fatal(err)
	}

	for _, tls := range []bool{false, true} {
		proxyURL, caFile := tsdbtest.Gateway(t, vm.URL(), want, tls)
		name := map[bool]string{false: "http", true: "https with a private CA"}[tls]
		t.Run(name, func(t *testing.T) {
			query := func(opts prom.Options) error {
				opts.URL = proxyURL
				c, err := prom.New(opts)
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				got, err := c.Query(t.Context(), `up{job="checkout"}`, t0)
				if err == nil && (len(got) != 1 || got[0].Points[0].V != 1) {
					t.Errorf("got %v, want up = 1", got)
				}
				return err
			}
			if err := query(prom.Options{BearerTokenFile: tokenFile, Headers: tenant, CAFile: caFile}); err != nil {
				t.Fatalf("with token file, tenant and CA: %v", err)
			}
			for _, c := range []struct {
				name string
				opts prom.Options
			}{
				{"no tenant", prom.Options{BearerTokenFile: tokenFile, CAFile: caFile}},
				{"no token", prom.Options{Headers: tenant, CAFile: caFile}},
				{"another tenant", prom.Options{BearerTokenFile: tokenFile, Headers: http.Header{"X-Scope-OrgID": {"team-b"}}, CAFile: caFile}},
			} {
				err := query(c.opts)
				if gohere.KindOf(err) != gohere.Unauthorized || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("%s: %v, want Unauthorized without the token", c.name, err)
				}
			}
			if tls {
				// The system roots do not know the proxy's certificate.
				if err := query(prom.Options{BearerTokenFile: tokenFile, Headers: tenant}); err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Errorf("without the CA file: %v, want a certificate error", err)
				}
			}
		})
	}
}

func TestAuthOptionsRejected(t *testing.T) {
	token := writeFile(t, "token", "s3cret-token")
	for _, c := range []struct {
		name string
		opts prom.Options
		want string // in the error
	}{
		{"missing token file", prom.Options{BearerTokenFile: "/nonexistent/token"}, "/nonexistent/token"},
		{"empty token file", prom.Options{BearerTokenFile: writeFile(t, "empty", " \n")}, "is empty"},
		{"two lines", prom.Options{BearerTokenFile: writeFile(t, "two", "s3cret-token\ns3cret-other\n")}, "several lines"},
		{"token and token file", prom.Options{BearerToken: "s3cret-token", BearerTokenFile: token}, "exclusive"},
		{"token file and basic auth", prom.Options{BearerTokenFile: token, Username: "alice", Password: "s3cret-pw"}, "exclusive"},
		{"hop-by-hop header", prom.Options{Headers: http.Header{"Connection": {"close"}}}, "Connection"},
		{"host header", prom.Options{Headers: http.Header{"Host": {"other"}}}, "Host"},
		{"authorization header", prom.Options{Headers: http.Header{"Authorization": {"Bearer s3cret-token"}}}, "bearer token file"},
		{"bad header name", prom.Options{Headers: http.Header{"X Tenant": {"a"}}}, "not a valid header name"},
		{"control character in a value", prom.Options{Headers: http.Header{"X-Key": {"s3cret\r\nX-Evil: 1"}}}, "control characters"},
		{"missing CA file", prom.Options{CAFile: "/nonexistent/ca.pem"}, "/nonexistent/ca.pem"},
		{"CA file without PEM", prom.Options{CAFile: token}, "no PEM certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.URL = "https://mimir.example/prometheus"
			_, err := prom.New(c.opts)
			if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want Invalid naming %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	h, err := prom.ParseHeaders([]string{"X-Scope-OrgID: team-a", "AccountID:42", "X-Scope-OrgID: team-b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Values("X-Scope-OrgID"); len(got) != 2 || got[0] != "team-a" || h.Get("AccountID") != "42" {
		t.Errorf("headers %v", h)
	}
	for _, bad := range []string{"X-Scope-OrgID", "X-Key s3cret", ": team-a", "X-Scope-OrgID:", "Content-Length: 3", "Transfer-Encoding: chunked", "X-Key: s3cret\x00"} {
		if _, err := prom.ParseHeaders([]string{bad}); gohere.KindOf(err) != gohere.Invalid || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseHeaders(%q) = %v, want Invalid without the value", bad, err)
		}
	}
}

// FuzzParseHeaders: any header line is accepted as a valid HTTP header or
// refused with an error that does not repeat its value (which may be a key).
func FuzzParseHeaders(f *testing.F) {
	for _, l := range [][2]string{{"X-Scope-OrgID", "team-a"}, {"Authorization", "Bearer x"}, {"Host", "x"}, {"bad", ""}, {"", "v"}, {"X-A", "\r\nX-B: 1"}} {
		f.Add(l[0], l[1])
	}
	const secret = "s3cr3t-value"
	f.Fuzz(func(t *testing.T, name, value string) {
		line := name + ":" + secret + value
		h, err := prom.ParseHeaders([]string{line})
		if err != nil {
			if !strings.Contains(name, secret) && strings.Contains(err.Error(), secret) {
				t.Fatalf("%q: the error repeats the value: %v", line, err)
			}
			return
		}
		for name, values := range h {
			if !httpguts.ValidHeaderFieldName(name) {
				t.Fatalf("%q: invalid name %q accepted", line, name)
			}
			for _, v := range values {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("%q: invalid value %q accepted", line, v)
				}
			}
		}
	})
}
