package store_test

import (
	"testing"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

// TestLookupKeys: issue 13, defect 2. Ids and filters from URLs may hold
// NUL or invalid UTF-8 (/api/v1/deploys/%ff, ?service=%ff,
// /deploys/a%00b): PostgreSQL answered those with an error (a 500), SQLite
// with nothing found. Both engines now refuse them as NotFound or Invalid,
// before any query: on a closed database too.
func TestLookupKeys(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		closed, err := store.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		if err := closed.Close(); err != nil {
			t.Fatal(err)
		}
		decision := gohere.Decision{Kind: gohere.DecisionApprove, Actor: "alice", Source: gohere.SourceAPI, DecidedAt: base}
		for _, key := range []string{"\xff", "a\x00b", d.ID + "\x00", "caf\xc3", "\xed\xa0\x80"} {
			for _, c := range []struct {
				name string
				call func(db *store.DB) error
			}{
				{"GetDeploy", func(db *store.DB) error { _, err := db.GetDeploy(t.Context(), key); return err }},
				{"GetAnalysis", func(db *store.DB) error { _, err := db.GetAnalysis(t.Context(), key); return err }},
				{"GetAnalysisSummary", func(db *store.DB) error { _, err := db.GetAnalysisSummary(t.Context(), key); return err }},
				{"ListAnalyses", func(db *store.DB) error { _, err := db.ListAnalyses(t.Context(), key); return err }},
				{"ListDeploys service", func(db *store.DB) error {
					_, err := db.ListDeploys(t.Context(), gohere.DeployFilter{Service: key})
					return err
				}},
				{"ListDeploys env", func(db *store.DB) error {
					_, err := db.ListDeploys(t.Context(), gohere.DeployFilter{Service: "checkout", Env: key})
					return err
				}},
				{"LastSucceeded", func(db *store.DB) error {
					_, _, err := db.LastSucceeded(t.Context(), "checkout", key, "v2", base)
					return err
				}},
				{"AnnotationID", func(db *store.DB) error { _, err := db.AnnotationID(t.Context(), key); return err }},
				{"FinishDeploy", func(db *store.DB) error {
					_, err := db.FinishDeploy(t.Context(), key, gohere.StatusSucceeded, base)
					return err
				}},
				{"Decide", func(db *store.DB) error { _, err := db.Decide(t.Context(), key, decision); return err }},
			} {
				for _, on := range []struct {
					name string
					db   *store.DB
				}{{"open", db}, {"closed", closed}} {
					err := c.call(on.db)
					if k := gohere.KindOf(err); err == nil || (k != gohere.NotFound && k != gohere.Invalid) {
						t.Errorf("%s(%q) on the %s database = %v (kind %v), want NotFound or Invalid", c.name, key, on.name, err, k)
					}
				}
			}
		}
		// The deploy itself is still found and unchanged.
		if got, err := db.GetDeploy(t.Context(), d.ID); err != nil || got.Status != gohere.StatusRunning {
			t.Errorf("GetDeploy(%s) = %s, %v; want it running", d.ID, got.Status, err)
		}
	})
}
