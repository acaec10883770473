package compare

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/goccy/go-yaml"

	"github.com/gohere/gohere"
)

// Limits of a compare config: real ones are a few signals in a few KiB, and
// every signal is two queries per view of the page.
const (
	MaxSignalsBytes = 1 << 20
	MaxSignals      = 50
)

// SignalSet is the compare section of gohere's config, validated: the
// signals the built-in page draws and the .Vars their templates see. The
// zero value means DefaultSignals with the default label names.
type SignalSet struct {
	Signals []Signal
	Vars    map[string]string
}

// signalFile is the compare config as written:
//
//	version_label: app_version   # label names, for the default signals only
//	vars: {namespace: shop}      # .Vars.namespace in the templates
//	signals:                     # replaces the defaults
//	  - name: request_rate
//	    title: Request rate      # default: the name
//	    unit: reqps              # a Grafana unit id
//	    group: red               # red (default) or saturation
//	    query: sum(rate(http_requests_total{app="{{.Service}}",version="{{.Version}}"}[{{.Window}}]))
type signalFile struct {
	Labels  `yaml:",inline"`
	Vars    map[string]string `yaml:"vars"`
	Signals []SignalSpec      `yaml:"signals"`
}

// LoadSignalsFile reads a compare config file; see LoadSignals.
func LoadSignalsFile(path string) (SignalSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return SignalSet{}, gohere.Errorf(gohere.Invalid, "compare config %s: %w", path, err)
	}
	defer f.Close()
	set, err := LoadSignals(f)
	if err != nil {
		return SignalSet{}, gohere.Errorf(gohere.Invalid, "compare config %s: %w", path, err)
	}
	return set, nil
}

// LoadSignals reads a compare config (YAML, or the same as JSON), decoded
// strictly so that an unknown field is an error with its line. Without
// signals it gives DefaultSignals for the configured label names; with
// signals, every template is parsed and tried against the vars, so that a
// typo fails here and not on the page. The error joins every problem and is
// of kind gohere.Invalid.
func LoadSignals(r io.Reader) (SignalSet, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSignalsBytes+1))
	if err != nil {
		return SignalSet{}, fmt.Errorf("read compare config: %w", err)
	}
	if len(data) > MaxSignalsBytes {
		return SignalSet{}, gohere.Errorf(gohere.Invalid, "compare config is larger than %d bytes", MaxSignalsBytes)
	}
	var f signalFile
	if len(bytes.TrimSpace(data)) > 0 {
		if f, err = decodeSignalFile(data); err != nil {
			return SignalSet{}, err
		}
	}
	var errs []error
	for k := range f.Vars {
		if k == "" {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "vars: a variable needs a name"))
		}
	}
	if len(f.Signals) > MaxSignals {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "%d signals: at most %d", len(f.Signals), MaxSignals))
	}
	var signals []Signal
	if len(f.Signals) == 0 {
		signals, err = DefaultSignals(f.Labels)
	} else {
		if f.Labels != (Labels{}) {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "version_label, service_label and env_label apply to the default signals only: name the labels in your signals' queries"))
		}
		for i := range f.Signals {
			if f.Signals[i].Group == "" {
				f.Signals[i].Group = GroupRED
			}
		}
		signals, err = NewSignals(f.Signals, f.Vars)
	}
	if err := errors.Join(append(errs, err)...); err != nil {
		return SignalSet{}, err
	}
	return SignalSet{Signals: signals, Vars: f.Vars}, nil
}

// decodeSignalFile decodes strictly, after refusing an alias bomb (the
// decoder expands aliases without a cap). goccy/go-yaml v1.19.2 panics on
// some malformed input (see judge.decodeYAML), so a panic becomes an
// Invalid error.
func decodeSignalFile(data []byte) (f signalFile, err error) {
	defer func() {
		if recover() != nil {
			f, err = signalFile{}, gohere.Errorf(gohere.Invalid, "compare config is malformed: the YAML decoder gave up")
		}
	}()
	if err := gohere.CheckYAMLAliases(data); err != nil {
		return signalFile{}, err
	}
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		if ye, ok := errors.AsType[yaml.Error](err); ok {
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				return signalFile{}, gohere.Errorf(gohere.Invalid, "line %d, column %d: %s", tk.Position.Line, tk.Position.Column, ye.GetMessage())
			}
			return signalFile{}, gohere.Errorf(gohere.Invalid, "%s", ye.GetMessage())
		}
		return signalFile{}, gohere.Errorf(gohere.Invalid, "%v", err)
	}
	return f, nil
}
