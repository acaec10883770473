package grafanatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// spec is the part of Grafana's OpenAPI 3 description the double checks
// requests against: operations by method and path template, their
// parameters and request body schemas, and components/schemas for $ref.
type spec struct {
	ops     []operation
	schemas map[string]any
}

type operation struct {
	method   string
	segments []string // "/folders/{folder_uid}" → ["folders", "{folder_uid}"]
	params   []param
	body     map[string]any // nil: the operation takes no JSON body
	bodyReq  bool
}

type param struct {
	name, in string
	required bool
	schema   map[string]any
}

// specs caches parsed descriptions by path: the file is 800 kB and every
// test starts its own double.
var specs sync.Map // path → *specResult

type specResult struct {
	once sync.Once
	sp   *spec
	err  error
}

func loadSpec(path string) (*spec, error) {
	r, _ := specs.LoadOrStore(path, &specResult{})
	res := r.(*specResult)
	res.once.Do(func() { res.sp, res.err = parseSpec(path) })
	return res.sp, res.err
}

// defaultSpecPath walks up from the working directory to the module root
// (the directory holding go.mod) and returns ../shared/grafana/openapi3.json
// next to it.
func defaultSpecPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "grafana", "openapi3.json"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func parseSpec(path string) (*spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas    map[string]any            `json:"schemas"`
			Parameters map[string]map[string]any `json:"parameters"`
		} `json:"components"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("openapi %s: %w", path, err)
	}
	sp := &spec{schemas: doc.Components.Schemas}
	for p, item := range doc.Paths {
		for method, rawOp := range item {
			m := strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, m) {
				continue
			}
			var op struct {
				Parameters  []map[string]any `json:"parameters"`
				RequestBody *struct {
					Required bool `json:"required"`
					Content  map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			if err := json.Unmarshal(rawOp, &op); err != nil {
				return nil, fmt.Errorf("openapi %s: %s %s: %w", path, m, p, err)
			}
			o := operation{method: m, segments: splitPath(p)}
			for _, prm := range op.Parameters {
				if ref, ok := prm["$ref"].(string); ok {
					prm = doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]
				}
				name, _ := prm["name"].(string)
				in, _ := prm["in"].(string)
				req, _ := prm["required"].(bool)
				schema, _ := prm["schema"].(map[string]any)
				o.params = append(o.params, param{name: name, in: in, required: req, schema: schema})
			}
			if rb := op.RequestBody; rb != nil {
				if c, ok := rb.Content["application/json"]; ok {
					o.body, o.bodyReq = c.Schema, rb.Required
				}
			}
			sp.ops = append(sp.ops, o)
		}
	}
	return sp, nil
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// find returns the operation for a request path below /api. Literal
// segments win over templated ones, as in Grafana's router
// (/annotations/tags before /annotations/{annotation_id}). pathFound tells a
// wrong method from an unknown path.
func (sp *spec) find(method, apiPath string) (op *operation, pathFound bool) {
	segs := splitPath(apiPath)
	best := -1
	for i := range sp.ops {
		o := &sp.ops[i]
		literal, ok := matchSegments(o.segments, segs)
		if !ok {
			continue
		}
		pathFound = true
		if o.method == method && literal > best {
			op, best = o, literal
		}
	}
	return op, pathFound
}

func matchSegments(tmpl, segs []string) (literal int, ok bool) {
	if len(tmpl) != len(segs) {
		return 0, false
	}
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return 0, false
			}
			continue
		}
		if t != segs[i] {
			return 0, false
		}
		literal++
	}
	return literal, true
}

// check validates a request against the operation: query parameters (known
// names, types, enums, repetition only for arrays) and the JSON body.
// It returns every problem found.
func (sp *spec) check(op *operation, query url.Values, body []byte) []string {
	var errs []string
	declared := map[string]param{}
	for _, p := range op.params {
		if p.in == "query" {
			declared[p.name] = p
		}
	}
	for name, vals := range query {
		p, ok := declared[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("query parameter %q is not defined for this operation", name))
			continue
		}
		errs = append(errs, sp.checkQuery(name, vals, p.schema)...)
	}
	for _, p := range declared {
		if p.required && !query.Has(p.name) {
			errs = append(errs, fmt.Sprintf("query parameter %q is required", p.name))
		}
	}
	switch {
	case op.body == nil:
	case len(bytes.TrimSpace(body)) == 0:
		if op.bodyReq {
			errs = append(errs, "request body is required")
		}
	default:
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			errs = append(errs, "request body is not JSON: "+err.Error())
			break
		}
		if dec.More() {
			errs = append(errs, "request body has data after the JSON value")
			break
		}
		errs = append(errs, sp.validate(v, op.body, "body", 0)...)
	}
	return errs
}

func (sp *spec) checkQuery(name string, vals []string, schema map[string]any) []string {
	schema = sp.resolve(schema)
	if typ, _ := schema["type"].(string); typ == "array" {
		items, _ := schema["items"].(map[string]any)
		var errs []string
		for i, v := range vals {
			errs = append(errs, sp.checkScalar(fmt.Sprintf("query %s[%d]", name, i), v, items)...)
		}
		return errs
	}
	if len(vals) > 1 {
		return []string{fmt.Sprintf("query parameter %q is given %d times; it is not an array", name, len(vals))}
	}
	return sp.checkScalar("query "+name, vals[0], schema)
}

// checkScalar converts a query string value to the schema's type and
// validates it.
func (sp *spec) checkScalar(where, s string, schema map[string]any) []string {
	schema = sp.resolve(schema)
	var v any = s
	switch schema["type"] {
	case "integer", "number":
		v = json.Number(s)
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return []string{fmt.Sprintf("%s: %q is not a boolean", where, s)}
		}
		v = b
	}
	return sp.validate(v, schema, where, 0)
}

func (sp *spec) resolve(schema map[string]any) map[string]any {
	for range 32 { // bounded: a $ref cycle must not hang the double
		ref, ok := schema["$ref"].(string)
		if !ok {
			return schema
		}
		s, _ := sp.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		schema = s
	}
	return schema
}

// validate checks a decoded JSON value (numbers as json.Number) against the
// subset of JSON Schema the spec uses for gohere's endpoints: $ref, allOf,
// type, properties, required, additionalProperties, items, enum, nullable
// and the integer formats.
func (sp *spec) validate(v any, schema map[string]any, where string, depth int) []string {
	if depth > 64 {
		return []string{where + ": schema nests too deep"}
	}
	if ref, ok := schema["$ref"].(string); ok {
		s := sp.resolve(schema)
		if s == nil {
			return []string{fmt.Sprintf("%s: unresolvable $ref %s", where, ref)}
		}
		return sp.validate(v, s, where, depth+1)
	}
	var errs []string
	if all, ok := schema["allOf"].([]any); ok {
		for _, s := range all {
			if m, ok := s.(map[string]any); ok {
				errs = append(errs, sp.validate(v, m, where, depth+1)...)
			}
		}
	}
	typ, _ := schema["type"].(string)
	if v == nil {
		if typ != "" && schema["nullable"] != true {
			errs = append(errs, fmt.Sprintf("%s: null, want %s", where, typ))
		}
		return errs
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", where, v, enum))
	}
	switch typ {
	case "":
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %s, want object", where, jsonType(v)))
		}
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if name, _ := r.(string); name != "" {
					if _, present := obj[name]; !present {
						errs = append(errs, fmt.Sprintf("%s: required property %q is missing", where, name))
					}
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, sp.validate(obj[k], ps, where+"."+k, depth+1)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: property %q is not allowed", where, k))
				}
			case map[string]any:
				errs = append(errs, sp.validate(obj[k], ap, where+"."+k, depth+1)...)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %s, want array", where, jsonType(v)))
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range arr {
				errs = append(errs, sp.validate(e, items, fmt.Sprintf("%s[%d]", where, i), depth+1)...)
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %s, want string", where, jsonType(v)))
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a date-time", where, s))
			}
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %s, want integer", where, jsonType(v)))
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return append(errs, fmt.Sprintf("%s: %s is not an int64", where, n))
		}
		if schema["format"] == "int32" && (i < math.MinInt32 || i > math.MaxInt32) {
			errs = append(errs, fmt.Sprintf("%s: %d is out of int32 range", where, i))
		}
	case "number":
		n, ok := v.(json.Number)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %s, want number", where, jsonType(v)))
		}
		if _, err := n.Float64(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is not a number", where, string(n)))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %s, want boolean", where, jsonType(v)))
		}
	}
	return errs
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
