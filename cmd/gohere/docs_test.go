package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestContractsNameEveryFlag: docs/contracts.md, the CLI contract users
// read, names every command and every flag the CLI has.
func TestContractsNameEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
		if !cmd.HasSubCommands() && !strings.Contains(doc, "`"+cmd.CommandPath()) {
			t.Errorf("docs/contracts.md does not name %q", cmd.CommandPath())
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !strings.Contains(doc, "--"+f.Name) {
				t.Errorf("docs/contracts.md does not name %s --%s", cmd.CommandPath(), f.Name)
			}
		})
	}
	walk(newRootCmd())
}

// TestREADMEStaysInTheRepo: the README points at nothing outside the
// repository (it once sent readers to ../shared/DESIGN.md).
func TestREADMEStaysInTheRepo(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`\.\./`), regexp.MustCompile(`DESIGN(\.md)?\b`)} {
		if m := re.FindAllString(string(b), -1); len(m) > 0 {
			t.Errorf("README.md refers outside the repository: %q", m)
		}
	}
	if !strings.Contains(string(b), "(docs/contracts.md)") {
		t.Error("README.md does not link docs/contracts.md")
	}
}

// TestREADMESaysWhichGOHEREDemoPrints: the README names the deploy whose GO
// HERE link the demo prints (it once said "the newest deploy").
func TestREADMESaysWhichGOHEREDemoPrints(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "the GO HERE link of the " + linkedScenario + " canary"; !strings.Contains(oneLine(string(b)), want) {
		t.Errorf("README.md does not say %q", want)
	}
}
