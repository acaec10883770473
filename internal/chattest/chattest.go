// Package chattest is an in-process chat webhook double for tests: it takes
// Slack-compatible webhook posts (and plain JSON ones) the way Slack does —
// 200 with body "ok" — and can be told to fail (an HTTP status) or to hang
// past the sender's timeout, the two ways chat outages look from outside.
package chattest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Message is one accepted post.
type Message struct {
	Path string
	Body json.RawMessage
}

// Text is the message's fallback text ("text"), or "" for a plain-JSON post.
func (m Message) Text() string {
	var v struct{ Text string }
	_ = json.Unmarshal(m.Body, &v)
	return v.Text
}

// Server is the double. The zero mode accepts.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	accepted []Message
	status   int           // != 0: answer every post with it
	hang     chan struct{} // != nil: hold every post until closed or the client gives up
	refused  int           // posts answered with status or abandoned while hanging
}

// New starts a double; it is closed at the end of the test.
func New(t testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Accept() // release hanging posts, or Close waits for them
		s.Close()
	})
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || err != nil || !json.Valid(body) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	status, hang := s.status, s.hang
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			return // the sender gave up (or died): this post never arrived
		}
		s.mu.Lock()
		status = s.status
		s.mu.Unlock()
	}
	if status != 0 {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		http.Error(w, http.StatusText(status), status)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Context().Err() != nil {
		s.refused++
		return
	}
	s.accepted = append(s.accepted, Message{Path: r.URL.Path, Body: body})
	io.WriteString(w, "ok")
}

// Fail makes every post answer status (503, 404, ...).
func (s *Server) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release()
	s.status = status
}

// Hang holds every post until Accept or Fail, or until its sender gives up.
func (s *Server) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang == nil {
		s.hang = make(chan struct{})
	}
}

// Accept ends a failure: posts are taken again.
func (s *Server) Accept() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = 0
	s.release()
}

func (s *Server) release() {
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
}

// Messages returns the accepted posts, in the order they arrived.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.accepted...)
}

// Refused counts the posts failed or abandoned so far.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}
