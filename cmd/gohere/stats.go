package main

import (
	"github.com/spf13/cobra"

	"github.com/gohere/gohere/judge/stats"
)

func newStatsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "stats", Short: "The judge's statistics kernel, for verification"}
	cmd.AddCommand(&cobra.Command{
		Use:   "mannwhitney",
		Short: "Mann-Whitney U test with Hodges-Lehmann estimate and CI, as R's wilcox.test",
		Long: `Reads JSON lines on stdin, one test per line:
  {"x":[...],"y":[...],"alternative":"two.sided","conf_level":0.95,"correct":true,"exact":null,"mu":0}
(x = canary, y = baseline; missing fields take R's defaults) and writes one line per input:
  {"w":..,"p_value":..,"estimate":..,"conf_int":[lo,hi],"conf_level":..,"method":"exact"|"normal"}
conf_level is the level achieved; an infinite bound of a one-sided interval is null.
The first bad line stops the command with exit code 3.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return stats.MannWhitneyLines(cmd.InOrStdin(), cmd.OutOrStdout())
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "sequential",
		Short: "Anytime-valid sequential tests of a shift (values) or a rate ratio (counts)",
		Long: `Reads JSON lines on stdin, one sequential test per line:
  {"kind":"value","x":[...],"y":[...],"looks":[n1,n2,...],"alpha":0.05,"direction":"increase","mu":0}
    x = canary, y = baseline, in arrival order; a look n uses the first n of both
    samples, a look {"nx":..,"ny":..} the first nx of x and ny of y (no looks:
    one look at all the data); optional "log":true compares logarithms (the
    effect is then the ratio canary/baseline, and mu a ratio), "block":[a,b]
    fixes the blocks of a canary and b baseline observations
  {"kind":"count","looks":[{"x_events":..,"x_total":..,"y_events":..,"y_total":..},...],
   "alpha":0.05,"direction":"increase","ratio":1}
    cumulative events (errors) and totals (requests) of canary (x) and baseline (y)
direction is the harmful one: increase, decrease or either (default); alpha
defaults to 0.05. Writes one line per input:
  {"kind","direction","alpha","effect":"shift"|"ratio"|"rate_ratio","block":[a,b],
   "looks":[{"n","p_value","e_value","cs":[lo,hi],"reject"},...]}
n is the observations so far (nx+ny, or x_total+y_total); p_value is
anytime-valid (it never increases over the looks), e_value the e-process at
the look, cs the confidence sequence of the effect (an unbounded side is
null; with direction increase or decrease each end is a one-sided 1-alpha
bound), reject is p_value <= alpha. The first bad line stops the command
with exit code 3.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return stats.SequentialLines(cmd.InOrStdin(), cmd.OutOrStdout())
		},
	})
	return cmd
}
