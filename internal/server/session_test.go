package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
)

// sessionEnv is a server with the sign-in options a test sets.
type sessionEnv struct {
	h    http.Handler
	db   *store.DB
	logs *syncBuffer
}

func newSessionEnv(tb testing.TB, set func(*server.Options)) *sessionEnv {
	tb.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret + ",human:alice:" + humanSecret + ",admin:root:" + adminSecret)
	if err != nil {
		tb.Fatal(err)
	}
	e := &sessionEnv{db: openStore(tb), logs: &syncBuffer{}}
	opts := server.Options{
		Store:     e.db,
		Tokens:    tokens,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PublicURL: "https://gohere.example",
	}
	if set != nil {
		set(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	e.h = srv.Handler()
	return e
}

// pageReq is one browser request.
type pageReq struct {
	method, path string
	form         url.Values // sent as a urlencoded body
	cookie       *http.Cookie
	header       http.Header
	remote       string // peer address; default httptest's 192.0.2.1:1234
}

func (e *sessionEnv) do(tb testing.TB, r pageReq) *httptest.ResponseRecorder {
	tb.Helper()
	var hr *http.Request
	if r.form != nil {
		hr = httptest.NewRequestWithContext(tb.Context(), r.method, r.path, strings.NewReader(r.form.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		hr = httptest.NewRequestWithContext(tb.Context(), r.method, r.path, nil)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

func (e *sessionEnv) login(tb testing.TB, token, next string) *httptest.ResponseRecorder {
	tb.Helper()
	return e.do(tb, pageReq{method: "POST", path: "/login", form: url.Values{"token": {token}, "next": {next}}})
}

// sessionCookie is the gohere_session cookie a response sets, nil if none.
func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == "gohere_session" {
			return c
		}
	}
	return nil
}

// signedIn signs alice in and returns her cookie.
func (e *sessionEnv) signedIn(tb testing.TB, token string) *http.Cookie {
	tb.Helper()
	w := e.login(tb, token, "/")
	c := sessionCookie(w)
	if w.Code != http.StatusSeeOther || c == nil || c.Value == "" {
		tb.Fatalf("POST /login: %d, cookie %v; want 303 and a session cookie\n%s", w.Code, c, w.Body)
	}
	return &http.Cookie{Name: c.Name, Value: c.Value}
}

// home is the timeline page as the cookie's owner sees it.
func (e *sessionEnv) home(tb testing.TB, cookie *http.Cookie) string {
	tb.Helper()
	w := e.do(tb, pageReq{method: "GET", path: "/", cookie: cookie})
	if w.Code != http.StatusOK {
		tb.Fatalf("GET /: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

func TestLoginSetsSessionCookie(t *testing.T) {
	for _, tt := range []struct {
		publicURL  string
		wantSecure bool
	}{
		{"https://gohere.example", true},
		{"http://127.0.0.1:8080", false},
	} {
		t.Run(tt.publicURL, func(t *testing.T) {
			e := newSessionEnv(t, func(o *server.Options) { o.PublicURL = tt.publicURL })
			w := e.login(t, humanSecret, "/deploys/abc?x=1")
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/deploys/abc?x=1" {
				t.Fatalf("POST /login: %d Location %q; want 303 to /deploys/abc?x=1\n%s", w.Code, w.Header().Get("Location"), w.Body)
			}
			c := sessionCookie(w)
			if c == nil {
				t.Fatalf("no gohere_session cookie in %q", w.Header().Values("Set-Cookie"))
			}
			got := struct {
				Path     string
				MaxAge   int
				HttpOnly bool
				Secure   bool
				SameSite http.SameSite
			}{c.Path, c.MaxAge, c.HttpOnly, c.Secure, c.SameSite}
			want := got
			want.Path, want.MaxAge, want.HttpOnly, want.Secure, want.SameSite = "/", 12*60*60, true, tt.wantSecure, http.SameSiteLaxMode
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cookie attributes (-want +got):\n%s", diff)
			}
			if strings.Contains(c.Value, humanSecret) || len(c.Value) < 40 {
				t.Errorf("cookie value %q: want a fresh random secret, not the token", c.Value)
			}
			if strings.Contains(e.logs.String(), humanSecret) {
				t.Error("the log holds the token")
			}

			page := e.home(t, &http.Cookie{Name: c.Name, Value: c.Value})
			for _, want := range []string{`signed in as <strong class="viewer-name">alice</strong>`, `action="/logout"`, "Sign out"} {
				if !strings.Contains(page, want) {
					t.Errorf("timeline page lacks %q:\n%s", want, page)
				}
			}
			if strings.Contains(page, "(admin)") || strings.Contains(page, ">Sign in<") {
				t.Errorf("a human's page shows (admin) or Sign in:\n%s", page)
			}
		})
	}
}

func TestLoginAdminAndPages(t *testing.T) {
	e := newSessionEnv(t, nil)
	cookie := e.signedIn(t, adminSecret)
	for _, path := range []string{"/", "/login", "/deploys/nope", "/compare?service=a&env=prod&canary=v2&start=2026-01-02T03:04:05Z"} {
		w := e.do(t, pageReq{method: "GET", path: path, cookie: cookie})
		if body := w.Body.String(); !strings.Contains(body, `<strong class="viewer-name">root</strong> (admin)`) {
			t.Errorf("GET %s (%d) does not show the admin signed in:\n%s", path, w.Code, body)
		}
		if got := w.Header().Get("Cache-Control"); got != "private, no-store" {
			t.Errorf("GET %s: Cache-Control %q, want private, no-store", path, got)
		}
	}
	if strings.Contains(e.logs.String(), "without who is signed in") {
		t.Errorf("a page was rendered without its chrome:\n%s", e.logs)
	}
}

func TestLoginPageSignedOut(t *testing.T) {
	e := newSessionEnv(t, nil)
	w := e.do(t, pageReq{method: "GET", path: "/login?next=/deploys/abc"})
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `name="next" value="/deploys/abc"`) || !strings.Contains(body, `type="password"`) {
		t.Fatalf("GET /login: %d\n%s", w.Code, body)
	}
	if strings.Contains(body, "signed in as") || strings.Contains(body, ">Sign in</a>") {
		t.Errorf("the login page links to itself or shows somebody signed in:\n%s", body)
	}
	page := e.home(t, nil)
	if !strings.Contains(page, `<a href="/login?next=%2F">Sign in</a>`) {
		t.Errorf("timeline page signed out lacks its Sign in link:\n%s", page)
	}
	w = e.do(t, pageReq{method: "GET", path: "/deploys/nope?a=1"})
	if !strings.Contains(w.Body.String(), `<a href="/login?next=%2Fdeploys%2Fnope%3Fa%3D1">Sign in</a>`) {
		t.Errorf("the error page's Sign in link does not come back to it:\n%s", w.Body)
	}
	// A stale or forged cookie is nobody.
	for _, v := range []string{"forged", strings.Repeat("A", 43)} {
		if page := e.home(t, &http.Cookie{Name: "gohere_session", Value: v}); strings.Contains(page, "signed in as") {
			t.Errorf("cookie %q signs somebody in", v)
		}
	}
}

func TestLoginRefusesCIToken(t *testing.T) {
	e := newSessionEnv(t, nil)
	w := e.login(t, ciSecret, "/")
	body := w.Body.String()
	if w.Code != http.StatusForbidden || sessionCookie(w) != nil {
		t.Fatalf("POST /login with a ci token: %d, cookie %v; want 403 and none", w.Code, sessionCookie(w))
	}
	if !strings.Contains(body, "pipeline is a ci token") || !strings.Contains(body, "human or admin") {
		t.Errorf("the page does not say why a ci token cannot sign in:\n%s", body)
	}
	if strings.Contains(body, ciSecret) {
		t.Error("the page echoes the token")
	}
}

func TestLoginBadToken(t *testing.T) {
	e := newSessionEnv(t, nil)
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"unknown", "not-a-token-of-this-server-0123", http.StatusUnauthorized},
		{"almost", humanSecret + "x", http.StatusUnauthorized},
		{"empty", "", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.login(t, tt.token, "/deploys/abc")
			body := w.Body.String()
			if w.Code != tt.want || sessionCookie(w) != nil || w.Header().Get("Location") != "" {
				t.Fatalf("POST /login: %d, cookie %v, Location %q; want %d, no cookie, no redirect", w.Code, sessionCookie(w), w.Header().Get("Location"), tt.want)
			}
			if !strings.Contains(body, `class="error"`) || !strings.Contains(body, `name="next" value="/deploys/abc"`) {
				t.Errorf("want the login page again with a message and next kept:\n%s", body)
			}
			if tt.token != "" && strings.Contains(body, tt.token) {
				t.Error("the page echoes the token")
			}
		})
	}
}

func TestLoginNextOpenRedirect(t *testing.T) {
	e := newSessionEnv(t, nil)
	for _, tt := range []struct{ next, want string }{
		{"/deploys/abc", "/deploys/abc"},
		{"/?service=checkout&env=prod", "/?service=checkout&env=prod"},
		{"//evil.example", "/"},
		{"//evil.example/deploys", "/"},
		{"https://evil.example", "/"},
		{"https://evil.example/deploys/abc", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"\t//evil.example", "/"},
		{"evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"", "/"},
	} {
		t.Run(tt.next, func(t *testing.T) {
			w := e.login(t, humanSecret, tt.next)
			if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != tt.want {
				t.Errorf("next=%q: %d Location %q; want 303 to %q", tt.next, w.Code, got, tt.want)
			}
		})
	}
	w := e.do(t, pageReq{method: "GET", path: "/login?next=" + url.QueryEscape("//evil.example")})
	if !strings.Contains(w.Body.String(), `name="next" value="/"`) {
		t.Errorf("the login page keeps a foreign next:\n%s", w.Body)
	}
}

func TestLogoutRevokesSession(t *testing.T) {
	e := newSessionEnv(t, nil)
	cookie := e.signedIn(t, humanSecret)
	other := e.signedIn(t, adminSecret)
	if page := e.home(t, cookie); !strings.Contains(page, "signed in as") {
		t.Fatalf("not signed in after login:\n%s", page)
	}
	w := e.do(t, pageReq{method: "POST", path: "/logout", form: url.Values{}, cookie: cookie})
	cleared := sessionCookie(w)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("POST /logout: %d Location %q; want 303 to /", w.Code, w.Header().Get("Location"))
	}
	if cleared == nil || cleared.Value != "" || cleared.MaxAge >= 0 || !cleared.HttpOnly {
		t.Errorf("POST /logout sets %v; want the cookie cleared (Max-Age=0)", cleared)
	}
	// The old cookie, replayed, signs nobody in: the session is gone on
	// the server, not just in the browser.
	if page := e.home(t, cookie); strings.Contains(page, "signed in as") || !strings.Contains(page, ">Sign in</a>") {
		t.Errorf("the old cookie still signs in after logout:\n%s", page)
	}
	if _, _, found, err := e.db.SessionByID(t.Context(), cookie.Value, time.Now()); err != nil || found {
		t.Errorf("session after logout: found %v, %v; want deleted", found, err)
	}
	if page := e.home(t, other); !strings.Contains(page, "root") {
		t.Errorf("logout ended another person's session too:\n%s", page)
	}
	// Signed out already, or never signed in: still a redirect home.
	if w := e.do(t, pageReq{method: "POST", path: "/logout", form: url.Values{}}); w.Code != http.StatusSeeOther {
		t.Errorf("POST /logout without a session: %d, want 303", w.Code)
	}
}

func TestLoginReplacesPreviousSession(t *testing.T) {
	e := newSessionEnv(t, nil)
	planted := e.signedIn(t, humanSecret)
	w := e.do(t, pageReq{method: "POST", path: "/login", form: url.Values{"token": {adminSecret}}, cookie: planted})
	if w.Code != http.StatusSeeOther || sessionCookie(w) == nil {
		t.Fatalf("second login: %d", w.Code)
	}
	if page := e.home(t, planted); strings.Contains(page, "signed in as") {
		t.Error("the cookie from before a new sign-in still signs in")
	}
}

func TestLoginCrossOriginRefused(t *testing.T) {
	e := newSessionEnv(t, nil)
	cookie := e.signedIn(t, humanSecret)
	for _, tt := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"sec-fetch-site cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"sec-fetch-site same-site", http.Header{"Sec-Fetch-Site": {"same-site"}}, http.StatusForbidden},
		{"origin mismatch", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"sec-fetch-site same-origin", http.Header{"Sec-Fetch-Site": {"same-origin"}}, http.StatusSeeOther},
		{"origin is the host", http.Header{"Origin": {"http://example.com"}}, http.StatusSeeOther},
		// Behind a proxy that rewrites Host, the public URL is our origin.
		{"origin is the public URL", http.Header{"Origin": {"https://gohere.example"}}, http.StatusSeeOther},
		{"no browser headers", nil, http.StatusSeeOther},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, pageReq{method: "POST", path: "/login", form: url.Values{"token": {humanSecret}}, header: tt.header})
			if w.Code != tt.want {
				t.Fatalf("POST /login: %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
			if tt.want == http.StatusForbidden {
				if sessionCookie(w) != nil {
					t.Error("a refused login set a cookie")
				}
				if !strings.Contains(w.Body.String(), "refused a form post from another site") {
					t.Errorf("the error page does not say why:\n%s", w.Body)
				}
				w := e.do(t, pageReq{method: "POST", path: "/logout", form: url.Values{}, cookie: cookie, header: tt.header})
				if w.Code != http.StatusForbidden {
					t.Errorf("cross-origin POST /logout: %d, want 403", w.Code)
				}
				if page := e.home(t, cookie); !strings.Contains(page, "signed in as") {
					t.Error("a refused cross-origin logout ended the session")
				}
			}
		})
	}
}

func TestLoginWithoutSessions(t *testing.T) {
	e := newSessionEnv(t, func(o *server.Options) {
		o.Store = struct{ server.Store }{o.Store} // keeps no sessions
	})
	if w := e.do(t, pageReq{method: "GET", path: "/login"}); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "keeps no sessions") {
		t.Errorf("GET /login: %d\n%s", w.Code, w.Body)
	}
	if w := e.login(t, humanSecret, "/"); w.Code != http.StatusServiceUnavailable || sessionCookie(w) != nil {
		t.Errorf("POST /login: %d, cookie %v; want 503 and none", w.Code, sessionCookie(w))
	}
}

func proxyEnv(tb testing.TB) *sessionEnv {
	return newSessionEnv(tb, func(o *server.Options) {
		o.TrustedProxyHeader = "x-forwarded-user"
		o.TrustedProxyCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
		o.HumanUsers = map[string]auth.Role{"alice": auth.RoleHuman, "carol": auth.RoleAdmin}
	})
}

func TestProxySignsIn(t *testing.T) {
	e := proxyEnv(t)
	for _, tt := range []struct {
		name, remote, user string
		want               []string
		notWant            []string
	}{
		{"listed human", "10.1.2.3:5555", "alice", []string{`<strong class="viewer-name">alice</strong>`}, []string{"(admin)", "Sign out", ">Sign in<"}},
		{"listed admin", "10.1.2.3:5555", "carol", []string{`<strong class="viewer-name">carol</strong> (admin)`}, []string{"Sign out"}},
		{"ipv4-mapped peer", "[::ffff:10.9.9.9]:5555", "alice", []string{`<strong class="viewer-name">alice</strong>`}, nil},
		{"ipv6 peer", "[fd00::1]:5555", "alice", []string{`<strong class="viewer-name">alice</strong>`}, nil},
		{"unlisted", "10.1.2.3:5555", "mallory", []string{"mallory is not in --human-users", ">Sign in</a>"}, []string{"signed in as"}},
		{"case matters", "10.1.2.3:5555", "Alice", []string{"Alice is not in --human-users"}, []string{"signed in as"}},
		{"empty header", "10.1.2.3:5555", "", []string{">Sign in</a>"}, []string{"signed in as", "not in --human-users"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, pageReq{method: "GET", path: "/", remote: tt.remote, header: http.Header{"X-Forwarded-User": {tt.user}}})
			body := w.Body.String()
			if w.Code != http.StatusOK {
				t.Fatalf("GET /: %d\n%s", w.Code, body)
			}
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(body, s) {
					t.Errorf("page shows %q:\n%s", s, body)
				}
			}
		})
	}

	// The proxy's word wins over a session cookie in the same browser.
	cookie := e.signedIn(t, adminSecret)
	w := e.do(t, pageReq{method: "GET", path: "/", remote: "10.1.2.3:1", cookie: cookie, header: http.Header{"X-Forwarded-User": {"mallory"}}})
	if body := w.Body.String(); strings.Contains(body, "signed in as") || !strings.Contains(body, "mallory is not in --human-users") {
		t.Errorf("the proxy's unlisted user is signed in by a cookie:\n%s", body)
	}
	// Without the header, sessions work as usual, also from the proxy's range.
	w = e.do(t, pageReq{method: "GET", path: "/", remote: "10.1.2.3:1", cookie: cookie})
	if !strings.Contains(w.Body.String(), `<strong class="viewer-name">root</strong>`) {
		t.Errorf("a session behind the proxy without its header is nobody:\n%s", w.Body)
	}
}

func TestProxyHeaderFromOutsideRefused(t *testing.T) {
	e := proxyEnv(t)
	for _, tt := range []struct {
		name, remote, path, token string
		header                    http.Header
		json                      bool
	}{
		{"page from outside", "192.0.2.1:1234", "/", "", http.Header{"X-Forwarded-User": {"alice"}}, false},
		{"page via X-Forwarded-For", "192.0.2.1:1234", "/", "", http.Header{"X-Forwarded-User": {"carol"}, "X-Forwarded-For": {"10.0.0.1"}}, false},
		{"empty header from outside", "192.0.2.1:1234", "/", "", http.Header{"X-Forwarded-User": {""}}, false},
		{"api from outside", "192.0.2.1:1234", "/api/v1/deploys", humanSecret, http.Header{"X-Forwarded-User": {"alice"}}, true},
		{"just outside the range", "11.0.0.1:1234", "/login", "", http.Header{"X-Forwarded-User": {"alice"}}, false},
		{"two values from the proxy", "10.1.2.3:5555", "/", "", http.Header{"X-Forwarded-User": {"mallory", "alice"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header.Clone()
			if tt.token != "" {
				h.Set("Authorization", "Bearer "+tt.token)
			}
			w := e.do(t, pageReq{method: "GET", path: tt.path, remote: tt.remote, header: h})
			if w.Code != http.StatusForbidden {
				t.Fatalf("GET %s from %s: %d, want 403\n%s", tt.path, tt.remote, w.Code, w.Body)
			}
			ct := w.Header().Get("Content-Type")
			if tt.json {
				if msg := errorBody(t, w); !strings.Contains(msg, "X-Forwarded-User") {
					t.Errorf("error %q does not name the header", msg)
				}
			} else if !strings.HasPrefix(ct, "text/html") || !strings.Contains(w.Body.String(), "X-Forwarded-User") {
				t.Errorf("want the HTML error page naming the header, got %s:\n%s", ct, w.Body)
			}
			if strings.Contains(w.Body.String(), "signed in as") {
				t.Error("a refused request shows somebody signed in")
			}
		})
	}
	// Without the header, the outside is served as usual.
	if w := e.do(t, pageReq{method: "GET", path: "/", remote: "192.0.2.1:1234"}); w.Code != http.StatusOK {
		t.Errorf("GET / from outside without the header: %d, want 200", w.Code)
	}
}

func TestProxyOptionsInvalid(t *testing.T) {
	ten := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		name string
		set  func(*server.Options)
		msg  string
	}{
		{"header without cidr", func(o *server.Options) { o.TrustedProxyHeader = "X-Forwarded-User" }, "--trusted-proxy-cidr"},
		{"cidr without header", func(o *server.Options) { o.TrustedProxyCIDRs = ten }, "--trusted-proxy-header"},
		{"users without header", func(o *server.Options) { o.HumanUsers = map[string]auth.Role{"alice": auth.RoleHuman} }, "--human-users"},
		{"bad header name", func(o *server.Options) { o.TrustedProxyHeader = "X User"; o.TrustedProxyCIDRs = ten }, "header name"},
		{"ci user", func(o *server.Options) {
			o.TrustedProxyHeader, o.TrustedProxyCIDRs = "X-User", ten
			o.HumanUsers = map[string]auth.Role{"bot": auth.RoleCI}
		}, `role "ci"`},
		{"bad user name", func(o *server.Options) {
			o.TrustedProxyHeader, o.TrustedProxyCIDRs = "X-User", ten
			o.HumanUsers = map[string]auth.Role{"a b": auth.RoleHuman}
		}, "--human-users name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tokens, _ := auth.Parse("human:alice:" + humanSecret)
			opts := server.Options{Store: openStore(t), Tokens: tokens}
			tt.set(&opts)
			_, err := server.New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("New: %v, want an error mentioning %q", err, tt.msg)
			}
		})
	}
}

func TestProxyParseHumanUsers(t *testing.T) {
	got, err := server.ParseHumanUsers(" alice, bob ,carol:admin,dave:human,,alice@example.com")
	want := map[string]auth.Role{"alice": auth.RoleHuman, "bob": auth.RoleHuman, "carol": auth.RoleAdmin, "dave": auth.RoleHuman, "alice@example.com": auth.RoleHuman}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("ParseHumanUsers = %v, %v; want %v", got, err, want)
	}
	if got, err := server.ParseHumanUsers(""); err != nil || got != nil {
		t.Errorf("ParseHumanUsers(\"\") = %v, %v; want nil", got, err)
	}
	for in, msg := range map[string]string{
		"alice:ci":    `role "ci"`,
		"alice:":      `role ""`,
		"alice,alice": "listed twice",
		"a b":         "entry 1",
		":admin":      "entry 1",
	} {
		if _, err := server.ParseHumanUsers(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseHumanUsers(%q) = %v, want an error mentioning %q", in, err, msg)
		}
	}
}

func TestProxyParseTrustedCIDRs(t *testing.T) {
	got, err := server.ParseTrustedCIDRs([]string{"10.0.0.0/8", " 192.168.1.7/24", "127.0.0.1", "::1", ""})
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	if err != nil || !cmp.Equal(got, want, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })) {
		t.Errorf("ParseTrustedCIDRs = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "ten", "10.0.0.0/8,11.0.0.0/8x"} {
		if _, err := server.ParseTrustedCIDRs([]string{bad}); err == nil || !strings.Contains(err.Error(), "--trusted-proxy-cidr") {
			t.Errorf("ParseTrustedCIDRs(%q) = %v, want an error naming the flag", bad, err)
		}
	}
}
