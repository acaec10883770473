package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/judge"
)

func newJudgeCmd() *cobra.Command {
	var configPath, baselinePath, canaryPath, output string
	cmd := &cobra.Command{
		Use:   "judge --config canary.yaml --baseline FILE --canary FILE",
		Short: "Judge recorded baseline and canary series offline",
		Long: `Judges recorded series against a canary config without a server and prints
the report. Each data file is either a JSON object mapping a metric name to an
array of numbers (null = missing), or for a rate metric to
{"numerator": N or [...], "denominator": N or [...]}; or VictoriaMetrics'
JSON-lines export ({"metric":{"__name__":"x",...},"values":[...],...} per
line), a series named after the metric, or "<metric>:numerator" and
"<metric>:denominator" for a rate metric.

Exit codes: 0 pass, 1 fail, 2 marginal or no data, 3 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return gohere.Errorf(gohere.Invalid, "-o %q: want text or json", output)
			}
			for _, f := range []struct{ flag, v string }{
				{"--config", configPath}, {"--baseline", baselinePath}, {"--canary", canaryPath},
			} {
				if f.v == "" {
					return gohere.Errorf(gohere.Invalid, "%s is required", f.flag)
				}
			}
			cfg, err := judge.LoadConfigFile(configPath)
			if err != nil {
				return err
			}
			baseline, err := readDataFile(baselinePath)
			if err != nil {
				return err
			}
			canary, err := readDataFile(canaryPath)
			if err != nil {
				return err
			}
			report := judge.Judge(cfg, baseline, canary)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				err = enc.Encode(report)
			} else {
				err = report.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			return verdictExit(report.Verdict)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "canary config (YAML, JSON or a Kayenta canary config)")
	cmd.Flags().StringVar(&baselinePath, "baseline", "", "recorded baseline series")
	cmd.Flags().StringVar(&canaryPath, "canary", "", "recorded canary series")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func readDataFile(path string) (judge.Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "data file %s: %w", path, err)
	}
	defer f.Close()
	d, err := judge.ReadData(f)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "data file %s: %w", path, err)
	}
	return d, nil
}

// verdictExit maps a verdict to the exit-code contract of DESIGN.md §3.
func verdictExit(v gohere.Verdict) error {
	switch v {
	case gohere.VerdictPass:
		return nil
	case gohere.VerdictFail:
		return withExit(exitFail, nil)
	}
	return withExit(exitUndecided, nil)
}
