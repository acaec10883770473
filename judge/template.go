package judge

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// TemplateVars are the variables a query template may name (.Service,
// .Env, ...): what the analysis runner fills in for each side
// (internal/analysis tests that it fills exactly these). .Vars holds the
// config's analysis.vars.
var TemplateVars = []string{"Service", "Env", "Version", "Role", "Baseline", "Canary", "Vars"}

// checkTemplate parses a query template as the runner does and checks every
// variable it names, so that a typo fails at load, also where the queries
// are never run (`gohere judge` on recorded files), instead of at the first
// interval with a Go type name in the message. vars are the names of the
// config's analysis.vars.
func checkTemplate(name, text string, vars []string) error {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return fmt.Errorf("not a valid template: %w", err)
	}
	var unknown []string
	for _, tr := range t.Templates() {
		if tr.Tree == nil || tr.Tree.Root == nil {
			continue
		}
		walkFields(tr.Tree.Root, true, func(path []string) {
			if v := unknownVariable(path, vars); v != "" && !slices.Contains(unknown, v) {
				unknown = append(unknown, v)
			}
		})
	}
	if len(unknown) == 0 {
		return nil
	}
	known := "." + strings.Join(TemplateVars, ", .")
	if len(vars) > 0 {
		known += ", .Vars." + strings.Join(vars, ", .Vars.")
	}
	return fmt.Errorf("unknown variable %s; known: %s", strings.Join(unknown, ", "), known)
}

// unknownVariable returns the field path as written (".Servcie") when it
// names no template variable, else "".
func unknownVariable(path []string, vars []string) string {
	written := "." + strings.Join(path, ".")
	switch {
	case !slices.Contains(TemplateVars, path[0]):
		return written
	case path[0] == "Vars" && len(path) > 1 && !slices.Contains(vars, path[1]):
		return "." + strings.Join(path[:2], ".")
	case path[0] == "Vars" && len(path) > 2, path[0] != "Vars" && len(path) > 1:
		return written // fields of a string
	}
	return ""
}

// walkFields calls field for every field path rooted at the template's
// data: .X.Y while dot is still the data (rootDot), and $.X.Y anywhere.
// Inside range and with, dot is something else, so .X there is not checked.
func walkFields(n parse.Node, rootDot bool, field func([]string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkFields(c, rootDot, field)
		}
	case *parse.ActionNode:
		walkFields(n.Pipe, rootDot, field)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkFields(c, rootDot, field)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkFields(a, rootDot, field)
		}
	case *parse.FieldNode:
		if rootDot {
			field(n.Ident)
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			field(n.Ident[1:])
		}
	case *parse.ChainNode:
		walkFields(n.Node, rootDot, field)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, rootDot, rootDot, field)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, rootDot, false, field)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, rootDot, false, field)
	case *parse.TemplateNode:
		walkFields(n.Pipe, rootDot, field)
	}
}

// walkBranch walks an if, range or with: its pipeline and else branch see
// the outer dot, its body sees bodyDot.
func walkBranch(b *parse.BranchNode, rootDot, bodyDot bool, field func([]string)) {
	walkFields(b.Pipe, rootDot, field)
	walkFields(b.List, bodyDot, field)
	walkFields(b.ElseList, rootDot, field)
}

// varNames are the names of analysis.vars, sorted.
func (c Config) varNames() []string {
	if c.Analysis == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(c.Analysis.Vars))
}
