package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
)

// errMediaType is the one failure without a gohere kind of its own: it is
// Invalid to the CLI and 415 on the wire.
var errMediaType = gohere.Errorf(gohere.Invalid, "Content-Type must be application/json")

// statusOf maps an error to its HTTP status: the only place that does.
func statusOf(err error) int {
	if errors.Is(err, errMediaType) {
		return http.StatusUnsupportedMediaType
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
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "err", err)
		return "internal error"
	}
	return err.Error()
}

// apiError ends the request with {"error": "..."}.
func (s *Server) apiError(c *gin.Context, err error) {
	status := statusOf(err)
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="gohere"`)
	}
	c.AbortWithStatusJSON(status, gin.H{"error": s.publicMessage(c, err, status)})
}
