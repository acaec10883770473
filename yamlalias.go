package gohere

import (
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// MaxYAMLAliasNodes bounds the nodes that the aliases of one YAML file may
// expand to. Real configs share a few metric or signal definitions through
// aliases: hundreds of nodes, not thousands.
const MaxYAMLAliasNodes = 10_000

// CheckYAMLAliases refuses, as an Invalid error, YAML whose aliases expand
// beyond MaxYAMLAliasNodes nodes. goccy/go-yaml v1.19.2 expands aliases
// without a cap, so a kilobyte of nested aliases (a "billion laughs") costs
// a decoder seconds and gigabytes; every loader of YAML calls this first.
//
// It counts on the parsed AST without expanding: every alias adds the
// expanded size of its anchor, each anchor's size computed once and
// saturating at the cap, so the check is linear in the input. An alias
// counts its largest anchor of that name, wherever defined, so a decoder
// resolving names differently cannot expand more. YAML that does not parse
// passes: the decoder reports the syntax error with its position.
func CheckYAMLAliases(data []byte) error {
	file, ok := parseYAML(data)
	if !ok {
		return nil
	}
	c := aliasCounter{
		defs:  map[string][]*ast.AnchorNode{},
		sizes: map[*ast.AnchorNode]int{},
		limit: MaxYAMLAliasNodes,
	}
	for _, doc := range file.Docs {
		c.each(doc, c.collect)
	}
	for _, doc := range file.Docs {
		if a := c.overflow(doc); a != nil {
			return aliasError(a, c.limit)
		}
	}
	return nil
}

// parseYAML parses like the decoder does; a parser panic (there are some
// in v1.19.2) counts as unparsable, for the decoder's recover to report.
func parseYAML(data []byte) (file *ast.File, ok bool) {
	defer func() {
		if recover() != nil {
			file, ok = nil, false
		}
	}()
	file, err := parser.ParseBytes(data, 0)
	return file, err == nil && file != nil
}

func aliasError(a *ast.AliasNode, limit int) error {
	if tk := a.GetToken(); tk != nil && tk.Position != nil {
		return Errorf(Invalid, "line %d, column %d: aliases expand beyond %d nodes", tk.Position.Line, tk.Position.Column, limit)
	}
	return Errorf(Invalid, "aliases expand beyond %d nodes", limit)
}

type aliasCounter struct {
	defs  map[string][]*ast.AnchorNode
	sizes map[*ast.AnchorNode]int // expanded size of the anchor's value; 0 while being computed
	limit int
	total int // nodes the aliases seen so far expand to
}

// collect records every anchor, nested ones included.
func (c *aliasCounter) collect(n ast.Node) {
	if a, ok := n.(*ast.AnchorNode); ok && a != nil {
		name := nameOf(a.Name)
		c.defs[name] = append(c.defs[name], a)
	}
	c.each(n, c.collect)
}

// overflow adds up what every alias written in n expands to and returns
// the alias at which the total passes the limit, or nil.
func (c *aliasCounter) overflow(n ast.Node) *ast.AliasNode {
	if a, ok := n.(*ast.AliasNode); ok {
		if a == nil {
			return nil
		}
		if c.total = c.add(c.total, c.target(a)); c.total > c.limit {
			return a
		}
		return nil
	}
	var found *ast.AliasNode
	c.each(n, func(child ast.Node) {
		if found == nil {
			found = c.overflow(child)
		}
	})
	return found
}

// size is the number of nodes n expands to, at most limit+1.
func (c *aliasCounter) size(n ast.Node) int {
	switch n := n.(type) {
	case nil:
		return 0
	case *ast.AliasNode:
		if n == nil {
			return 0
		}
		return c.target(n)
	case *ast.AnchorNode:
		if n == nil {
			return 0
		}
		return c.anchor(n)
	}
	total := 1
	c.each(n, func(child ast.Node) {
		if total <= c.limit {
			total = c.add(total, c.size(child))
		}
	})
	return total
}

// target is the expanded size of the largest anchor an alias may name; an
// alias of an unknown anchor is an error of the decoder, one node here.
func (c *aliasCounter) target(a *ast.AliasNode) int {
	best := 1
	for _, def := range c.defs[nameOf(a.Value)] {
		best = max(best, c.anchor(def))
	}
	return best
}

// anchor is memoised; an anchor reached from its own value (a cycle) counts
// one node, as the decoder resolves self-reference to null.
func (c *aliasCounter) anchor(a *ast.AnchorNode) int {
	if s, ok := c.sizes[a]; ok {
		return max(s, 1)
	}
	c.sizes[a] = 0
	s := max(c.size(a.Value), 1)
	c.sizes[a] = s
	return s
}

func (c *aliasCounter) add(a, b int) int { return min(a+b, c.limit+1) }

// each calls f for every child of n that may hold an anchor or an alias.
func (c *aliasCounter) each(n ast.Node, f func(ast.Node)) {
	visit := func(child ast.Node) {
		if child != nil {
			f(child)
		}
	}
	switch n := n.(type) {
	case *ast.DocumentNode:
		if n != nil {
			visit(n.Body)
		}
	case *ast.MappingNode:
		if n != nil {
			for _, v := range n.Values {
				if v != nil {
					f(v)
				}
			}
		}
	case *ast.MappingValueNode:
		if n != nil {
			if n.Key != nil {
				visit(n.Key)
			}
			visit(n.Value)
		}
	case *ast.MappingKeyNode:
		if n != nil {
			visit(n.Value)
		}
	case *ast.SequenceNode:
		if n != nil {
			for _, v := range n.Values {
				visit(v)
			}
		}
	case *ast.SequenceEntryNode:
		if n != nil {
			visit(n.Value)
		}
	case *ast.TagNode:
		if n != nil {
			visit(n.Value)
		}
	case *ast.AnchorNode:
		if n != nil {
			visit(n.Value)
		}
	}
}

func nameOf(n ast.Node) string {
	if n == nil {
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}
