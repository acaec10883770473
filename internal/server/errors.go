package server

import (
	"errors"
	"net/http"
	"strings"

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
