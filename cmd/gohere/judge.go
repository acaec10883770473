package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/judge"
)

// liveWindow is the window `gohere judge --source` queries.
type liveWindow struct {
	source       string
	store        promFlags
	service, env string
	from, to     string
}

func newJudgeCmd() *cobra.Command {
	var (
		configPath, baseline, canary, output string
		live                                 liveWindow
	)
	cmd := &cobra.Command{
		Use:   "judge --config canary.yaml (--baseline FILE --canary FILE | --source URL --service S --env E --baseline V0 --canary V1 --from T --to T)",
		Short: "Judge recorded series, or a past window of a live metric store, without a server",
		Long: `Judges recorded series against a canary config without a server and prints
the report. Each data file is either a JSON object mapping a metric name to an
array of numbers (null = missing), or for a rate metric to
{"numerator": N or [...], "denominator": N or [...]}; or VictoriaMetrics'
JSON-lines export ({"metric":{"__name__":"x",...},"values":[...],...} per
line), a series named after the metric, or "<metric>:numerator" and
"<metric>:denominator" for a rate metric.

With --source, --baseline and --canary are the two versions instead: the
config's query templates are resolved for each side and the window
[--from, --to] (RFC 3339) is queried from that Prometheus-compatible store
(bearer token in GOHERE_SOURCE_TOKEN or --prometheus-bearer-token-file; basic
auth as user:pass@ in the URL; tenant headers with --prometheus-header) and
judged at once.

Exit codes: 0 pass, 1 fail, 2 marginal or no data, 3 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return gohere.Errorf(gohere.Invalid, "-o %q: want text or json", output)
			}
			if err := required("--config", configPath, "--baseline", baseline, "--canary", canary); err != nil {
				return err
			}
			cfg, err := judge.LoadConfigFile(configPath)
			if err != nil {
				return err
			}
			var res judgement
			if live.source != "" {
				res, err = judgeLive(cmd.Context(), cfg, live, baseline, canary)
			} else {
				res, err = judgeFiles(cfg, baseline, canary)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				err = enc.Encode(res)
			} else {
				err = res.writeText(cmd.OutOrStdout())
			}
			if err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			return verdictExit(res.Verdict)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&configPath, "config", "", "canary config (YAML, JSON or a Kayenta canary config)")
	fl.StringVar(&baseline, "baseline", "", "recorded baseline series; with --source the baseline version")
	fl.StringVar(&canary, "canary", "", "recorded canary series; with --source the canary version")
	fl.StringVarP(&output, "output", "o", "text", "text or json")
	fl.StringVar(&live.source, "source", "", "Prometheus-compatible API to query instead of files")
	fl.StringVar(&live.service, "service", "", "with --source: the service (.Service in queries)")
	fl.StringVar(&live.env, "env", "", "with --source: the environment (.Env in queries)")
	fl.StringVar(&live.from, "from", "", "with --source: window start, RFC 3339")
	fl.StringVar(&live.to, "to", "", "with --source: window end, RFC 3339")
	live.store.register(fl)
	return cmd
}

// judgement is what `gohere judge` prints: the report, and for a live
// window the resolved queries behind it.
type judgement struct {
	judge.Report
	Queries []analysis.Query `json:"queries,omitempty"`
}

func (j judgement) writeText(w io.Writer) error {
	if err := j.Report.WriteText(w); err != nil {
		return err
	}
	if len(j.Queries) > 0 {
		fmt.Fprintln(w, "\nqueries:")
	}
	for _, q := range j.Queries {
		name := q.Metric
		if q.Part != "" {
			name += ":" + q.Part
		}
		line := fmt.Sprintf("  %-8s %-24s %d series, %d points  %s", q.Role, name, q.Series, q.Points, q.Query)
		if q.Error != "" {
			line += "  (" + q.Error + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func judgeFiles(cfg judge.Config, baselinePath, canaryPath string) (judgement, error) {
	baseline, err := readDataFile(baselinePath)
	if err != nil {
		return judgement{}, err
	}
	canary, err := readDataFile(canaryPath)
	if err != nil {
		return judgement{}, err
	}
	if err := someMetricHasData(cfg, recorded{baselinePath, baseline}, recorded{canaryPath, canary}); err != nil {
		return judgement{}, err
	}
	return judgement{Report: judge.Judge(cfg, baseline, canary)}, nil
}

// recorded is a data file as read.
type recorded struct {
	path string
	data judge.Data
}

// someMetricHasData refuses files of which no series is named like a metric
// of the config: that is the wrong file or the wrong config, not a canary
// without data, and a NoData verdict with a warning per metric would hide it.
func someMetricHasData(cfg judge.Config, files ...recorded) error {
	metrics := make([]string, len(cfg.Metrics))
	for i, m := range cfg.Metrics {
		metrics[i] = m.Name
		for _, f := range files {
			if _, ok := f.data[m.Name]; ok {
				return nil
			}
		}
	}
	seen := make([]string, len(files))
	for i, f := range files {
		names := slices.Sorted(maps.Keys(f.data))
		if len(names) == 0 {
			names = []string{"no series"}
		}
		seen[i] = fmt.Sprintf("%s has %s", f.path, strings.Join(names, ", "))
	}
	return gohere.Errorf(gohere.Invalid, "no metric of the config (%s) is in the data: %s",
		strings.Join(metrics, ", "), strings.Join(seen, "; "))
}

func judgeLive(ctx context.Context, cfg judge.Config, w liveWindow, baseline, canary string) (judgement, error) {
	if err := required("--service", w.service, "--env", w.env, "--from", w.from, "--to", w.to); err != nil {
		return judgement{}, err
	}
	from, err := parseTimeFlag("from", w.from)
	if err != nil {
		return judgement{}, err
	}
	to, err := parseTimeFlag("to", w.to)
	if err != nil {
		return judgement{}, err
	}
	opts, err := w.store.options(w.source)
	if err != nil {
		return judgement{}, err
	}
	if opts.BearerToken = os.Getenv("GOHERE_SOURCE_TOKEN"); opts.BearerToken != "" && opts.BearerTokenFile != "" {
		return judgement{}, gohere.Errorf(gohere.Invalid, "both GOHERE_SOURCE_TOKEN and --prometheus-bearer-token-file are set; use one")
	}
	src, err := prom.New(opts)
	if err != nil {
		return judgement{}, err
	}
	t := analysis.Target{Service: w.service, Env: w.env, Baseline: baseline, Canary: canary}
	res, err := analysis.JudgeWindow(ctx, src, nil, cfg, t, from, to)
	if err != nil {
		return judgement{}, err
	}
	return judgement{Report: res.Report, Queries: res.Queries}, nil
}

// required reports every empty one of the flag, value pairs at once.
func required(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		verb := " is"
		if len(missing) > 1 {
			verb = " are"
		}
		return gohere.Errorf(gohere.Invalid, "%s%s required", strings.Join(missing, ", "), verb)
	}
	return nil
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

// verdictExit maps a verdict to the exit-code contract (docs/contracts.md).
func verdictExit(v gohere.Verdict) error {
	switch v {
	case gohere.VerdictPass:
		return nil
	case gohere.VerdictFail:
		return withExit(exitFail, nil)
	}
	return withExit(exitUndecided, nil)
}
