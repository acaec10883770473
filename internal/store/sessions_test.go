package store_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

func TestSessionLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		ctx := t.Context()
		before := time.Now()
		secret, expires, err := db.CreateSession(ctx, "alice", "human", 12*time.Hour)
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
			t.Errorf("secret %q: want 32 bytes of base64url (%v)", secret, err)
		}
		if lo, hi := before.Add(12*time.Hour), time.Now().Add(12*time.Hour); expires.Before(lo.Add(-time.Microsecond)) || expires.After(hi) {
			t.Errorf("expires %v, want 12h from now (%v..%v)", expires, lo, hi)
		}
		other, _, err := db.CreateSession(ctx, "root", "admin", 12*time.Hour)
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if other == secret {
			t.Fatal("two sessions got the same secret")
		}

		name, role, found, err := db.SessionByID(ctx, secret, time.Now())
		if err != nil || !found || name != "alice" || role != "human" {
			t.Fatalf("SessionByID = %q %q found %v, %v; want alice human", name, role, found, err)
		}
		// Expired is not found, at the instant of expiry already.
		if _, _, found, err := db.SessionByID(ctx, secret, expires); err != nil || found {
			t.Errorf("SessionByID at expiry: found %v, %v; want not found", found, err)
		}
		for _, bad := range []string{"", "nope", secret + "x", strings.ToUpper(secret), "a/b", strings.Repeat("A", 43)} {
			if _, _, found, err := db.SessionByID(ctx, bad, time.Now()); err != nil || found {
				t.Errorf("SessionByID(%q): found %v, %v; want not found", bad, found, err)
			}
		}

		// Only a hash of the secret is stored.
		var stored int
		raw := rawDB(t, db, dsn)
		sum := sha256.Sum256([]byte(secret))
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id_hash = $1`, hex.EncodeToString(sum[:])).Scan(&stored); err != nil || stored != 1 {
			t.Errorf("rows under the secret's hash: %d, %v; want 1", stored, err)
		}
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id_hash = $1`, secret).Scan(&stored); err != nil || stored != 0 {
			t.Errorf("rows under the plain secret: %d, %v; want 0", stored, err)
		}

		// Revoke: deleting signs out that session only, and twice is fine.
		for range 2 {
			if err := db.DeleteSession(ctx, secret); err != nil {
				t.Fatalf("DeleteSession: %v", err)
			}
		}
		if _, _, found, err := db.SessionByID(ctx, secret, time.Now()); err != nil || found {
			t.Errorf("SessionByID after delete: found %v, %v; want not found", found, err)
		}
		if name, _, found, err := db.SessionByID(ctx, other, time.Now()); err != nil || !found || name != "root" {
			t.Errorf("other session after delete: %q found %v, %v; want root", name, found, err)
		}
		if err := db.DeleteSession(ctx, "garbage"); err != nil {
			t.Errorf("DeleteSession(garbage): %v", err)
		}
	})
}

func TestSessionExpiredArePruned(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		ctx := t.Context()
		short, _, err := db.CreateSession(ctx, "alice", "human", time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, _, found, err := db.SessionByID(ctx, short, time.Now()); err != nil || found {
			t.Errorf("expired session: found %v, %v; want not found", found, err)
		}
		if _, _, err := db.CreateSession(ctx, "bob", "human", time.Hour); err != nil {
			t.Fatal(err)
		}
		var names []string
		rows, err := rawDB(t, db, dsn).QueryContext(ctx, `SELECT name FROM sessions ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(names, ",") != "bob" {
			t.Errorf("sessions after a create: %v, want only bob's (alice's expired one pruned)", names)
		}
	})
}

func TestSessionInvalid(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		for _, tt := range []struct {
			name, who, role string
			ttl             time.Duration
		}{
			{"no name", "", "human", time.Hour},
			{"no role", "alice", "", time.Hour},
			{"no lifetime", "alice", "human", 0},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := db.CreateSession(t.Context(), tt.who, tt.role, tt.ttl)
				wantKind(t, "CreateSession", err, gohere.Invalid)
			})
		}
	})
}
