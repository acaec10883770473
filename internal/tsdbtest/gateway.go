package tsdbtest

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// Gateway puts a reverse proxy in front of a store at storeURL that
// answers 401 unless every header of want arrives with its value, as the
// gateway in front of Mimir, Cortex or a VictoriaMetrics cluster checks a
// bearer token and a tenant. With tls it serves HTTPS with a certificate
// of a CA of its own, written as PEM to caFile; the system roots do not
// trust it. It stops in tb's cleanup.
func Gateway(tb testing.TB, storeURL string, want http.Header, tls bool) (gatewayURL, caFile string) {
	tb.Helper()
	target, err := url.Parse(storeURL)
	if err != nil {
		tb.Fatalf("tsdbtest: gateway: %v", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, values := range want {
			if r.Header.Get(name) != values[0] {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"status":"error","errorType":"unauthorized","error":"missing or wrong ` + http.CanonicalHeaderKey(name) + `"}`))
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})
	if !tls {
		srv := httptest.NewServer(h)
		tb.Cleanup(srv.Close)
		return srv.URL, ""
	}
	srv := httptest.NewUnstartedServer(h)
	// A client that does not trust the CA is what tests try: no log of it.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	caFile = filepath.Join(tb.TempDir(), "gateway-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, block, 0o600); err != nil {
		tb.Fatalf("tsdbtest: gateway: %v", err)
	}
	return srv.URL, caFile
}
