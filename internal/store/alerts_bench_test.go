package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/storetest"
)

// millionDeploys is the store size the alert and DORA targets are for.
const millionDeploys = 1_000_000

// BenchmarkCorrelateAlert records (and correlates) one new alert of one
// service among 1,000,000 deploys, with a canary of it running. Target:
// < 5 ms.
func BenchmarkCorrelateAlert(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db, last := storetest.Seed(b, engine, millionDeploys, time.Second)
			canary := deploy("svc7", "prod", "canary", last.Add(-10*time.Minute))
			if _, _, err := db.CreateDeploy(b.Context(), canary, ""); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				a := firing(fmt.Sprintf("fp%d", i), "svc7", last.Add(time.Minute))
				got, err := db.RecordAlerts(b.Context(), []gohere.Alert{a}, time.Hour, annotate.Correlate)
				if err != nil || len(got[0].Correlations) == 0 {
					b.Fatalf("RecordAlerts: %v, %d correlations", err, len(got[0].Correlations))
				}
			}
		})
	}
}

// BenchmarkDORA computes 30 days of keys with 1,000,000 deploys stored,
// for one service and for all. Target: < 200 ms. "years": a deploy every
// 2 minutes (3.8 years stored, 21,600 in the window); "dense": a deploy a
// second, all 1,000,000 in the window (the worst case).
func BenchmarkDORA(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, spread := range []struct {
			name  string
			every time.Duration
		}{{"years", 2 * time.Minute}, {"dense", time.Second}} {
			b.Run(engine+"/"+spread.name, func(b *testing.B) {
				db, last := storetest.Seed(b, engine, millionDeploys, spread.every)
				for _, service := range []string{"svc7", ""} {
					b.Run("service="+service, func(b *testing.B) {
						for range b.N {
							k, err := db.DORA(b.Context(), service, "", last.Add(-30*24*time.Hour), last.Add(time.Hour))
							if err != nil || k.Deployments == 0 {
								b.Fatalf("DORA: %+v, %v", k, err)
							}
						}
					})
				}
			})
		}
	}
}
