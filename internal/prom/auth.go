package prom

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/gohere/gohere"
)

// maxTokenBytes bounds a bearer token file; service-account JWTs are a few
// KiB.
const maxTokenBytes = 64 << 10

// readToken reads a bearer token file: one line, surrounding whitespace
// dropped. Errors name the file, never its content.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", gohere.Errorf(gohere.Invalid, "prometheus bearer token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", gohere.Errorf(gohere.Invalid, "prometheus bearer token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case len(b) > maxTokenBytes:
		return "", gohere.Errorf(gohere.Invalid, "prometheus bearer token file %s: larger than %d KiB, not a token", path, maxTokenBytes>>10)
	case tok == "":
		return "", gohere.Errorf(gohere.Invalid, "prometheus bearer token file %s is empty", path)
	case strings.ContainsFunc(tok, isControl):
		return "", gohere.Errorf(gohere.Invalid, "prometheus bearer token file %s: holds several lines or control characters; want the token alone", path)
	}
	return tok, nil
}

// ParseHeaders reads "Name: value" lines (a flag given several times) into
// headers for Options.Headers. Errors name the header, never its value,
// which may be a key.
func ParseHeaders(lines []string) (http.Header, error) {
	h := http.Header{}
	for i, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, gohere.Errorf(gohere.Invalid, "prometheus header %d: want \"Name: value\", such as \"X-Scope-OrgID: team-a\"", i+1)
		}
		h.Add(name, value)
	}
	if err := checkHeaders(h); err != nil {
		return nil, err
	}
	return h, nil
}

// refused are the headers a client must not set by hand: hop-by-hop ones
// (RFC 9110 §7.6.1), those the transport writes itself, and those New sets
// from other options.
var refused = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Host", "Content-Length", "Content-Type", "Authorization",
}

// checkHeaders validates Options.Headers.
func checkHeaders(h http.Header) error {
	for name, values := range h {
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !isToken(name):
			return gohere.Errorf(gohere.Invalid, "prometheus header %q: not a valid header name", name)
		case canon == "Authorization":
			return gohere.Errorf(gohere.Invalid, "prometheus header Authorization: use a bearer token file or user:pass@ in the URL")
		case slices.Contains(refused, canon):
			return gohere.Errorf(gohere.Invalid, "prometheus header %s: set by the HTTP client itself, not by hand", canon)
		}
		for _, v := range values {
			if strings.ContainsFunc(v, func(r rune) bool { return r != '\t' && isControl(r) }) {
				return gohere.Errorf(gohere.Invalid, "prometheus header %s: its value holds control characters", canon)
			}
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isToken reports an RFC 9110 token: the syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		ok := r < 0x7f && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			strings.ContainsRune("!#$%&'*+-.^_`|~", r))
		if !ok {
			return false
		}
	}
	return true
}

// withCA returns base (an *http.Transport) trusting the certificates of
// the PEM file caFile instead of the system roots.
func withCA(base http.RoundTripper, caFile string) (http.RoundTripper, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus CA file %s: no PEM certificate in it", caFile)
	}
	t, ok := base.(*http.Transport)
	if !ok {
		return nil, gohere.Errorf(gohere.Invalid, "prometheus CA file %s: the HTTP client's transport is a %T, not an *http.Transport", caFile, base)
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}
