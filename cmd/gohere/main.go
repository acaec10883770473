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

// Exit codes are a contract (DESIGN.md §3): CI scripts branch on them.
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
	fmt.Fprintln(stderr, "gohere: "+oneLine(err.Error()))
	return code
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
	return root
}
