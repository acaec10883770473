// Package storetest fills databases for benchmarks: a million deploys in
// seconds, by one SQL statement per engine (the API would take an hour).
package storetest

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/pgtest"
	"github.com/gohere/gohere/internal/store"
)

// Start is the first seeded deploy's start.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Seed opens a fresh, migrated database of engine ("sqlite" or
// "postgres") holding n succeeded full deploys, one every `every` from
// Start, of 50 services (svc0…svc49) alternating prod and dev, each a
// minute long and committed an hour before it started. It returns the
// database and the start of the last deploy.
func Seed(tb testing.TB, engine string, n int, every time.Duration) (*store.DB, time.Time) {
	tb.Helper()
	dsn, driver := filepath.Join(tb.TempDir(), "gohere.db"), "sqlite"
	t0, step := Start.UnixMicro(), every.Microseconds()
	rows := fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
		SELECT printf('d%%07d', i), 'svc' || (i %% 50), CASE i %% 2 WHEN 0 THEN 'prod' ELSE 'dev' END, 'v' || i, 'full',
			'succeeded', %d + i * %d, %d + i * %d + 60000000, %d + i * %d - 3600000000 FROM s`,
		n-1, t0, step, t0, step, t0, step)
	if engine == "postgres" {
		dsn, driver = pgtest.Start(tb), "pgx"
		rows = fmt.Sprintf(`SELECT 'd' || lpad(i::text, 7, '0'), 'svc' || (i %% 50), CASE WHEN i %% 2 = 0 THEN 'prod' ELSE 'dev' END,
			'v' || i, 'full', 'succeeded', %d + i * %d::bigint, %d + i * %d::bigint + 60000000, %d + i * %d::bigint - 3600000000
			FROM generate_series(0, %d) AS i`, t0, step, t0, step, t0, step, n-1)
	}
	db, err := store.Open(tb.Context(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(tb.Context(), `INSERT INTO deploys (id, service, env, version, stage, status, started_at, finished_at, commit_time) `+rows); err != nil {
		tb.Fatal(err)
	}
	if _, err := raw.ExecContext(tb.Context(), "ANALYZE"); err != nil {
		tb.Fatal(err)
	}
	return db, Start.Add(time.Duration(n-1) * every)
}
