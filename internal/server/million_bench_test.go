package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/storetest"
)

// BenchmarkPagesWithMillionDeploys renders the timeline (the newest page,
// with the DORA keys of 30 days and the running deploys; filtered by
// service; by a status none has; an older page) and a deploy page with its
// alerts, with 1,000,000 deploys stored. Target: < 50 ms each. Every request renders:
// a fresh filter defeats the timeline's page cache, and the DORA keys are
// read once a minute as in production.
func BenchmarkPagesWithMillionDeploys(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db, _ := storetest.Seed(b, engine, 1_000_000, 2*time.Minute)
			tokens, err := auth.Parse("ci:pipeline:" + ciSecret)
			if err != nil {
				b.Fatal(err)
			}
			srv, err := server.New(server.Options{Store: db, Tokens: tokens, Alerts: db, DORA: db,
				Logger: slog.New(slog.DiscardHandler), GoHereURL: func(gohere.Deploy) string { return "" }})
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			get := func(b *testing.B, path string) {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequestWithContext(b.Context(), http.MethodGet, path, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", path, w.Code)
				}
				_, _ = io.Copy(io.Discard, w.Body)
			}
			b.Run("timeline", func(b *testing.B) {
				for i := range b.N {
					get(b, "/?limit="+strconv.Itoa(100+i%9))
				}
			})
			b.Run("timeline-service", func(b *testing.B) {
				for i := range b.N {
					get(b, "/?service=svc7&limit="+strconv.Itoa(50+i%9))
				}
			})
			// No deploy of the seed failed: the filter finds nothing, the
			// worst case for a walk by start.
			b.Run("timeline-status", func(b *testing.B) {
				for i := range b.N {
					get(b, "/?status=failed&limit="+strconv.Itoa(100+i%9))
				}
			})
			// A page deep in the history, after a cursor half-way back.
			b.Run("timeline-older", func(b *testing.B) {
				for i := range b.N {
					get(b, "/?before="+strconv.FormatInt(storetest.Start.Add(500_000*2*time.Minute).UnixMicro(), 10)+".d0500000&limit="+strconv.Itoa(100+i%9))
				}
			})
			b.Run("deploy", func(b *testing.B) {
				for range b.N {
					get(b, "/deploys/d0999999")
				}
			})
		})
	}
}
