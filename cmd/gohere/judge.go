package main

import "github.com/spf13/cobra"

// newJudgeCmd is owned by the helper building it; this placeholder keeps the
// command list in commands.go final while it is written.
func newJudgeCmd() *cobra.Command {
	return &cobra.Command{Use: "judge", Hidden: true}
}
