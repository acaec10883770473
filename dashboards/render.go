package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
)

// Stable uids: the GO HERE link opens CompareUID, so they never change.
const (
	CompareUID = compare.DashboardUID // "gohere-compare"
	DeploysUID = "gohere-deploys"
)

// Options are the install-time choices. The zero value uses the labels
// version, service and env.
type Options struct {
	VersionLabel string // label telling versions apart (default version)
	ServiceLabel string // default service
	EnvLabel     string // default env
}

func (o Options) labels() compare.Labels {
	return compare.Labels{Version: o.VersionLabel, Service: o.ServiceLabel, Env: o.EnvLabel}.WithDefaults()
}

// Render returns every dashboard as indented JSON by uid. Equal options give
// byte-equal output.
func Render(opts Options) (map[string][]byte, error) {
	signals, err := compare.DefaultSignals(opts.labels())
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	cmp, err := compareDashboard(signals)
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", CompareUID, err)
	}
	out := map[string][]byte{}
	for _, d := range []dashboard{cmp, deploysDashboard()} {
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		out[d.UID] = append(b, '\n')
	}
	return out, nil
}

// Export writes every dashboard to dir as <uid>.json, for Grafana's
// provisioning from files. dir is created if missing.
func Export(dir string, opts Options) error {
	files, err := Render(opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return gohere.Errorf(gohere.Invalid, "export dashboards: %w", err)
	}
	for _, uid := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dir, uid+".json")
		if err := os.WriteFile(path, files[uid], 0o644); err != nil {
			return gohere.Errorf(gohere.Invalid, "export dashboard %s: %w", uid, err)
		}
	}
	return nil
}
