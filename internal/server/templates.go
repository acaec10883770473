package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/store"
)

// DefaultTemplate is the key of Options.CanaryTemplates whose config serves
// every service without a template of its own (default.yaml).
const DefaultTemplate = "default"

func (o *Options) validateTemplates() error {
	if len(o.CanaryTemplates) == 0 {
		return nil
	}
	var errs []error
	if o.Analyses == nil {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "server: canary templates need a metric store to run analyses with"))
	}
	for _, name := range slices.Sorted(maps.Keys(o.CanaryTemplates)) {
		if err := gohere.ValidateName("canary template service", name); err != nil {
			errs = append(errs, fmt.Errorf("server: %w", err))
		}
		if len(bytes.TrimSpace(o.CanaryTemplates[name])) == 0 {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "server: canary template %s is empty", name))
		}
	}
	return errors.Join(errs...)
}

// analysisToStart is the analysis a new deploy d starts with, from the
// request's config or else, for a canary, from the canary template of its
// service or the default one; ok is false when there is none. The analysis
// starts with the deploy (a deploy recorded after the fact is judged at
// once) and runs for the config's lifetime.
//
// A bad config in the request is an error, and nothing is recorded. A
// template that does not fit the deploy (the first deploy of a service has
// no baseline to compare with) is not: the deploy is recorded without an
// analysis and skipped says why, since refusing it would stop the pipeline
// over a server-side setting.
func (s *Server) analysisToStart(ctx context.Context, d gohere.Deploy, config string, now time.Time) (a store.Analysis, ok bool, skipped string, err error) {
	if config != "" {
		if s.opts.Analyses == nil {
			return a, false, "", gohere.Errorf(gohere.Unavailable,
				"this server runs no analyses (start it with --prometheus-url): record the deploy without analysis_config")
		}
		if a, err = analysis.Prepare(d, []byte(config), d.StartedAt, time.Time{}, now); err != nil {
			return a, false, "", fmt.Errorf("analysis_config: %w", err)
		}
		return a, true, "", nil
	}
	if d.Stage != gohere.StageCanary || s.opts.Analyses == nil {
		return a, false, "", nil
	}
	name := d.Service
	tmpl, found := s.opts.CanaryTemplates[name]
	if !found {
		name = DefaultTemplate
		if tmpl, found = s.opts.CanaryTemplates[name]; !found {
			return a, false, "", nil
		}
	}
	a, err = analysis.Prepare(d, tmpl, d.StartedAt, time.Time{}, now)
	if err != nil {
		s.log.WarnContext(ctx, "canary template does not fit the deploy: no analysis",
			"service", d.Service, "env", d.Env, "version", d.Version, "template", name, "err", err)
		return store.Analysis{}, false, "canary template " + name + ".yaml: " + strings.ReplaceAll(err.Error(), "\n", "; "), nil
	}
	s.log.DebugContext(ctx, "canary template applies", "service", d.Service, "template", name)
	return a, true, "", nil
}
