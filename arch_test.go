package gohere_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gohere/gohere"

// ourAllowed lists, per domain package directory, the packages of ours it may
// import (DESIGN.md §2: arrows point down the table, never up).
var ourAllowed = map[string][]string{
	".":           nil,
	"judge":       {module, module + "/judge/stats"},
	"judge/stats": {module},
	"annotate":    {module},
	"compare":     {module},
	"dashboards":  {module, module + "/compare"},
	"fixtures":    {module},
}

// TestDomainImports fails when a domain package reaches for an adapter:
// database/sql, gin, or anything under internal/.
func TestDomainImports(t *testing.T) {
	for dir, allowed := range ourAllowed {
		t.Run(dir, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(dir, "*.go"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 && dir != "." {
				if _, err := os.Stat(dir); err == nil {
					t.Fatalf("%s has no Go files", dir)
				}
				t.Skipf("%s does not exist yet", dir)
			}
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				for _, imp := range imports(t, f) {
					if msg := forbidden(imp, allowed); msg != "" {
						t.Errorf("%s imports %s: %s", f, imp, msg)
					}
				}
			}
		})
	}
}

func forbidden(imp string, allowed []string) string {
	switch {
	case imp == "database/sql" || strings.HasPrefix(imp, "database/sql/"):
		return "domain packages never touch the database"
	case strings.HasPrefix(imp, "github.com/gin-gonic/"):
		return "domain packages never depend on the HTTP framework"
	case strings.HasPrefix(imp, module+"/internal/"):
		return "domain packages never import service plumbing"
	case (imp == module || strings.HasPrefix(imp, module+"/")) && !slices.Contains(allowed, imp):
		return "not allowed by DESIGN.md §2"
	}
	return ""
}

func imports(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	var out []string
	for _, s := range f.Imports {
		p, err := strconv.Unquote(s.Path.Value)
		if err != nil {
			t.Fatalf("%s: import %s: %v", file, s.Path.Value, err)
		}
		out = append(out, p)
	}
	return out
}

// TestForbiddenCatchesViolations keeps the rule itself honest.
func TestForbiddenCatchesViolations(t *testing.T) {
	for _, imp := range []string{"database/sql", "github.com/gin-gonic/gin", module + "/internal/store", module + "/judge"} {
		if forbidden(imp, []string{module}) == "" {
			t.Errorf("forbidden(%q) = allowed, want a violation", imp)
		}
	}
	if msg := forbidden(module, []string{module}); msg != "" {
		t.Errorf("forbidden(root) = %q, want allowed", msg)
	}
}
