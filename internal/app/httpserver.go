package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gohere/gohere/internal/server"
)

// httpTimeouts bound what a slow or idle client can hold: without them 200
// clients sending a body a byte at a time, idling on keep-alive or never
// reading an answer each kept a connection and goroutines for good (issue
// 13). Zero fields take defaultHTTPTimeouts.
//
//   - header: reading the request line and headers (10s).
//   - read: reading the whole request, body included, from its first byte:
//     the body read deadline (30s: a 1 MiB body at 35 KB/s). An unread body
//     (a 401 answered without reading it) is drained under the same
//     deadline. net/http lifts it once the body is read, so it never cuts a
//     handler short.
//   - write: from the end of the headers to the end of the answer, longer
//     than the gate's long poll (server.MaxGateWait, 60s) plus its answer
//     (90s); a client that never reads an answer is dropped after it.
//   - idle: a keep-alive connection between requests (60s).
type httpTimeouts struct{ header, read, write, idle time.Duration }

var defaultHTTPTimeouts = httpTimeouts{
	header: 10 * time.Second,
	read:   30 * time.Second,
	write:  server.MaxGateWait + 30*time.Second,
	idle:   60 * time.Second,
}

// newHTTPServer is the http.Server of an App, with the timeouts above.
func newHTTPServer(h http.Handler, t httpTimeouts, logger *slog.Logger) *http.Server {
	d := defaultHTTPTimeouts
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(t.header, d.header),
		ReadTimeout:       orDefault(t.read, d.read),
		WriteTimeout:      orDefault(t.write, d.write),
		IdleTimeout:       orDefault(t.idle, d.idle),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}
