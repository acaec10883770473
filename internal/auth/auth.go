package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/gohere/gohere"
)

// Role is what a token may do: reads need any role, writes ci or admin,
// human decisions human or admin.
type Role string

const (
	RoleCI    Role = "ci"
	RoleHuman Role = "human"
	RoleAdmin Role = "admin"
)

// MinSecretLen is the shortest plain secret accepted: shorter ones are
// guessable. Hashed (sha256:) secrets are checked for form only.
const MinSecretLen = 16

// Identity is who a token belongs to; Name is the actor recorded in audits.
type Identity struct {
	Role Role
	Name string
}

// Tokens is an immutable set of API tokens, safe for concurrent use.
type Tokens struct {
	entries []entry
}

type entry struct {
	id     Identity
	digest [sha256.Size]byte
}

const hashPrefix = "sha256:"

// Message templates: every error of this package is one of them plus
// positions, never text of the entry, which may hold a secret.
const (
	msgNoTokens  = "tokens: no entries; want role:name:secret"
	msgForm      = "tokens: %s: want role:name:secret"
	msgRole      = "tokens: %s: role must be ci, human or admin"
	msgName      = "tokens: %s: name must be 1-128 characters without spaces, commas, colons, quotes or control characters"
	msgShort     = "tokens: %s: secret is shorter than %d bytes"
	msgHash      = "tokens: %s: sha256: secret must be 64 hex digits"
	msgSpace     = "tokens: %s: secret must not contain spaces or control characters"
	msgDuplicate = "tokens: %s: the same secret as %s"
	msgRead      = "tokens file %s: %w"
)

// Parse reads comma-separated role:name:secret entries (GOHERE_TOKENS).
// Blank entries are skipped; the secret is everything after the second
// colon, so it may contain colons but not commas.
func Parse(s string) (*Tokens, error) {
	var lines []line
	for i, e := range strings.Split(s, ",") {
		lines = append(lines, line{fmt.Sprintf("entry %d", i+1), e})
	}
	return parse(lines)
}

// ParseFile reads a tokens file: one role:name:secret per line, blank lines
// and lines starting with # ignored. A secret may contain commas here.
func ParseFile(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, msgRead, path, err)
	}
	var lines []line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if t := strings.TrimSpace(sc.Text()); strings.HasPrefix(t, "#") {
			continue
		}
		lines = append(lines, line{fmt.Sprintf("line %d", n), sc.Text()})
	}
	if err := sc.Err(); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, msgRead, path, err)
	}
	return parse(lines)
}

type line struct{ pos, text string }

func parse(lines []line) (*Tokens, error) {
	t := &Tokens{}
	seen := map[[sha256.Size]byte]string{}
	for _, l := range lines {
		text := strings.TrimSpace(l.text)
		if text == "" {
			continue
		}
		e, err := parseEntry(l.pos, text)
		if err != nil {
			return nil, err
		}
		// Two identities for one secret would make the actor ambiguous.
		if first, ok := seen[e.digest]; ok {
			return nil, gohere.Errorf(gohere.Invalid, msgDuplicate, l.pos, first)
		}
		seen[e.digest] = l.pos
		t.entries = append(t.entries, e)
	}
	if len(t.entries) == 0 {
		return nil, gohere.Errorf(gohere.Invalid, msgNoTokens)
	}
	return t, nil
}

func parseEntry(pos, text string) (entry, error) {
	role, rest, ok1 := strings.Cut(text, ":")
	name, secret, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || secret == "" {
		return entry{}, gohere.Errorf(gohere.Invalid, msgForm, pos)
	}
	e := entry{id: Identity{Role: Role(role), Name: name}}
	switch e.id.Role {
	case RoleCI, RoleHuman, RoleAdmin:
	default:
		return entry{}, gohere.Errorf(gohere.Invalid, msgRole, pos)
	}
	if gohere.ValidateName("token name", name) != nil {
		return entry{}, gohere.Errorf(gohere.Invalid, msgName, pos)
	}
	// A secret travels in an Authorization header: spaces or control
	// characters there are a configuration mistake, not a secret.
	if strings.ContainsFunc(secret, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return entry{}, gohere.Errorf(gohere.Invalid, msgSpace, pos)
	}
	if h, ok := strings.CutPrefix(secret, hashPrefix); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return entry{}, gohere.Errorf(gohere.Invalid, msgHash, pos)
		}
		copy(e.digest[:], b)
		return e, nil
	}
	if len(secret) < MinSecretLen {
		return entry{}, gohere.Errorf(gohere.Invalid, msgShort, pos, MinSecretLen)
	}
	e.digest = sha256.Sum256([]byte(secret))
	return e, nil
}

// Authenticate returns the identity whose secret this is. It compares the
// digest against every token, whether or not one matched already, so the
// time taken says nothing about which token came close.
func (t *Tokens) Authenticate(secret string) (Identity, bool) {
	if t == nil || secret == "" {
		return Identity{}, false
	}
	d := sha256.Sum256([]byte(secret))
	var found Identity
	ok := 0
	for _, e := range t.entries {
		eq := subtle.ConstantTimeCompare(d[:], e.digest[:])
		if eq == 1 {
			found = e.id
		}
		ok |= eq
	}
	return found, ok == 1
}

// Len is the number of tokens.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// CanWrite reports whether the role may record and finish deploys.
func (r Role) CanWrite() bool { return r == RoleCI || r == RoleAdmin }

// CanDecide reports whether the role may approve or halt a canary: only a
// person (human or admin), never a pipeline.
func (r Role) CanDecide() bool { return r == RoleHuman || r == RoleAdmin }
