package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
)

// FlaggerPayload is the body Flagger posts to its webhooks (its
// CanaryWebhookPayload). Metadata is the webhook's own metadata map from
// the Canary resource, where gohere reads deploy_id, service, env, version
// and token.
type FlaggerPayload struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum"`
	Metadata  map[string]string `json:"metadata"`
}

// flaggerHook answers one Flagger webhook: 200 when open says the gate of
// the matching deploy lets Flagger go on, 403 (with why) while it does not.
// Flagger treats any other answer than 2xx as "not yet" and asks again at
// its next analysis interval.
func (s *Server) flaggerHook(open func(GateView) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var p FlaggerPayload
		if err := decodeLenientJSON(c, &p); err != nil {
			s.apiError(c, err)
			return
		}
		if _, err := s.flaggerIdentity(c, p); err != nil {
			s.apiError(c, err)
			return
		}
		ctx := c.Request.Context()
		id, err := s.flaggerDeploy(ctx, p)
		if err != nil {
			s.apiError(c, err)
			return
		}
		g, err := s.gateView(ctx, id)
		if err != nil {
			s.apiError(c, err)
			return
		}
		if !open(g) {
			c.JSON(http.StatusForbidden, gin.H{"error": "deploy " + id + ": " + g.Detail, "state": g.State, "report_url": g.ReportURL})
			return
		}
		c.JSON(http.StatusOK, g)
	}
}

// flaggerIdentity authenticates a Flagger webhook: Flagger sends no headers
// of its own choosing, so the token may also come as metadata.token.
func (s *Server) flaggerIdentity(c *gin.Context, p FlaggerPayload) (auth.Identity, error) {
	secret := p.Metadata["token"]
	if scheme, bearer, ok := strings.Cut(c.GetHeader("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		secret = strings.TrimSpace(bearer)
	}
	if secret == "" {
		c.Header("WWW-Authenticate", `Bearer realm="gohere"`)
		return auth.Identity{}, gohere.Errorf(gohere.Unauthorized, "missing token: send Authorization: Bearer <token> or put it in the webhook's metadata.token")
	}
	id, ok := s.opts.Tokens.Authenticate(secret) // constant time
	if !ok {
		return auth.Identity{}, gohere.Errorf(gohere.Unauthorized, "invalid token")
	}
	c.Set(identityKey, id)
	return id, nil
}

// flaggerDeploy finds the deploy a Flagger canary is about:
// metadata.deploy_id when given; otherwise the newest running deploy of
// service metadata.service (default: the canary's name) in env
// metadata.env (default: its namespace), of metadata.version if given.
func (s *Server) flaggerDeploy(ctx context.Context, p FlaggerPayload) (string, error) {
	if id := p.Metadata["deploy_id"]; id != "" {
		d, err := s.opts.Store.GetDeploy(ctx, id)
		return d.ID, err
	}
	service, env, version := p.Metadata["service"], p.Metadata["env"], p.Metadata["version"]
	if service == "" {
		service = p.Name
	}
	if env == "" {
		env = p.Namespace
	}
	for field, v := range map[string]string{"service (metadata.service or name)": service, "env (metadata.env or namespace)": env} {
		if err := gohere.ValidateName(field, v); err != nil {
			return "", err
		}
	}
	ds, err := s.opts.Store.ListDeploys(ctx, gohere.DeployFilter{Service: service, Env: env, Limit: 50})
	if err != nil {
		return "", err
	}
	for _, d := range ds {
		if d.Running() && (version == "" || d.Version == version) {
			return d.ID, nil
		}
	}
	what := service + " in " + env
	if version != "" {
		what += " version " + version
	}
	return "", gohere.Errorf(gohere.NotFound, "no running deploy of %s: record it with gohere deploy start, or set metadata.deploy_id", what)
}

// decodeLenientJSON reads one JSON object of at most MaxBodyBytes into v,
// ignoring unknown fields: a payload that other software defines may grow.
func decodeLenientJSON(c *gin.Context, v any) error {
	if c.Request.ContentLength > MaxBodyBytes {
		return gohere.Errorf(gohere.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return gohere.Errorf(gohere.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return gohere.Errorf(gohere.Invalid, "read request body: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err, body, v)
	}
	return nil
}
