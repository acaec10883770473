package annotate

import "github.com/gohere/gohere"

// ConfigPrefix starts the title of a change that only changes
// configuration: `gohere deploy start --config-only` marks every change of
// the deploy so.
const ConfigPrefix = "CONFIG"

// ConfigOnly reports whether every change of d is config-only (and it has
// some).
func ConfigOnly(d gohere.Deploy) bool { return d.AllTitled(ConfigPrefix) }

// FastLane reports whether d may ship outside the push train: only DARK
// changes (code that does not run yet) or only configuration. Such a
// deploy is ranked last when an alert is correlated.
func FastLane(d gohere.Deploy) bool { return d.Dark() || ConfigOnly(d) }

// LaneTags tag a fast-lane deploy dark or config, on its annotation and
// its messages.
func LaneTags(d gohere.Deploy) []string {
	var tags []string
	if d.Dark() {
		tags = append(tags, "dark")
	}
	if ConfigOnly(d) {
		tags = append(tags, "config")
	}
	return tags
}
