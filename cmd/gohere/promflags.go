package main

import (
	"github.com/spf13/pflag"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
)

// promFlags are the metric-store flags of every command that queries one:
// auth, tenancy and TLS beside the command's own URL flag.
type promFlags struct {
	tokenFile string
	headers   []string
	caFile    string
}

func (f *promFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.tokenFile, "prometheus-bearer-token-file", "",
		"file holding the metric store's bearer token, read once at start")
	fl.StringArrayVar(&f.headers, "prometheus-header", nil,
		`header sent with every metric-store query, "Name: value", e.g. "X-Scope-OrgID: team-a" (repeatable)`)
	fl.StringVar(&f.caFile, "prometheus-ca-file", "",
		"PEM file of the CA certificates the metric store's TLS certificate must chain to (default: the system's)")
}

// options returns the prom options of the flags for the store at url;
// prom.New reads the token and CA files, so that a bad one stops the
// command at start, naming the file.
func (f *promFlags) options(url string) (prom.Options, error) {
	h, err := prom.ParseHeaders(f.headers)
	if err != nil {
		return prom.Options{}, gohere.Errorf(gohere.Invalid, "--prometheus-header: %w", err)
	}
	return prom.Options{URL: url, BearerTokenFile: f.tokenFile, Headers: h, CAFile: f.caFile}, nil
}
