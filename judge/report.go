package judge

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/judge/stats"
)

// Label is the classification of one metric.
type Label string

const (
	LabelPass Label = "Pass"
	LabelHigh Label = "High" // the canary is higher than the baseline
	LabelLow  Label = "Low"
	// LabelNoData: too little data to judge; not scored, but half the
	// metrics without data score the canary 0.
	LabelNoData Label = "NoData"
	// LabelNoDataFail: no data for a metric with must_have_data; scored as
	// a failure.
	LabelNoDataFail Label = "NoDataFail"
	LabelError      Label = "Error" // the data could not be judged; not scored, counts as no data
)

// Report is the judge's conclusion and its evidence.
type Report struct {
	Judge   Mode           `json:"judge"`
	Verdict gohere.Verdict `json:"verdict"`
	// Score is the weighted group score, 0 to 100, rounded to 2 decimals.
	Score    float64        `json:"score"`
	Pass     float64        `json:"pass_threshold"`
	Marginal float64        `json:"marginal_threshold"`
	Reasons  []string       `json:"reasons"`  // why this verdict, one sentence each
	Warnings []string       `json:"warnings"` // about the input, e.g. data for unknown metrics
	Groups   []GroupScore   `json:"groups"`
	Metrics  []MetricResult `json:"metrics"`
}

// GroupScore is one group's share of the score.
type GroupScore struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"` // of 100, as applied
	// Score is 100·Pass / (Pass+High+Low+NoDataFail), rounded to 2 decimals.
	Score float64 `json:"score"`
	// NoData: no metric of the group had a scored label; the group adds
	// nothing to the canary's score.
	NoData bool          `json:"no_data"`
	Counts map[Label]int `json:"counts"`
}

// MetricResult is one metric's classification and its evidence.
type MetricResult struct {
	Name      string    `json:"name"`
	Rate      bool      `json:"rate"` // judged on counts
	Groups    []string  `json:"groups"`
	Direction Direction `json:"direction"`
	Label     Label     `json:"label"`
	Reason    string    `json:"reason"` // one sentence
	Warnings  []string  `json:"warnings,omitempty"`
	Critical  bool      `json:"critical"` // as configured
	// CriticalFailure: this result fails the whole canary (score 0).
	CriticalFailure bool `json:"critical_failure"`
	Muted           bool `json:"muted"`
	Baseline        Side `json:"baseline"`
	Canary          Side `json:"canary"`
	// Test is nil when no test ran (no data, identical samples, errors).
	Test          *Test   `json:"test,omitempty"`
	EffectMeasure Measure `json:"effect_measure"`
	// EffectSize is nil when undefined (a mean ratio over a zero baseline
	// mean) or not computed.
	EffectSize *float64 `json:"effect_size,omitempty"`
	// RelativeShift is |estimate| / |baseline median| (its mean when the
	// median is 0; for rates, over the baseline rate); nil when both are 0.
	RelativeShift *float64 `json:"relative_shift,omitempty"`
}

// Side describes one side's data after preprocessing.
type Side struct {
	stats.Summary          // value metrics; N = 0 when there was none
	Missing       int      `json:"missing"`  // NaN or ±Inf points removed
	Outliers      int      `json:"outliers"` // points removed beyond the IQR fences
	Counts        *Counts  `json:"counts,omitempty"`
	RateValue     *float64 `json:"rate,omitempty"` // Numerator / Denominator
}

// Test is the outcome of a metric's statistical test.
type Test struct {
	// Method: "mann-whitney exact", "mann-whitney normal", "mann-whitney
	// normal (constant samples)", "proportion fisher", "proportion normal".
	Method      string            `json:"method"`
	Alternative stats.Alternative `json:"alternative"` // of PValue
	PValue      float64           `json:"p_value"`
	// PAdjusted is PValue adjusted across the analysis' metrics.
	PAdjusted float64 `json:"p_adjusted"`
	W         float64 `json:"w,omitempty"` // Mann-Whitney statistic (two-sided test)
	// Estimate is the shift canary - baseline: Hodges-Lehmann for values,
	// the difference of the rates for rate metrics.
	Estimate float64   `json:"estimate"`
	CI       *Interval `json:"ci,omitempty"` // of Estimate, two-sided; nil for rates
}

// Interval is a confidence interval; Level is the level achieved, lower
// than asked when the exact distribution cannot reach it.
type Interval struct {
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Level float64 `json:"level"`
}

// WriteText writes the report for people: verdict and score, the reasons,
// the groups, and one line per metric.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Verdict: %s   score %.2f   (pass >= %s, marginal >= %s; judge %s)\n",
		r.Verdict, r.Score, num(r.Pass), num(r.Marginal), r.Judge)
	for _, s := range r.Reasons {
		fmt.Fprintf(&b, "  - %s\n", s)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", s)
	}
	b.WriteString("\nGroups:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, g := range r.Groups {
		score := fmt.Sprintf("%.2f", g.Score)
		if g.NoData {
			score = "no data"
		}
		fmt.Fprintf(tw, "  %s\tweight %s\tscore %s\n", g.Name, num(g.Weight), score)
	}
	tw.Flush()
	b.WriteString("\nMetrics:\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tLABEL\tN BASE/CAN\tBASELINE\tCANARY\tESTIMATE\tCI\tP\tP ADJ\tEFFECT\tREASON")
	for _, m := range r.Metrics {
		label := string(m.Label)
		if m.CriticalFailure {
			label += " (critical)"
		}
		if m.Muted {
			label += " (muted)"
		}
		n, base, can := sideText(m)
		est, ci, p, padj := "-", "-", "-", "-"
		if t := m.Test; t != nil {
			est, p, padj = num(t.Estimate), num(t.PValue), num(t.PAdjusted)
			if t.CI != nil {
				ci = fmt.Sprintf("[%s, %s] %s%%", num(t.CI.Low), num(t.CI.High), num(100*t.CI.Level))
			}
		}
		effect := "-"
		if m.EffectSize != nil {
			effect = string(m.EffectMeasure) + " " + num(*m.EffectSize)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			m.Name, label, n, base, can, est, ci, p, padj, effect, m.Reason)
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

// sideText gives the sample sizes and each side's central value: the mean
// of a value metric, numerator/denominator of a rate metric.
func sideText(m MetricResult) (n, base, can string) {
	if m.Rate {
		cnt := func(s Side) string {
			if s.Counts == nil {
				return "-"
			}
			return num(s.Counts.Numerator) + "/" + num(s.Counts.Denominator)
		}
		den := func(s Side) string {
			if s.Counts == nil {
				return "0"
			}
			return num(s.Counts.Denominator)
		}
		return den(m.Baseline) + "/" + den(m.Canary), cnt(m.Baseline), cnt(m.Canary)
	}
	mean := func(s Side) string {
		if s.N == 0 {
			return "-"
		}
		return "mean " + num(s.Mean)
	}
	return fmt.Sprintf("%d/%d", m.Baseline.N, m.Canary.N), mean(m.Baseline), mean(m.Canary)
}

// num formats a number for people: whole numbers in full (counts), others
// to 4 significant digits.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// signed is num with an explicit sign, for shifts.
func signed(v float64) string {
	if v > 0 {
		return "+" + num(v)
	}
	return num(v)
}
