package main

import "github.com/spf13/cobra"

// newDashboardsCmd is owned by the helper building it; this placeholder keeps the
// command list in commands.go final while it is written.
func newDashboardsCmd() *cobra.Command {
	return &cobra.Command{Use: "dashboards", Hidden: true}
}
