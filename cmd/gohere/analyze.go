package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
)

func newAnalyzeCmd() *cobra.Command {
	var (
		cf                     clientFlags
		configPath, start, end string
	)
	cmd := &cobra.Command{
		Use:   "analyze ID --config canary.yaml",
		Short: "Start the canary analysis of a deploy on the server",
		Long: `Sends the canary config to the server, which judges the deploy's canary
interval by interval against its metric store. Without --start and --end
the analysis starts now and runs for the config's analysis.lifetime; an
--end in the past judges that window at once (retrospective).`,
		Args: exactArgs(1, "deploy ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				return gohere.Errorf(gohere.Invalid, "--config is required")
			}
			config, err := os.ReadFile(configPath)
			if err != nil {
				return gohere.Errorf(gohere.Invalid, "canary config: %w", err)
			}
			from, err := parseTimeFlag("start", start)
			if err != nil {
				return err
			}
			to, err := parseTimeFlag("end", end)
			if err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx := ciTraceContext(cmd.Context())
			a, err := c.StartAnalysis(ctx, args[0], config, from, to)
			if err != nil {
				return err
			}
			if cf.output == "json" {
				return writeJSON(cmd.OutOrStdout(), a)
			}
			d, err := c.GetDeploy(ctx, a.DeployID)
			if err != nil {
				return err
			}
			kind := "runs"
			if a.Retrospective {
				kind = "judges at once"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "analysis %s of deploy %s: %s, %s → %s, %s %s – %s\nreport:  %s#analysis-%s\n",
				a.ID, a.DeployID, a.State, a.BaselineVersion, a.CanaryVersion, kind,
				a.StartAt.UTC().Format(time.RFC3339), a.EndAt.UTC().Format(time.RFC3339), d.ReportURL, a.ID)
			return err
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&configPath, "config", "", "canary config: YAML, JSON or a Kayenta canary config (required)")
	fl.StringVar(&start, "start", "", "analysis start, RFC 3339 (default now)")
	fl.StringVar(&end, "end", "", "analysis end, RFC 3339 (default start + analysis.lifetime)")
	return cmd
}
