package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gohere/gohere"
)

// sessionSecretLen is the random bytes of a session secret: 256 bits, so
// guessing one is hopeless.
const sessionSecretLen = 32

const (
	insertSessionSQL = `INSERT INTO sessions (id_hash, name, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`
	pruneSessionsSQL = `DELETE FROM sessions WHERE expires_at <= $1`
	sessionSQL       = `SELECT name, role FROM sessions WHERE id_hash = $1 AND expires_at > $2`
	deleteSessionSQL = `DELETE FROM sessions WHERE id_hash = $1`
)

// CreateSession signs a person in for ttl: it returns the secret of the
// session (for the cookie, base64url) and when it expires. Only a hash of
// the secret is stored. Expired sessions are deleted on the way, so the
// table holds only the sessions of the last ttl.
func (db *DB) CreateSession(ctx context.Context, name, role string, ttl time.Duration) (secret string, expires time.Time, err error) {
	ctx, span := db.start(ctx, "CreateSession")
	defer func() { end(span, err) }()
	switch {
	case name == "":
		return "", time.Time{}, gohere.Errorf(gohere.Invalid, "session: a name is required")
	case role == "":
		return "", time.Time{}, gohere.Errorf(gohere.Invalid, "session of %s: a role is required", name)
	case ttl <= 0:
		return "", time.Time{}, gohere.Errorf(gohere.Invalid, "session of %s: lifetime %s: want more than 0", name, ttl)
	}
	b := make([]byte, sessionSecretLen)
	rand.Read(b) // never fails (crypto/rand)
	secret = base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	expires = normTime(now.Add(ttl))
	what := "session of " + name
	err = db.inTx(ctx, what, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, pruneSessionsSQL, toDB(now)); err != nil {
			return dbError(err, what+": prune expired sessions")
		}
		if _, err := tx.ExecContext(ctx, insertSessionSQL, sessionHash(secret), name, role, toDB(now), toDB(expires)); err != nil {
			return dbError(err, what+": create")
		}
		return nil
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return secret, expires, nil
}

// SessionByID finds the session of a secret that CreateSession returned.
// An expired, deleted or malformed one is not found.
func (db *DB) SessionByID(ctx context.Context, secret string, now time.Time) (name, role string, found bool, err error) {
	if !wellFormedSecret(secret) { // from a cookie: anything may arrive
		return "", "", false, nil
	}
	ctx, span := db.start(ctx, "SessionByID")
	defer func() { end(span, err) }()
	err = db.read.QueryRowContext(ctx, sessionSQL, sessionHash(secret), toDB(now)).Scan(&name, &role)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", "", false, nil
	case err != nil:
		return "", "", false, dbError(err, "session: read")
	}
	return name, role, true, nil
}

// DeleteSession signs a session out; deleting one that does not exist (any
// more) is not an error.
func (db *DB) DeleteSession(ctx context.Context, secret string) (err error) {
	if !wellFormedSecret(secret) {
		return nil
	}
	ctx, span := db.start(ctx, "DeleteSession")
	defer func() { end(span, err) }()
	return db.inTx(ctx, "session: delete", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, deleteSessionSQL, sessionHash(secret)); err != nil {
			return dbError(err, "session: delete")
		}
		return nil
	})
}

// sessionHash is the key a secret is stored under.
func sessionHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func wellFormedSecret(secret string) bool {
	b, err := base64.RawURLEncoding.DecodeString(secret)
	return err == nil && len(b) == sessionSecretLen
}
