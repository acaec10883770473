package judge

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/gohere/gohere"
)

// MaxConfigBytes bounds a canary config; real ones are a few KiB.
const MaxConfigBytes = 4 << 20

// LoadConfigFile reads a canary config file; see LoadConfig.
func LoadConfigFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, gohere.Errorf(gohere.Invalid, "canary config %s: %w", path, err)
	}
	defer f.Close()
	cfg, err := LoadConfig(f)
	if err != nil {
		return Config{}, gohere.Errorf(gohere.Invalid, "canary config %s: %w", path, err)
	}
	return cfg, nil
}

// LoadConfig reads a canary config: gohere's YAML (or the same as JSON),
// decoded strictly so that an unknown field is an error with its line, or
// a Kayenta canary config JSON, recognised by its shape (see
// ImportKayenta). It applies the defaults and validates: the error joins
// every problem, each with the line it concerns, and is of kind
// gohere.Invalid.
func LoadConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("read canary config: %w", err)
	}
	if len(data) > MaxConfigBytes {
		return Config{}, gohere.Errorf(gohere.Invalid, "canary config is larger than %d bytes", MaxConfigBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, gohere.Errorf(gohere.Invalid, "canary config is empty")
	}
	if isKayenta(data) {
		return ImportKayenta(bytes.NewReader(data))
	}
	cfg, err := decodeYAML(data)
	if err != nil {
		return Config{}, err
	}
	cfg = cfg.WithDefaults()
	if ps := cfg.problems(); len(ps) > 0 {
		// The decode succeeded, so the text parses: positions are a bonus.
		file, _ := parser.ParseBytes(data, 0)
		return Config{}, joinProblems(ps, file)
	}
	return cfg, nil
}

// decodeYAML decodes strictly, after refusing an alias bomb (the decoder
// expands aliases without a cap). goccy/go-yaml v1.19.2 panics on some
// malformed input (a tagged scalar where a list belongs, found by
// FuzzLoadConfig), so a panic there becomes an Invalid error.
func decodeYAML(data []byte) (cfg Config, err error) {
	defer func() {
		if recover() != nil {
			cfg, err = Config{}, gohere.Errorf(gohere.Invalid, "canary config is malformed: the YAML decoder gave up")
		}
	}()
	if err := gohere.CheckYAMLAliases(data); err != nil {
		return Config{}, err
	}
	if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.Strict()); err != nil {
		return Config{}, gohere.Errorf(gohere.Invalid, "%s", yamlError(err, data))
	}
	return cfg, nil
}

// yamlError renders a decoding error as "line L, column C: message"; a
// value of the wrong type as "line L, column C: config: metrics[2].critical:
// want true or false, got "ture"" (the decoder's own message names Go types).
func yamlError(err error, data []byte) string {
	if want, got, tk := wrongType(err); tk != nil && tk.Position != nil {
		file, _ := parser.ParseBytes(data, 0)
		return fmt.Sprintf("config: line %d, column %d: %s: want %s, got %s", tk.Position.Line, tk.Position.Column,
			cmp.Or(pathAt(file, tk.Position), "the config"), want, got)
	}
	if ye, ok := errors.AsType[yaml.Error](err); ok {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Sprintf("line %d, column %d: %s", tk.Position.Line, tk.Position.Column, ye.GetMessage())
		}
		return ye.GetMessage()
	}
	return err.Error()
}

// joinProblems turns findings into one Invalid error per problem, joined,
// with the line of each setting when the source file is known.
func joinProblems(ps []problem, file *ast.File) error {
	errs := make([]error, 0, len(ps))
	for _, p := range ps {
		where := p.path
		if line := lineOf(file, p.path); line > 0 {
			where = fmt.Sprintf("%s (line %d)", p.path, line)
		}
		errs = append(errs, gohere.Errorf(gohere.Invalid, "config: %s: %s", where, p.msg))
	}
	if len(errs) > 1 {
		// A heading line, so that each problem starts a line of its own
		// below whatever prefix the caller adds.
		return gohere.Errorf(gohere.Invalid, "%d problems:\n%w", len(errs), errors.Join(errs...))
	}
	return errors.Join(errs...)
}

// lineOf finds the line of a setting, or of its closest enclosing one when
// the setting itself is absent (a default that failed validation).
func lineOf(file *ast.File, path string) int {
	if file == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		yp, err := yaml.PathString("$." + p)
		if err != nil {
			continue
		}
		if node, err := yp.FilterFile(file); err == nil && node != nil {
			if tk := node.GetToken(); tk != nil && tk.Position != nil {
				return tk.Position.Line
			}
		}
	}
	return 0
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' || p[i] == '[' {
			return p[:i]
		}
	}
	return ""
}

// isKayenta recognises a Kayenta canary config: JSON with a "classifier"
// object, or metrics carrying "analysisConfigurations".
func isKayenta(data []byte) bool {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	var probe struct {
		Classifier json.RawMessage `json:"classifier"`
		Metrics    []struct {
			AnalysisConfigurations json.RawMessage `json:"analysisConfigurations"`
		} `json:"metrics"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return false
	}
	if len(probe.Classifier) > 0 {
		return true
	}
	for _, m := range probe.Metrics {
		if len(m.AnalysisConfigurations) > 0 {
			return true
		}
	}
	return false
}

// wrongType describes a value of the wrong type: what the setting wants,
// what it got and where; tk is nil for other errors.
func wrongType(err error) (want, got string, tk *token.Token) {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok && te.DstType != nil {
		return typeName(te.DstType), valueName(te.Token), te.Token
	}
	if ne, ok := errors.AsType[*yaml.UnexpectedNodeTypeError](err); ok {
		return nodeTypeName(ne.Expected), valueName(ne.Token), ne.Token
	}
	return "", "", nil
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "another value"
}

func nodeTypeName(t ast.NodeType) string {
	switch t {
	case ast.SequenceType:
		return "a list"
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	}
	return "a single value"
}

// valueName is the offending value as written, or what kind of value it
// is when it starts a list or a mapping.
func valueName(tk *token.Token) string {
	if tk == nil {
		return "another value"
	}
	switch tk.Type {
	case token.SequenceStartType, token.SequenceEntryType:
		return "a list"
	case token.MappingStartType, token.MappingValueType:
		return "a mapping"
	}
	return strconv.Quote(tk.Value)
}

// pathAt is the setting, in LoadConfig's path syntax (metrics[2].critical),
// whose value starts at pos; "" when none does.
func pathAt(file *ast.File, pos *token.Position) string {
	if file == nil {
		return ""
	}
	for _, doc := range file.Docs {
		if p, ok := findPath(doc.Body, "", pos); ok {
			return p
		}
	}
	return ""
}

func findPath(n ast.Node, path string, pos *token.Position) (string, bool) {
	if n == nil {
		return "", false
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil && path != "" &&
		tk.Position.Line == pos.Line && tk.Position.Column == pos.Column {
		return path, true
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, kv := range n.Values {
			if p, ok := findPath(kv, path, pos); ok {
				return p, true
			}
		}
	case *ast.MappingValueNode:
		if n.Key != nil {
			return findPath(n.Value, join(n.Key.GetToken().Value), pos)
		}
	case *ast.SequenceNode:
		for i, v := range n.Values {
			if p, ok := findPath(v, fmt.Sprintf("%s[%d]", path, i), pos); ok {
				return p, true
			}
		}
	case *ast.TagNode:
		return findPath(n.Value, path, pos)
	case *ast.AnchorNode:
		return findPath(n.Value, path, pos)
	}
	return "", false
}
