// Command gohere records deploys, prints the GO HERE link, judges canaries and
// gates CI on a human's decision. Each subcommand parses its flags and calls
// one function; the work happens in the packages it imports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
)

// Exit codes are a contract (docs/contracts.md): CI scripts branch on them.
const (
	exitOK        = 0
	exitFail      = 1 // judge: fail; gate: halted or failed
	exitUndecided = 2 // judge: marginal or nodata; gate: timeout or undecided
	exitError     = 3 // bad input, server unreachable, anything else
)

// exitError carries a specific exit code through cobra.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// withExit returns err so that main exits with code; a nil err with a non-zero
// code exits quietly with that code.
func withExit(code int, err error) error { return &exitCodeError{code: code, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns its exit code; tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if ec, ok := errors.AsType[*exitCodeError](err); err == nil || ok && ec.err == nil {
		return code
	}
	printError(stderr, err)
	return code
}

// printError writes err as one line, except an error that lists problems
// under a heading ending in "problems:" (a canary config's, see
// judge.LoadConfig, also when it comes back from the API): that is the
// heading after "gohere: " and one indented line per problem, so that a
// person can work through them.
func printError(w io.Writer, err error) {
	heading, rest, found := strings.Cut(err.Error(), "\n")
	if !found || !strings.HasSuffix(strings.TrimSpace(heading), "problems:") {
		fmt.Fprintln(w, "gohere: "+oneLine(err.Error()))
		return
	}
	fmt.Fprintln(w, "gohere: "+oneLine(heading))
	for line := range strings.SplitSeq(rest, "\n") {
		if line = oneLine(line); line != "" {
			fmt.Fprintln(w, "  "+line)
		}
	}
}

// exitCode is the exit code a command's error asks for.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if ec, ok := errors.AsType[*exitCodeError](err); ok {
		return ec.code
	}
	return exitError
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gohere",
		Short:         "Every deploy visible and judged",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return gohere.Errorf(gohere.Invalid, "%w", err)
	})
	root.AddCommand(subcommands()...)
	requireSubcommands(root)
	return root
}

// requireSubcommands makes every command that only groups subcommands
// refuse to run alone or with an unknown subcommand: cobra would print the
// help and exit 0, which a CI script takes for success.
func requireSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		requireSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	// "gohere deploy lst --service x" is a mistyped subcommand, not an
	// unknown flag of "gohere deploy".
	cmd.FParseErrWhitelist.UnknownFlags = true
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) > 0 && args[0] == "help": // asked for, as "gohere help deploy" is
			return cmd.Help()
		case len(args) > 0:
			return unknownSubcommand(cmd, args[0])
		}
		cmd.SetOut(cmd.ErrOrStderr()) // stdout may be parsed by a script
		if err := cmd.Help(); err != nil {
			return err
		}
		return gohere.Errorf(gohere.Invalid, "%s needs a subcommand: %s", cmd.CommandPath(), strings.Join(subcommandNames(cmd), ", "))
	}
}

func unknownSubcommand(cmd *cobra.Command, name string) error {
	hint := "want one of " + strings.Join(subcommandNames(cmd), ", ")
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor alone does not apply
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		hint = "did you mean " + strings.Join(s, " or ") + "?"
	}
	return gohere.Errorf(gohere.Invalid, "unknown command %q for %q; %s", name, cmd.CommandPath(), hint)
}

// subcommandNames are the subcommands a user may type, sorted as cobra
// lists them.
func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return names
}
