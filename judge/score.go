package judge

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/gohere/gohere"
)

// score fills the group scores, the score and the verdict with Kayenta's
// WeightedSumScorer semantics, and gohere's guards: no data is never a pass.
func score(cfg Config, r *Report) {
	counts := map[string]map[Label]int{}
	var total, noData, noDataFail int
	var criticals, failing []string
	optional := map[string]bool{}
	for _, m := range cfg.Metrics {
		optional[m.Name] = m.Optional
	}
	var missing []MetricResult // without data, neither critical nor optional
	// required: groups with a metric that is not an optional one without
	// data; a group of vanished optional metrics is not missed.
	required := map[string]bool{}
	var vanishedOptional []string
	for _, m := range r.Metrics {
		if m.Muted {
			continue
		}
		// An optional metric without data (not with bad data: LabelError)
		// counts neither way: its series may legitimately be gone.
		vanished := optional[m.Name] && m.Label == LabelNoData
		if vanished {
			vanishedOptional = append(vanishedOptional, m.Name)
		} else {
			total++
			for _, g := range m.Groups {
				required[g] = true
			}
		}
		switch {
		case vanished:
		case m.Label == LabelNoData || m.Label == LabelError:
			noData++
			if !m.CriticalFailure {
				missing = append(missing, m)
			}
		case m.Label == LabelNoDataFail:
			noDataFail++
		}
		if m.CriticalFailure {
			criticals = append(criticals, fmt.Sprintf("%s (%s)", m.Name, m.Label))
		}
		if m.Label != LabelPass && m.Label != LabelNoData && !m.CriticalFailure {
			// A critical failure is named once, with the critical ones.
			failing = append(failing, fmt.Sprintf("%s (%s)", m.Name, m.Label))
		}
		for _, g := range m.Groups {
			if counts[g] == nil {
				counts[g] = map[Label]int{}
			}
			counts[g][m.Label]++
		}
	}

	var weighted float64
	for _, w := range cfg.Groups {
		weighted += w
	}
	type group struct {
		GroupScore
		raw float64
	}
	var groups []group
	shared := 0
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		c := counts[name]
		den := c[LabelPass] + c[LabelHigh] + c[LabelLow] + c[LabelNoDataFail]
		g := group{GroupScore: GroupScore{Name: name, Counts: c, NoData: den == 0}}
		if den > 0 {
			g.raw = 100 * float64(c[LabelPass]) / float64(den)
		}
		if _, ok := cfg.Groups[name]; !ok && !g.NoData {
			shared++
		}
		groups = append(groups, g)
	}
	var sum, judged float64
	var noDataGroups []string
	for _, g := range groups {
		w, ok := cfg.Groups[g.Name]
		switch {
		case g.NoData && !ok:
			w = 0 // its share goes to the unweighted groups with data
		case !ok:
			w = (100 - weighted) / float64(shared)
		}
		g.Weight, g.Score = w, round2(g.raw)
		if g.NoData {
			noDataGroups = append(noDataGroups, g.Name)
		} else {
			sum += g.raw * w / 100
			judged += w
		}
		r.Groups = append(r.Groups, g.GroupScore)
	}
	// A group without data gives neither points nor a failure: the score
	// is over the groups that were judged (Kayenta's too), and the verdict
	// says that some were not (below).
	if judged > 0 && len(noDataGroups) > 0 {
		sum = sum * 100 / judged
	}
	r.Score = round2(sum)

	vanished := unjudged(missing, noDataGroups)
	var missedGroups []string
	for _, g := range noDataGroups {
		if required[g] {
			missedGroups = append(missedGroups, g)
		}
	}
	noDataText := fmt.Sprintf("%d of %d scored metrics have no usable data", noData+noDataFail, total)
	switch {
	case total == 0 && len(vanishedOptional) > 0:
		r.Score, r.Verdict = 0, gohere.VerdictNoData
		r.Reasons = append(r.Reasons, "every scored metric is optional and has no data: nothing was judged")
		return
	case total == 0:
		r.Score, r.Verdict = 0, gohere.VerdictNoData
		r.Reasons = append(r.Reasons, "every metric is muted: nothing was judged")
		return
	case noData+noDataFail == total:
		// Nothing was judged: a human decides, whatever must_have_data or
		// critical would make of a partial outage.
		r.Score, r.Verdict = 0, gohere.VerdictNoData
		r.Reasons = append(r.Reasons, noDataText+": nothing was judged")
		return
	case len(criticals) > 0:
		r.Score, r.Verdict = 0, gohere.VerdictFail
		r.Reasons = append(r.Reasons, "critical metrics failed: "+strings.Join(criticals, ", "))
	case 2*(noData+noDataFail) >= total:
		r.Score, r.Verdict = 0, gohere.VerdictFail
		r.Reasons = append(r.Reasons, noDataText+" (at least half): score 0")
	case r.Score >= cfg.Thresholds.Pass && (len(missedGroups) > 0 || len(vanished) > 0):
		// Missing data never decides by itself, neither to fail nor to
		// pass: a metric that vanished may be the one that would have
		// failed, so a human looks, unless it is optional.
		var why []string
		if len(missedGroups) > 0 {
			why = append(why, fmt.Sprintf("group %s: no data", strings.Join(missedGroups, ", ")))
		}
		r.Verdict = gohere.VerdictMarginal
		r.Reasons = append(r.Reasons, fmt.Sprintf("score %.2f of the judged groups reaches pass %s, but %s",
			r.Score, num(cfg.Thresholds.Pass), strings.Join(append(why, vanished...), "; ")))
	case r.Score >= cfg.Thresholds.Pass:
		r.Verdict = gohere.VerdictPass
		r.Reasons = append(r.Reasons, fmt.Sprintf("score %.2f reaches pass %s", r.Score, num(cfg.Thresholds.Pass)))
	case r.Score >= *cfg.Thresholds.Marginal:
		r.Verdict = gohere.VerdictMarginal
		r.Reasons = append(r.Reasons, fmt.Sprintf("score %.2f is below pass %s but reaches marginal %s",
			r.Score, num(cfg.Thresholds.Pass), num(*cfg.Thresholds.Marginal)))
	default:
		r.Verdict = gohere.VerdictFail
		r.Reasons = append(r.Reasons, fmt.Sprintf("score %.2f is below marginal %s", r.Score, num(*cfg.Thresholds.Marginal)))
	}
	if len(failing) > 0 {
		r.Reasons = append(r.Reasons, "failing metrics: "+strings.Join(failing, ", "))
	}
	if noData+noDataFail > 0 && 2*(noData+noDataFail) < total {
		r.Reasons = append(r.Reasons, noDataText)
	}
	if len(vanishedOptional) > 0 {
		r.Reasons = append(r.Reasons, "optional, without data (not scored): "+strings.Join(vanishedOptional, ", "))
	}
}

// unjudged names the metrics without data that are not in a group without
// data (that group's reason covers them): "metric p50: no data".
func unjudged(missing []MetricResult, noDataGroups []string) []string {
	var out []string
	for _, m := range missing {
		if !slices.ContainsFunc(m.Groups, func(g string) bool { return slices.Contains(noDataGroups, g) }) {
			out = append(out, fmt.Sprintf("metric %s: %s", m.Name, noDataWord(m.Label)))
		}
	}
	return out
}

func noDataWord(l Label) string {
	if l == LabelError {
		return "unusable data"
	}
	return "no data"
}

// round2 rounds half away from zero to 2 decimals, as Kayenta reports.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
