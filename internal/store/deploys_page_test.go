package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

// TestListDeploysPages: pages of the list, each continuing after the last
// deploy of the one before (Before), hold every deploy once in the list's
// order, also among deploys that started at the same instant; Status keeps
// one status.
func TestListDeploysPages(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i := range 9 {
			started, status := at, gohere.StatusSucceeded
			if i%3 == 0 {
				started, status = at.Add(time.Duration(i)*time.Minute), gohere.StatusFailed
			}
			_, _, err := db.CreateDeploy(t.Context(), gohere.Deploy{ID: fmt.Sprintf("d%d", i), Service: "checkout", Env: "prod",
				Version: fmt.Sprintf("v%d", i), Status: status, StartedAt: started, FinishedAt: started.Add(time.Minute)}, "")
			if err != nil {
				t.Fatal(err)
			}
		}
		// Newest first: the later start, then the greater id.
		want := []string{"d6", "d3", "d8", "d7", "d5", "d4", "d2", "d1", "d0"}
		var got []string
		f := gohere.DeployFilter{Limit: 2}
		for range 10 {
			ds, err := db.ListDeploys(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 0 {
				break
			}
			for _, d := range ds {
				got = append(got, d.ID)
			}
			last := ds[len(ds)-1]
			f.Before = &gohere.DeployCursor{StartedAt: last.StartedAt, ID: last.ID}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages hold %v, want %v", got, want)
		}

		ds, err := db.ListDeploys(t.Context(), gohere.DeployFilter{Status: gohere.StatusFailed,
			Before: &gohere.DeployCursor{StartedAt: at.Add(6 * time.Minute), ID: "d6"}})
		if err != nil {
			t.Fatal(err)
		}
		var failed []string
		for _, d := range ds {
			failed = append(failed, d.ID)
		}
		if !slices.Equal(failed, []string{"d3", "d0"}) {
			t.Errorf("failed deploys after d6: %v, want d3, d0", failed)
		}
	})
}
