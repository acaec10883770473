package grafanatest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultToken is the bearer token the double accepts when Options.Token is empty.
const DefaultToken = "grafana-test-token"

// Options configure a double. The zero value is ready to use.
type Options struct {
	// Token is the service-account token requests must carry as
	// "Authorization: Bearer <token>"; empty means DefaultToken.
	Token string
	// SpecPath overrides where Grafana's OpenAPI description is read from.
	SpecPath string
}

// Annotation is an annotation as the double stores it; times in epoch ms.
type Annotation struct {
	ID           int64
	Time         int64
	TimeEnd      int64
	Tags         []string
	Text         string
	DashboardUID string
	DashboardID  int64
}

// Folder is a folder as the double stores it.
type Folder struct {
	ID    int64
	UID   string
	Title string
}

// Dashboard is a dashboard as the double stores it; JSON is the saved model
// with id, uid and version set by the double.
type Dashboard struct {
	ID        int64
	UID       string
	Title     string
	FolderUID string
	Version   int
	JSON      map[string]any
}

// Server is a running Grafana double. Its methods are safe for concurrent use.
type Server struct {
	tb    testing.TB
	srv   *httptest.Server
	token string
	spec  *spec // nil: the OpenAPI description is missing, requests are not checked
	mux   *http.ServeMux
	done  chan struct{} // closed at cleanup: releases hanging requests

	mu          sync.Mutex
	closed      bool
	violations  []string
	requests    int
	failN       int
	failStatus  int
	loseN       int
	hang        time.Duration
	writes      int           // requests other than GET so far
	slowWrites  time.Duration // added to the hang of every write
	failWrites  float64       // the share of writes that fail
	writeStatus int           // with this status
	release     chan struct{} // closed when the hang setting changes
	nextID      int64         // annotation ids
	nextFolder  int64
	nextDash    int64
	annotations map[int64]*Annotation
	folders     []*Folder
	dashboards  map[string]*Dashboard // by uid
}

// New starts a double; tb.Cleanup closes it. When Grafana's OpenAPI
// description cannot be found, requests are not checked and New says so
// with tb.Log; a description that exists but does not parse fails the test.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{
		tb:          tb,
		token:       cmp.Or(opts.Token, DefaultToken),
		done:        make(chan struct{}),
		release:     make(chan struct{}),
		annotations: map[int64]*Annotation{},
		dashboards:  map[string]*Dashboard{},
	}
	path := opts.SpecPath
	if path == "" {
		p, err := defaultSpecPath()
		if err != nil {
			tb.Logf("grafanatest: requests are not checked against Grafana's OpenAPI description: %v", err)
		}
		path = p
	}
	if path != "" {
		sp, err := loadSpec(path)
		switch {
		case err == nil:
			s.spec = sp
		case opts.SpecPath == "" && errors.Is(err, fs.ErrNotExist):
			tb.Logf("grafanatest: %s is missing; requests are not checked against Grafana's OpenAPI description", path)
		default:
			tb.Fatalf("grafanatest: %v", err)
		}
	}
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// URL is the base URL of the double, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.srv.URL }

// Token is the bearer token the double accepts.
func (s *Server) Token() string { return s.token }

// Requests is the number of requests received so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Violations are the requests that broke Grafana's OpenAPI description so
// far; each also failed the test.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// FailNext makes the next n requests fail with status, without effect.
// FailNext(0, 0) cancels it.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// LoseNextResponses makes the next n requests take effect and then closes
// their connection without a response, like a network failure after the
// write.
func (s *Server) LoseNextResponses(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseN = n
}

// Hang makes every request block for d (or until its context ends) before it
// is handled; Hang(0) stops that and releases the requests already waiting.
// A request whose context ends while it hangs has no effect.
func (s *Server) Hang(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = d
	close(s.release)
	s.release = make(chan struct{})
}

// SlowWrites makes every request other than GET wait d (or until its
// context ends, or Hang releases it) before it is handled, as a loaded
// Grafana writes; SlowWrites(0) stops that.
func (s *Server) SlowWrites(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowWrites = d
}

// FailWrites makes the given share (0 to 1) of the requests other than GET
// fail with status, without effect, after their SlowWrites wait: evenly
// spread, so that FailWrites(0.2, 503) fails every fifth write exactly.
// FailWrites(0, 0) stops that.
func (s *Server) FailWrites(share float64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWrites, s.writeStatus = share, status
}

// Annotations returns a snapshot of the stored annotations in id order.
func (s *Server) Annotations() []Annotation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Annotation, 0, len(s.annotations))
	for _, id := range slices.Sorted(maps.Keys(s.annotations)) {
		a := *s.annotations[id]
		a.Tags = slices.Clone(a.Tags)
		out = append(out, a)
	}
	return out
}

// Folders returns a snapshot of the folders in creation order.
func (s *Server) Folders() []Folder {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Folder, len(s.folders))
	for i, f := range s.folders {
		out[i] = *f
	}
	return out
}

// Dashboards returns a snapshot of the dashboards in creation order.
func (s *Server) Dashboards() []Dashboard {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Dashboard, 0, len(s.dashboards))
	for _, d := range s.dashboards {
		c := *d
		c.JSON = deepCopy(d.JSON)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Dashboard) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// violation records a request that breaks the spec and fails the test,
// unless the test is over (a late request must not panic the test binary).
func (s *Server) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, msg)
	if !s.closed {
		s.tb.Errorf("grafanatest: request violates Grafana's OpenAPI description: %s", msg)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return // the client went away
	}
	s.mu.Lock()
	s.requests++
	if s.failN > 0 {
		s.failN--
		status := s.failStatus
		s.mu.Unlock()
		writeJSON(w, status, message(http.StatusText(status)))
		return
	}
	hang, release := s.hang, s.release
	failWith := 0
	if r.Method != http.MethodGet {
		s.writes++
		hang += s.slowWrites
		// The n-th write fails when n×share passes a whole number.
		if n := float64(s.writes); math.Floor(n*s.failWrites) > math.Floor((n-1)*s.failWrites) {
			failWith = s.writeStatus
		}
	}
	s.mu.Unlock()

	if hang > 0 {
		t := time.NewTimer(hang)
		select {
		case <-t.C:
		case <-release:
			t.Stop()
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.done:
			t.Stop()
			return
		}
	}

	if failWith != 0 {
		writeJSON(w, failWith, message(http.StatusText(failWith)))
		return
	}
	rec := httptest.NewRecorder()
	s.handle(rec, r, body)

	s.mu.Lock()
	lose := s.loseN > 0
	if lose {
		s.loseN--
	}
	s.mu.Unlock()
	if lose {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// handle authenticates, checks the request against the spec and runs the
// endpoint, in Grafana's order: a request without a valid token is refused
// before its body is looked at.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	apiPath, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		writeJSON(w, http.StatusNotFound, message("Not found"))
		return
	}
	apiPath = "/" + apiPath
	if apiPath != "/health" && r.Header.Get("Authorization") != "Bearer "+s.token {
		writeJSON(w, http.StatusUnauthorized, message("Unauthorized"))
		return
	}
	if s.spec != nil {
		op, pathFound := s.spec.find(r.Method, apiPath)
		switch {
		case op == nil && pathFound:
			s.violation("%s %s: the method is not defined for this path", r.Method, r.URL.Path)
			writeJSON(w, http.StatusMethodNotAllowed, message("Method Not Allowed"))
			return
		case op == nil:
			s.violation("%s %s: no such endpoint", r.Method, r.URL.Path)
			writeJSON(w, http.StatusNotFound, message("Not found"))
			return
		}
		if errs := s.spec.check(op, r.URL.Query(), body); len(errs) > 0 {
			s.violation("%s %s: %s", r.Method, r.URL.Path, strings.Join(errs, "; "))
			writeJSON(w, http.StatusBadRequest, message("bad request data: "+strings.Join(errs, "; ")))
			return
		}
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mux.ServeHTTP(w, r2)
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/health", s.health)
	m.HandleFunc("POST /api/annotations", s.createAnnotation)
	m.HandleFunc("GET /api/annotations", s.findAnnotations)
	m.HandleFunc("GET /api/annotations/{id}", s.getAnnotation)
	m.HandleFunc("PUT /api/annotations/{id}", s.changeAnnotation(true))
	m.HandleFunc("PATCH /api/annotations/{id}", s.changeAnnotation(false))
	m.HandleFunc("DELETE /api/annotations/{id}", s.deleteAnnotation)
	m.HandleFunc("GET /api/folders", s.listFolders)
	m.HandleFunc("POST /api/folders", s.createFolder)
	m.HandleFunc("GET /api/folders/{uid}", s.getFolder)
	m.HandleFunc("POST /api/dashboards/db", s.saveDashboard)
	m.HandleFunc("GET /api/dashboards/uid/{uid}", s.getDashboard)
	m.HandleFunc("GET /api/search", s.search)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, message("Not found: the Grafana double does not implement "+r.Method+" "+r.URL.Path))
	})
	s.mux = m
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"database": "ok", "version": "12.4.0", "commit": "grafanatest"})
}

func message(msg string) map[string]any { return map[string]any{"message": msg} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decode reads a request body into v; with the spec loaded the types were
// checked already, so a failure here means the spec was missing.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, message("bad request data: "+err.Error()))
		return false
	}
	return true
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}
