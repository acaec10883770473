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
	return cmd
}
