package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/client"
)

// trainActions are the subcommands of gohere train that change a train, as
// the API names them, with what each says.
var trainActions = []struct{ name, short string }{
	{"join", "Join the train: the last car, or a new one when it is full"},
	{"in", "Say your code is pushed (head car only)"},
	{"verified", "Say you checked your change on staging (head car only)"},
	{"leave", "Get off the train"},
	{"remove", "Take --member off your car (its leader only)"},
	{"stop", "Stop the train, with --reason; nothing moves until a human starts it"},
	{"start", "Start a stopped train again (humans only)"},
}

func newTrainCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "train", Short: "The push train: join, in, verified, leave, remove, stop, start, status"}
	for _, a := range trainActions {
		cmd.AddCommand(newTrainActionCmd(a.name, a.short))
	}
	cmd.AddCommand(newTrainStatusCmd())
	return cmd
}

func newTrainActionCmd(action, short string) *cobra.Command {
	var (
		cf      clientFlags
		name    string
		req     client.TrainRequest
		changes []string
	)
	cmd := &cobra.Command{
		Use:   action + " --service S",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case action == "stop" && strings.TrimSpace(req.Reason) == "":
				return gohere.Errorf(gohere.Invalid, "train stop: --reason is required")
			case action == "remove" && strings.TrimSpace(req.Member) == "":
				return gohere.Errorf(gohere.Invalid, "train remove: --member is required")
			}
			for _, c := range changes {
				sha, title, _ := strings.Cut(c, ":")
				if sha == "" {
					return gohere.Errorf(gohere.Invalid, "--change %q: want SHA:TITLE", c)
				}
				req.Changes = append(req.Changes, gohere.Change{Commit: sha, Title: title})
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			r, err := c.TrainAction(cmd.Context(), name, action, req)
			if err != nil {
				return err
			}
			if cf.output == "json" {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintln(cmd.OutOrStdout(), r.Message)
			return printTrain(cmd.OutOrStdout(), r.Train, time.Now())
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&name, "service", "", "the train: a service's, or one shared by several services (required)")
	switch action {
	case "stop":
		cmd.Flags().StringVar(&req.Reason, "reason", "", "why the train stops (required)")
	case "remove":
		cmd.Flags().StringVar(&req.Member, "member", "", "who to take off (required)")
	case "in":
		cmd.Flags().StringArrayVar(&changes, "change", nil, "a change you ship, as SHA:TITLE (repeatable; you are its author): the car's deploy ships its members' changes")
	}
	_ = cmd.MarkFlagRequired("service") // cannot fail: the flag exists
	return cmd
}

func newTrainStatusCmd() *cobra.Command {
	var (
		cf   clientFlags
		name string
	)
	cmd := &cobra.Command{
		Use:   "status --service S",
		Short: "Show the train: its cars, who leads, who is in or verified",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			t, err := c.Train(cmd.Context(), name)
			if err != nil {
				return err
			}
			if cf.output == "json" {
				return writeJSON(cmd.OutOrStdout(), t)
			}
			return printTrain(cmd.OutOrStdout(), t, time.Now())
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&name, "service", "", "the train (required)")
	_ = cmd.MarkFlagRequired("service")
	return cmd
}

// printTrain writes a train as a headline and one row per car.
func printTrain(w io.Writer, t client.Train, now time.Time) error {
	state := "running"
	if t.Stopped {
		state = fmt.Sprintf("STOPPED by %s %s ago: %s", t.StoppedBy, now.Sub(t.StoppedAt).Round(time.Second), oneLine(t.Reason))
	}
	fmt.Fprintf(w, "train %s: %s; %d car(s) shipped\n", t.Train, state, t.Shipped)
	if len(t.Cars) == 0 {
		fmt.Fprintln(w, "nobody aboard")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAR\tSTATE\tFOR\tLEADER\tMEMBERS\tDEPLOY")
	for _, c := range t.Cars {
		ms := make([]string, len(c.Members))
		for i, m := range c.Members {
			ms[i] = m.Name + " (" + m.State + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.State, now.Sub(c.Since).Round(time.Second), c.Leader,
			strings.Join(ms, ", "), orDash(c.DeployID))
	}
	return tw.Flush()
}
