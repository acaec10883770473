package main

import "github.com/spf13/cobra"

// subcommands lists every top-level command; each lives in its own file.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		newServeCmd(),
		newDeployCmd(),
		newTrainCmd(),
		newAnalyzeCmd(),
		newGateCmd(),
		newStatsCmd(),
		newJudgeCmd(),
		newDashboardsCmd(),
		newDemoCmd(),
	}
}
