package gohere

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error for the edges: each adapter maps it once, to an
// HTTP status (internal/server) or a CLI exit code (cmd/gohere).
type Kind int

const (
	Internal Kind = iota
	Invalid
	NotFound
	Conflict
	Unauthorized
	Forbidden
	TooLarge
	Unavailable
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case TooLarge:
		return "too large"
	case Unavailable:
		return "unavailable"
	}
	return "internal"
}

// Error is an error with a Kind. Msg is the whole message, safe to show to
// users: Errorf already formats a %w cause into it.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the wrapped cause, for errors.Is/As
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a user-facing error of the given kind. A %w verb wraps the
// cause as with fmt.Errorf.
func Errorf(kind Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return Internal
}

// Sentinels for states callers branch on.
var (
	ErrNotFound = &Error{Kind: NotFound, Msg: "not found"}
	ErrConflict = &Error{Kind: Conflict, Msg: "conflict"}
	ErrNoData   = &Error{Kind: Invalid, Msg: "no data"}
)

// KindOfStatus classifies a failed HTTP call by the status it got, for
// clients of gohere's and other services' APIs. Unavailable means "try
// again later": no response at all (status 0: refused, timed out), 429 or
// 5xx, or a 2xx whose body did not decode (a proxy's error page, say).
func KindOfStatus(status int) Kind {
	switch {
	case status == 0 || status == http.StatusTooManyRequests || status >= 500 || (status >= 200 && status < 300):
		return Unavailable
	case status == http.StatusUnauthorized:
		return Unauthorized
	case status == http.StatusForbidden:
		return Forbidden
	case status == http.StatusNotFound:
		return NotFound
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		return Conflict
	case status == http.StatusRequestEntityTooLarge:
		return TooLarge
	case status >= 400:
		return Invalid
	}
	return Internal
}
