package server

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
)

// errMediaType is the one failure without a gohere kind of its own: it is
// Invalid to the CLI and 415 on the wire.
var errMediaType = gohere.Errorf(gohere.Invalid, "Content-Type must be application/json")

// errMethod is a known path asked with a method it does not serve: Invalid
// to the CLI, 405 on the wire.
var errMethod = gohere.Errorf(gohere.Invalid, "method not allowed")

// statusOf maps an error to its HTTP status: the only place that does.
func statusOf(err error) int {
	if errors.Is(err, errMediaType) {
		return http.StatusUnsupportedMediaType
	}
	if errors.Is(err, errMethod) {
		return http.StatusMethodNotAllowed
	}
	switch gohere.KindOf(err) {
	case gohere.Invalid:
		return http.StatusBadRequest
	case gohere.Unauthorized:
		return http.StatusUnauthorized
	case gohere.Forbidden:
		return http.StatusForbidden
	case gohere.NotFound:
		return http.StatusNotFound
	case gohere.Conflict:
		return http.StatusConflict
	case gohere.TooLarge:
		return http.StatusRequestEntityTooLarge
	case gohere.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// publicMessage is what a user may see of err: internal errors are logged
// and replaced by a generic text.
func (s *Server) publicMessage(c *gin.Context, err error, status int) string {
	if status >= 500 {
		// The operator needs the cause (the driver's message, "disk
		// full"); the user gets only what is safe to show.
		s.log.ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "status", status, "err", withCauses(err))
	}
	if status == http.StatusInternalServerError {
		return "internal error"
	}
	return err.Error()
}

// withCauses is err's message with the causes its gohere errors keep out
// of their user-facing text (a database driver's error, say).
func withCauses(err error) string {
	msg := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ge, ok := e.(*gohere.Error); ok && ge.Err != nil && !strings.Contains(msg, ge.Err.Error()) {
			msg += ": " + ge.Err.Error()
		}
	}
	return msg
}

// apiError ends the request with {"error": "..."}.
func (s *Server) apiError(c *gin.Context, err error) {
	status := statusOf(err)
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="gohere"`)
	}
	c.AbortWithStatusJSON(status, gin.H{"error": s.publicMessage(c, err, status)})
}

// jsonError says what is wrong with a JSON body that failed to decode into
// v, in the request's terms (a field, a JSON type, a byte offset), never
// Go's (type names, UnmarshalJSON methods).
func jsonError(err error, body []byte, v any) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return gohere.Errorf(gohere.Invalid, "malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return gohere.Errorf(gohere.Invalid, "malformed JSON at byte %d: unexpected end of input", len(body))
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return gohere.Errorf(gohere.Invalid, "malformed JSON: want a JSON object, got %s", gotJSON(te.Value))
		}
		return gohere.Errorf(gohere.Invalid, "malformed JSON: field %s: want %s, got %s", te.Field, wantJSON(te.Type), gotJSON(te.Value))
	}
	if field, unknown := strings.CutPrefix(err.Error(), "json: unknown field "); unknown {
		return gohere.Errorf(gohere.Invalid, "malformed JSON: unknown field %s", field)
	}
	// Times fail in their own UnmarshalJSON, which knows no field: find it.
	if name, raw, ok := badTime(body, reflect.TypeOf(v), ""); ok && name != "" {
		return gohere.Errorf(gohere.Invalid, "malformed JSON: field %s: want %s, got %s", name, wantTime, gotValue(raw))
	}
	if _, ok := errors.AsType[*time.ParseError](err); ok || strings.HasPrefix(err.Error(), "Time.") {
		return gohere.Errorf(gohere.Invalid, "malformed JSON: a time: want %s", wantTime)
	}
	return gohere.Errorf(gohere.Invalid, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

const wantTime = "an RFC 3339 time such as 2026-11-23T08:00:00Z"

var timeType = reflect.TypeFor[time.Time]()

// badTime finds the first time in raw, decoded as t, that does not decode:
// its path (changes[2].at) and value. Names match as encoding/json
// matches them, ignoring case.
func badTime(raw json.RawMessage, t reflect.Type, path string) (string, json.RawMessage, bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return "", nil, false
	case t == timeType:
		return path, raw, json.Unmarshal(raw, new(time.Time)) != nil
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", nil, false
		}
		for i, item := range items {
			if p, r, ok := badTime(item, t.Elem(), path+"["+strconv.Itoa(i)+"]"); ok {
				return p, r, true
			}
		}
	case t.Kind() == reflect.Map:
		var items map[string]json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", nil, false
		}
		for key, item := range items {
			if p, r, ok := badTime(item, t.Elem(), joinPath(path, key)); ok {
				return p, r, true
			}
		}
	case t.Kind() == reflect.Struct:
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			return "", nil, false
		}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "-" || !f.IsExported() && !f.Anonymous:
				continue
			case name == "" && f.Anonymous: // its fields are the struct's own
				if p, r, ok := badTime(raw, f.Type, path); ok {
					return p, r, true
				}
				continue
			}
			name = cmp.Or(name, f.Name)
			for key, item := range fields {
				if !strings.EqualFold(key, name) {
					continue
				}
				if p, r, ok := badTime(item, f.Type, joinPath(path, name)); ok {
					return p, r, true
				}
			}
		}
	}
	return "", nil, false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// wantJSON names the JSON a Go type takes.
func wantJSON(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another JSON value"
}

// gotJSON names what an UnmarshalTypeError found: "string", "number 1.5".
func gotJSON(value string) string {
	switch value {
	case "string", "number":
		return "a " + value
	case "object", "array":
		return "an " + value
	case "bool":
		return "true or false"
	}
	if n, ok := strings.CutPrefix(value, "number "); ok {
		return n
	}
	return value
}

// gotValue describes a raw JSON value: a string as itself (cut short),
// anything else by its type.
func gotValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if len(s) > 64 {
			s = strings.ToValidUTF8(s[:64], "") + "…"
		}
		return strconv.Quote(s)
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true or false"
	}
	return "a number"
}
