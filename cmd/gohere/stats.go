package main

import "github.com/spf13/cobra"

// newStatsCmd is owned by the helper building it; this placeholder keeps the
// command list in commands.go final while it is written.
func newStatsCmd() *cobra.Command {
	return &cobra.Command{Use: "stats", Hidden: true}
}
