package store

import (
	"strings"
	"unicode/utf8"

	"github.com/gohere/gohere"
)

// Lookup keys come from URLs and query strings, where anything may arrive.
// PostgreSQL refuses NUL and invalid UTF-8 in a text parameter with an
// error (a 500 to the client) where SQLite finds nothing, so every read
// checks its keys before any query; both engines then answer alike. Every
// stored id and name passed gohere.ValidateName, so such a key names
// nothing.

// badKey reports a key no engine can look up.
func badKey(key string) bool { return strings.IndexByte(key, 0) >= 0 || !utf8.ValidString(key) }

// checkID makes a malformed id NotFound, as a well-formed unknown one is.
func checkID(what, id string) error {
	if badKey(id) {
		return gohere.Errorf(gohere.NotFound, "%s %q: not found", what, id)
	}
	return nil
}

// checkFilter makes a malformed filter value Invalid: a list would be empty,
// and the client has a bug.
func checkFilter(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if badKey(pairs[i+1]) {
			return gohere.Errorf(gohere.Invalid, "%s %q: want UTF-8 text without NUL", pairs[i], pairs[i+1])
		}
	}
	return nil
}
