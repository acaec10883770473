package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/chattest"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/grafanatest"
	"github.com/gohere/gohere/internal/pgtest"
)

// TestChatSurvivesSIGKILL kills `gohere serve` while the chat holds its
// posts, restarts it on the same database and checks that every deploy's
// state changes arrived exactly once each, in order: nothing lost, nothing
// doubled.
func TestChatSurvivesSIGKILL(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			g := grafanatest.New(t, grafanatest.Options{})
			chat := chattest.New(t)
			db := filepath.Join(t.TempDir(), "gohere.db")
			if engine == "postgres" {
				db = pgtest.Start(t)
			}
			addr := freeAddr(t)
			// A lease of 12 × 250ms: what the killed server had claimed
			// comes due again 3s after the kill.
			flags := []string{"--notify-generic", chat.URL + "/generic", "--notify-timeout", "250ms"}
			p := startServeAt(t, addr, db, g, flags...)
			c, err := client.New(p.url, testCISecret, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			const deploys = 20
			for i := range deploys {
				if i == deploys/2 {
					chat.Hang()
				}
				d, err := c.StartDeploy(t.Context(), client.StartRequest{Service: "checkout", Env: "prod", Version: fmt.Sprintf("v%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.FinishDeploy(t.Context(), d.ID, gohere.StatusSucceeded); err != nil {
					t.Fatal(err)
				}
			}
			waitUntil(t, "a post held by the chat", 10*time.Second, func() bool { return chat.Refused() > 0 })
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.cmd.Wait()
			chat.Accept()
			startServeAt(t, addr, db, g, flags...)
			waitUntil(t, "every message", 60*time.Second, func() bool { return len(chat.Messages()) >= 2*deploys })
			time.Sleep(500 * time.Millisecond) // a doubled message would arrive by now

			events := map[string][]string{}
			for _, m := range chat.Messages() {
				var g struct {
					Event  string
					Deploy struct{ Version string }
				}
				if err := json.Unmarshal(m.Body, &g); err != nil {
					t.Fatal(err)
				}
				events[g.Deploy.Version] = append(events[g.Deploy.Version], g.Event)
			}
			for i := range deploys {
				v := fmt.Sprintf("v%d", i)
				if got := events[v]; !slices.Equal(got, []string{"started", "finished"}) {
					t.Errorf("deploy %s: events %v; want started, finished once each", v, got)
				}
			}
		})
	}
}
