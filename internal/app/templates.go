package app

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
)

// LoadCanaryTemplates reads the canary templates of dir: <service>.yaml
// for one service and default.yaml (server.DefaultTemplate) for every
// other, keyed by service name as server.Options.CanaryTemplates wants
// them. Each is checked as a canary config with analysis.Prepare against a
// stand-in deploy of its service, so that a broken template stops the
// server at start, naming the file and line, instead of failing deploys.
// The text is kept as written; the query templates are resolved later
// with each deploy's service, env and versions.
//
// Other files, directories and dot-files (a Kubernetes ConfigMap mount
// keeps ..data there) are skipped; symlinked files are followed. A .yaml
// whose name is no valid service name is an error, never a path. The
// directory is read once: restart to reload.
func LoadCanaryTemplates(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "--canary-templates: %w", err)
	}
	out := map[string][]byte{}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		service, isYAML := strings.CutSuffix(name, ".yaml")
		switch {
		case strings.HasPrefix(name, "."):
			continue
		case strings.HasSuffix(name, ".yml"):
			errs = append(errs, gohere.Errorf(gohere.Invalid, "canary template %s: name it %s.yaml", filepath.Join(dir, name), strings.TrimSuffix(name, ".yml")))
			continue
		case !isYAML:
			continue
		}
		path := filepath.Join(dir, name)
		if err := validTemplateName(service); err != nil {
			errs = append(errs, fmt.Errorf("canary template %s: %w", path, err))
			continue
		}
		config, err := readTemplate(path)
		if err != nil {
			if errors.Is(err, errNotAFile) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		if err := checkTemplate(service, config); err != nil {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "canary template %s: %w", path, err))
			continue
		}
		out[service] = config
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// validTemplateName: a template's name is a service name, so that it maps
// to one file and no file name leaves the directory.
func validTemplateName(service string) error {
	if err := gohere.ValidateName("service", service); err != nil {
		return err
	}
	if strings.ContainsAny(service, `/\`) || strings.Contains(service, "..") {
		return gohere.Errorf(gohere.Invalid, "service %q: a template name has no path in it", service)
	}
	return nil
}

var errNotAFile = errors.New("not a regular file")

func readTemplate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "canary template %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "canary template %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, errNotAFile
	}
	b, err := io.ReadAll(io.LimitReader(f, store.MaxConfigLen+1))
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "canary template %s: %w", path, err)
	}
	if len(b) > store.MaxConfigLen {
		return nil, gohere.Errorf(gohere.Invalid, "canary template %s is larger than %d bytes", path, store.MaxConfigLen)
	}
	return b, nil
}

// checkTemplate prepares the analysis of a stand-in canary deploy of the
// template's service, which resolves every query template for both sides:
// what a real deploy would find wrong, but a missing baseline.
func checkTemplate(service string, config []byte) error {
	if service == server.DefaultTemplate {
		service = "example"
	}
	now := time.Now()
	d := gohere.Deploy{ID: "template-check", Service: service, Env: "production", Version: "v2",
		BaselineVersion: "v1", Stage: gohere.StageCanary, Status: gohere.StatusRunning, StartedAt: now}
	_, err := analysis.Prepare(d, config, now, time.Time{}, now)
	return err
}

// canaryTemplates loads the templates of Options.CanaryTemplates, which
// need a metric store to run their analyses on.
func (o *Options) canaryTemplates() (map[string][]byte, error) {
	if o.CanaryTemplates == "" {
		return nil, nil
	}
	if o.Source == nil && o.PrometheusURL == "" {
		return nil, gohere.Errorf(gohere.Invalid, "--canary-templates needs --prometheus-url: analyses query a metric store")
	}
	t, err := LoadCanaryTemplates(o.CanaryTemplates)
	if err != nil {
		return nil, err
	}
	if len(t) == 0 {
		o.Logger.Warn("no canary templates: want <service>.yaml or default.yaml files", "dir", o.CanaryTemplates)
		return nil, nil
	}
	o.Logger.Info("canary templates loaded", "dir", o.CanaryTemplates, "services", slices.Sorted(maps.Keys(t)))
	return t, nil
}
