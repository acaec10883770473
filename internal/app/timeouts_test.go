package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// short are timeouts a test can wait for.
var short = httpTimeouts{header: time.Second, read: 500 * time.Millisecond, write: 2 * time.Second, idle: 500 * time.Millisecond}

// TestHTTPTimeoutsDefaults: issue 13, defect 4. The server sets read, write
// and idle timeouts; the write timeout outlasts the gate's long poll.
func TestHTTPTimeoutsDefaults(t *testing.T) {
	a, _ := start(t, Options{})
	s := a.http
	if s.ReadHeaderTimeout != 10*time.Second || s.ReadTimeout != 30*time.Second || s.WriteTimeout != 90*time.Second || s.IdleTimeout != 60*time.Second {
		t.Errorf("timeouts: header %v, read %v, write %v, idle %v; want 10s, 30s, 90s, 60s",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
	}
}

// TestSlowClientsAreDropped: issue 13, defect 4. Clients that send a body a
// byte at a time, with or without a token, are dropped once the body
// deadline (the read timeout) passes; an idle keep-alive once the idle
// timeout does.
func TestSlowClientsAreDropped(t *testing.T) {
	a, _ := start(t, Options{http: short})
	body := `{"service":"checkout","env":"prod","version":"v1"}`
	for _, tc := range []struct{ name, auth string }{
		{"with a token", "Authorization: Bearer " + ciSecret + "\r\n"},
		{"without a token", ""},
	} {
		t.Run("slow body "+tc.name, func(t *testing.T) {
			conn := dial(t, a.Addr())
			fmt.Fprintf(conn, "POST /api/v1/deploys HTTP/1.1\r\nHost: gohere\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", tc.auth, len(body))
			start := time.Now()
			go trickle(conn, body)
			if took := untilClosed(t, conn, 5*time.Second); took < short.read/2 {
				t.Errorf("dropped after %v, before the read timeout %v", took, short.read)
			}
			t.Logf("dropped after %v", time.Since(start))
		})
	}
	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dial(t, a.Addr())
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: gohere\r\n\r\n")
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		untilClosedReader(t, conn, r, 5*time.Second)
	})
}

// TestHTTPTimeouts: the timeouts on a bare handler, and that the read
// timeout cuts neither a long poll nor a slow handler after a fast upload.
func TestHTTPTimeouts(t *testing.T) {
	writeErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /poll", func(w http.ResponseWriter, r *http.Request) {
		select { // a long poll, longer than the read timeout
		case <-time.After(3 * short.read):
			fmt.Fprint(w, "ok")
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select { // slow work after a fast upload
		case <-time.After(3 * short.read):
			fmt.Fprint(w, "ok")
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /large", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for range 1 << 10 { // 64 MiB, far more than socket buffers
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(mux, short, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	for _, tc := range []struct{ name, req string }{
		{"long poll", "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"slow handler after a fast upload", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dial(t, addr)
			fmt.Fprint(conn, tc.req)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(b) != "ok" {
				t.Errorf("answer %d %q, want 200 ok", resp.StatusCode, b)
			}
		})
	}
	t.Run("slow upload", func(t *testing.T) {
		conn := dial(t, addr)
		fmt.Fprint(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
		go trickle(conn, strings.Repeat("x", 100))
		untilClosed(t, conn, 5*time.Second)
	})
	t.Run("answer never read", func(t *testing.T) {
		conn := dial(t, addr)
		fmt.Fprint(conn, "GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case err := <-writeErr:
			if err == nil {
				t.Error("64 MiB written to a client that reads nothing")
			}
		case <-time.After(short.write + 3*time.Second):
			t.Fatalf("handler still writing after %v", short.write+3*time.Second)
		}
	})
	t.Run("slow headers", func(t *testing.T) {
		conn := dial(t, addr)
		fmt.Fprint(conn, "GET /poll HTTP/1.1\r\n")
		go trickle(conn, "X-Slow: "+strings.Repeat("x", 100))
		untilClosed(t, conn, 5*time.Second)
	})
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// trickle sends s a byte every 100ms, until done or the connection fails.
func trickle(conn net.Conn, s string) {
	for i := range len(s) {
		time.Sleep(100 * time.Millisecond)
		if _, err := conn.Write([]byte{s[i]}); err != nil {
			return
		}
	}
}

// untilClosed reads (and drops any answer) until the server closes conn,
// and fails when that takes longer than limit.
func untilClosed(t *testing.T, conn net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	return untilClosedReader(t, conn, conn, limit)
}

func untilClosedReader(t *testing.T, conn net.Conn, r io.Reader, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, r)
	took := time.Since(start)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return took
}
