package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
)

// SessionStore keeps the sign-ins of people on the pages (*store.DB).
type SessionStore interface {
	CreateSession(ctx context.Context, name, role string, ttl time.Duration) (secret string, expires time.Time, err error)
	SessionByID(ctx context.Context, secret string, now time.Time) (name, role string, found bool, err error)
	DeleteSession(ctx context.Context, secret string) error
}

const (
	sessionCookie = "gohere_session"
	// sessionTTL is how long one paste of a token lasts: a working day,
	// not a week, because the cookie can approve and halt deploys.
	sessionTTL = 12 * time.Hour
	// maxFormBytes bounds a page form post: a token and a reason fit.
	maxFormBytes = 64 << 10
	viewerKey    = "gohere.viewer"
)

// chrome is what every page shows around its content: who is signed in.
// Each page struct embeds it; render fills it, which is why pages are
// rendered from a pointer.
type chrome struct {
	Viewer *auth.Identity // nil: nobody (or nobody allowed) is signed in
	// ViewerSession: signed in with a session cookie, so a Sign out button
	// makes sense (a proxy's sign-in ends at the proxy).
	ViewerSession bool
	// ViewerNote says why the person at the browser is nobody here, e.g.
	// the SSO proxy named someone who is not in --human-users.
	ViewerNote string
	// SignInURL is the login page coming back to this page; empty on the
	// login page itself.
	SignInURL string
}

func (p *chrome) setChrome(c chrome) { *p = c }

// chromed is a page struct rendered from a pointer.
type chromed interface{ setChrome(chrome) }

// viewerInfo is the person of one request, looked up once.
type viewerInfo struct {
	id      auth.Identity
	ok      bool
	session bool
	note    string
}

// viewer is the signed-in person of a page request, by session cookie or
// the trusted SSO proxy: only the roles human and admin, who may decide.
func (s *Server) viewer(c *gin.Context) (auth.Identity, bool) {
	v := s.who(c)
	return v.id, v.ok
}

func (s *Server) who(c *gin.Context) viewerInfo {
	if v, ok := c.Get(viewerKey); ok { // looked up already, or set by trustProxy
		return v.(viewerInfo)
	}
	v := s.sessionViewer(c)
	c.Set(viewerKey, v)
	return v
}

func (s *Server) sessionViewer(c *gin.Context) viewerInfo {
	secret, err := c.Cookie(sessionCookie)
	if err != nil || secret == "" || s.opts.Sessions == nil {
		return viewerInfo{}
	}
	ctx := c.Request.Context()
	name, role, found, err := s.opts.Sessions.SessionByID(ctx, secret, time.Now())
	if err != nil {
		// The page still renders, signed out; its own queries say more if
		// the database is down.
		s.log.WarnContext(ctx, "read session", "err", err)
		return viewerInfo{}
	}
	if !found || !auth.Role(role).CanDecide() {
		return viewerInfo{}
	}
	return viewerInfo{id: auth.Identity{Name: name, Role: auth.Role(role)}, ok: true, session: true}
}

func (s *Server) chromeOf(c *gin.Context) chrome {
	v := s.who(c)
	ch := chrome{ViewerSession: v.session, ViewerNote: v.note}
	if v.ok {
		id := v.id
		ch.Viewer = &id
	}
	// After signing in, back to this page; a form post is no page to come
	// back to, so its error page leads home.
	back := "/"
	if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead {
		back = safeNext(c.Request.URL.RequestURI())
	}
	if c.Request.URL.Path != "/login" {
		ch.SignInURL = "/login?next=" + url.QueryEscape(back)
	}
	return ch
}

// checkForm refuses a page form post that another site made the browser
// send (CSRF) with a Forbidden error, and bounds the form's size. Call it
// before reading the form.
func (s *Server) checkForm(c *gin.Context) error {
	if err := s.crossOrigin.Check(c.Request); err != nil {
		return gohere.Errorf(gohere.Forbidden, "refused a form post from another site: %w", err)
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	return nil
}

// newCrossOrigin protects the page forms; the public URL is our own
// origin even when a proxy in front rewrites the Host header.
func newCrossOrigin(publicURL string) (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, gohere.Errorf(gohere.Invalid, "public URL %s: %w", u.Redacted(), err)
		}
	}
	return cop, nil
}

type loginPage struct {
	chrome
	Title   string
	Next    string // where to go once signed in
	Message string // why the last attempt failed; never the token
	// NoSessions: this server keeps no sessions, so no token signs in.
	NoSessions bool
	Proxy      string // the trusted proxy's header, when one is configured
}

func (s *Server) newLoginPage(next string) loginPage {
	return loginPage{Title: "Sign in", Next: safeNext(next), NoSessions: s.opts.Sessions == nil, Proxy: s.opts.TrustedProxyHeader}
}

// loginPage asks for a human or admin token.
func (s *Server) loginPage(c *gin.Context) {
	p := s.newLoginPage(c.Query("next"))
	status := http.StatusOK
	if p.NoSessions {
		status = http.StatusServiceUnavailable
	}
	s.render(c, status, "login.html", &p)
}

// login trades a token for a session cookie and goes back to next.
func (s *Server) login(c *gin.Context) {
	if err := s.checkForm(c); err != nil {
		s.pageError(c, err)
		return
	}
	ctx := c.Request.Context()
	p := s.newLoginPage(c.PostForm("next"))
	fail := func(status int, msg string) {
		s.log.InfoContext(ctx, "sign-in refused", "status", status)
		p.Message = msg
		s.render(c, status, "login.html", &p)
	}
	if p.NoSessions {
		fail(http.StatusServiceUnavailable, "This server keeps no sessions, so no token can sign in here.")
		return
	}
	token := strings.TrimSpace(c.PostForm("token"))
	id, ok := s.opts.Tokens.Authenticate(token)
	switch {
	case token == "":
		fail(http.StatusBadRequest, "Paste your human or admin token.")
		return
	case !ok:
		fail(http.StatusUnauthorized, "That is not a token of this server. Paste your human or admin token.")
		return
	case !id.Role.CanDecide():
		fail(http.StatusForbidden, fmt.Sprintf("Token %s is a %s token: the pages take a human or admin token, because the person signed in here approves and halts deploys.", id.Name, id.Role))
		return
	}
	secret, _, err := s.opts.Sessions.CreateSession(ctx, id.Name, string(id.Role), sessionTTL)
	if err != nil {
		s.pageError(c, err)
		return
	}
	// A new secret at every sign-in: a cookie planted before it (session
	// fixation) signs nobody in afterwards; the old session ends.
	if old, err := c.Cookie(sessionCookie); err == nil && old != "" {
		if err := s.opts.Sessions.DeleteSession(ctx, old); err != nil {
			s.log.WarnContext(ctx, "end the previous session", "err", err)
		}
	}
	s.setSessionCookie(c, secret, int(sessionTTL/time.Second))
	s.log.InfoContext(ctx, "signed in", "actor", id.Name, "role", string(id.Role))
	c.Redirect(http.StatusSeeOther, p.Next)
}

// logout ends the session on the server, so that a copy of the cookie
// signs nobody in either, and clears the cookie.
func (s *Server) logout(c *gin.Context) {
	if err := s.checkForm(c); err != nil {
		s.pageError(c, err)
		return
	}
	if secret, err := c.Cookie(sessionCookie); err == nil && secret != "" && s.opts.Sessions != nil {
		if err := s.opts.Sessions.DeleteSession(c.Request.Context(), secret); err != nil {
			s.pageError(c, err) // not signed out: never pretend otherwise
			return
		}
	}
	s.setSessionCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/")
}

// setSessionCookie sets the cookie for maxAge seconds; negative deletes it.
func (s *Server) setSessionCookie(c *gin.Context, secret string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     sessionCookie,
		Value:    secret,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   strings.HasPrefix(s.opts.PublicURL, "https://"),
		SameSite: http.SameSiteLaxMode,
	})
}

// safeNext is next if it is a path on this server, else "/": a login link
// must never send a person on to another site (open redirect).
func safeNext(next string) string {
	// "//host" and "/\host" are other hosts to browsers, which also drop
	// tabs and newlines from URLs.
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') ||
		strings.ContainsFunc(next, unicode.IsControl) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// trustProxy takes the person named by the trusted SSO proxy's header. The
// header is believed only from a peer inside the trusted CIDRs (the TCP
// peer, never X-Forwarded-For, which anyone can send); from anywhere else
// it is a forgery and the request is refused.
func (s *Server) trustProxy(c *gin.Context) {
	h := s.opts.TrustedProxyHeader
	values := c.Request.Header.Values(h)
	if len(values) == 0 {
		c.Next()
		return
	}
	peer, trusted := s.fromTrustedProxy(c.Request)
	switch {
	case !trusted:
		s.refuse(c, gohere.Errorf(gohere.Forbidden, "header %s is accepted only from the trusted proxy, not from %s", h, peer))
		return
	case len(values) > 1:
		// A proxy that appends instead of replacing would let the client's
		// own value through.
		s.refuse(c, gohere.Errorf(gohere.Forbidden, "%d %s headers: the trusted proxy must send exactly one", len(values), h))
		return
	}
	name := strings.TrimSpace(values[0])
	if name == "" { // the proxy signed nobody in
		c.Next()
		return
	}
	v := viewerInfo{}
	if role, listed := s.opts.HumanUsers[name]; listed {
		v = viewerInfo{id: auth.Identity{Name: name, Role: role}, ok: true}
	} else {
		if len(name) > gohere.MaxNameLen {
			name = name[:gohere.MaxNameLen] + "…"
		}
		v.note = name + " is not in --human-users"
	}
	c.Set(viewerKey, v) // the proxy's word wins over any session cookie
	c.Next()
}

func (s *Server) fromTrustedProxy(r *http.Request) (string, bool) {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		addr = a
	} else {
		return "an unknown peer", false
	}
	addr = addr.Unmap().WithZone("")
	return addr.String(), slices.ContainsFunc(s.opts.TrustedProxyCIDRs, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// refuse ends a request with err: JSON on the API, the error page elsewhere.
func (s *Server) refuse(c *gin.Context, err error) {
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		s.apiError(c, err)
		return
	}
	s.pageError(c, err)
}

// validateIdentity checks the sign-in options and defaults Sessions to the
// Store's.
func (o *Options) validateIdentity() error {
	if o.Sessions == nil {
		o.Sessions, _ = o.Store.(SessionStore)
	}
	o.TrustedProxyHeader = strings.TrimSpace(o.TrustedProxyHeader)
	if err := ValidateTrustedProxy(o.TrustedProxyHeader, o.TrustedProxyCIDRs, o.HumanUsers); err != nil {
		return err
	}
	if o.TrustedProxyHeader != "" {
		o.TrustedProxyHeader = http.CanonicalHeaderKey(o.TrustedProxyHeader)
	}
	return nil
}

// ValidateTrustedProxy checks the trusted proxy options together, in the
// words of the gohere serve flags, so that a start fails before anything
// opens.
func ValidateTrustedProxy(header string, cidrs []netip.Prefix, users map[string]auth.Role) error {
	var errs []error
	switch h := header; {
	case h != "" && !validHeaderName(h):
		errs = append(errs, gohere.Errorf(gohere.Invalid, "--trusted-proxy-header %q: want a header name like X-Forwarded-User", h))
	case h != "" && len(cidrs) == 0:
		errs = append(errs, gohere.Errorf(gohere.Invalid, "--trusted-proxy-header %s needs the proxy's addresses: set --trusted-proxy-cidr", h))
	case h == "" && len(cidrs) > 0:
		errs = append(errs, gohere.Errorf(gohere.Invalid, "--trusted-proxy-cidr is set but --trusted-proxy-header is not"))
	case h == "" && len(users) > 0:
		errs = append(errs, gohere.Errorf(gohere.Invalid, "--human-users is set but --trusted-proxy-header is not: the list maps the proxy's names to roles"))
	}
	for _, p := range cidrs {
		if !p.IsValid() {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "--trusted-proxy-cidr %s is not valid", p))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(users)) {
		if err := gohere.ValidateName("--human-users name", name); err != nil {
			errs = append(errs, err)
		}
		if r := users[name]; !r.CanDecide() {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "--human-users %s: role %q: want human or admin", name, r))
		}
	}
	return errors.Join(errs...)
}

func validHeaderName(h string) bool {
	return h != "" && !strings.ContainsFunc(h, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
}

// ParseHumanUsers reads --human-users: comma-separated names, each a human,
// or name:admin for an admin (name:human is accepted too).
func ParseHumanUsers(s string) (map[string]auth.Role, error) {
	users := map[string]auth.Role{}
	for i, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		name, role, hasRole := strings.Cut(e, ":")
		r := auth.RoleHuman
		if hasRole {
			r = auth.Role(role)
		}
		if !r.CanDecide() {
			return nil, gohere.Errorf(gohere.Invalid, "--human-users entry %d: role %q: want name or name:admin", i+1, role)
		}
		if err := gohere.ValidateName(fmt.Sprintf("--human-users entry %d", i+1), name); err != nil {
			return nil, err
		}
		if _, dup := users[name]; dup {
			return nil, gohere.Errorf(gohere.Invalid, "--human-users: %s is listed twice", name)
		}
		users[name] = r
	}
	if len(users) == 0 {
		return nil, nil
	}
	return users, nil
}

// ParseTrustedCIDRs reads --trusted-proxy-cidr values: address ranges like
// 10.0.0.0/8, or single addresses.
func ParseTrustedCIDRs(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, gohere.Errorf(gohere.Invalid, "--trusted-proxy-cidr %q: want an address range like 10.0.0.0/8", v)
			}
			a = a.Unmap().WithZone("")
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
