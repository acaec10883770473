package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
)

const (
	ciSecret    = "ci-secret-0123456789"
	humanSecret = "human:secret:with:colons"
	adminSecret = "admin-secret-0123456789"
)

func sha(s string) string {
	d := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(d[:])
}

func TestParseAndAuthenticate(t *testing.T) {
	tokens, err := Parse(" ci:pipeline:" + ciSecret + ", human:alice:" + humanSecret + ",,admin:root:" + sha(adminSecret) + ",")
	if err != nil {
		t.Fatal(err)
	}
	if tokens.Len() != 3 {
		t.Errorf("Len = %d, want 3", tokens.Len())
	}
	for _, tc := range []struct {
		name   string
		secret string
		want   Identity
		ok     bool
	}{
		{"ci", ciSecret, Identity{RoleCI, "pipeline"}, true},
		{"secret with colons", humanSecret, Identity{RoleHuman, "alice"}, true},
		{"hashed secret", adminSecret, Identity{RoleAdmin, "root"}, true},
		{"the hash itself is not the secret", sha(adminSecret), Identity{}, false},
		{"wrong", "ci-secret-0123456780", Identity{}, false},
		{"prefix", ciSecret[:len(ciSecret)-1], Identity{}, false},
		{"empty", "", Identity{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tokens.Authenticate(tc.secret)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Authenticate = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	var none *Tokens
	if _, ok := none.Authenticate(ciSecret); ok || none.Len() != 0 {
		t.Error("a nil *Tokens authenticates")
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "no entries"},
		{"only commas", " , ,", "no entries"},
		{"no colons", "justsomesecretvalue1234", "entry 1: want role:name:secret"},
		{"one colon", "ci:justsomesecretvalue1234", "entry 1: want role:name:secret"},
		{"empty secret", "ci:pipeline:", "entry 1: want role:name:secret"},
		{"unknown role", "ci:a:" + ciSecret + ",root:b:" + adminSecret, "entry 2: role must be"},
		{"secret where the role goes", adminSecret + ":ci:name", "entry 1: role must be"},
		{"empty name", "ci::" + ciSecret, "entry 1: name must be"},
		{"name with quote", `ci:a"b:` + ciSecret, "entry 1: name must be"},
		{"short secret", "ci:a:short", "entry 1: secret is shorter than 16 bytes"},
		{"bad hash", "ci:a:sha256:zz" + strings.Repeat("0", 62), "entry 1: sha256: secret must be 64 hex digits"},
		{"short hash", "ci:a:sha256:abcd", "entry 1: sha256: secret must be 64 hex digits"},
		{"space in secret", "ci:a:secret with spaces 123", "entry 1: secret must not contain spaces"},
		{"duplicate secret", "ci:a:" + ciSecret + ",human:b:" + sha(ciSecret), "entry 2: the same secret as entry 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v; want an invalid error containing %q", tc.in, err, tc.want)
			}
			for _, secret := range []string{ciSecret, adminSecret, "justsomesecretvalue1234", "secret with spaces 123"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	content := "# gohere API tokens\n\nci:pipeline:" + ciSecret + "\n  # rotated 2026-11\nhuman:alice:comma,in,secret-0123\r\nadmin:root:" + sha(adminSecret) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []Identity
	for _, s := range []string{ciSecret, "comma,in,secret-0123", adminSecret} {
		id, ok := tokens.Authenticate(s)
		if !ok {
			t.Errorf("secret of line %d not accepted", len(got)+1)
		}
		got = append(got, id)
	}
	want := []Identity{{RoleCI, "pipeline"}, {RoleHuman, "alice"}, {RoleAdmin, "root"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}

	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("# c\nci:a:"+ciSecret+"\n\nci:b:tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(bad); err == nil || !strings.Contains(err.Error(), "line 4:") || strings.Contains(err.Error(), "tooshort") {
		t.Errorf("ParseFile(bad) = %v; want an error naming line 4 without the secret", err)
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing")); gohere.KindOf(err) != gohere.Invalid {
		t.Errorf("ParseFile(missing) = %v; want an invalid error", err)
	}
}

func TestCanWrite(t *testing.T) {
	for role, want := range map[Role]bool{RoleCI: true, RoleAdmin: true, RoleHuman: false, "": false} {
		if got := role.CanWrite(); got != want {
			t.Errorf("%q.CanWrite() = %v, want %v", role, got, want)
		}
	}
}

// templates is the fixed text of every error message: a secret that happens
// to be a substring of it is not a leak.
var templates = strings.Join([]string{msgNoTokens, msgForm, msgRole, msgName, msgShort, msgHash, msgSpace, msgDuplicate, "entry 0123456789"}, "\n")

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ci:pipeline:" + ciSecret,
		"ci:a:" + ciSecret + ",human:b:" + humanSecret + ",admin:c:" + sha(adminSecret),
		"human:x:sha256:" + strings.Repeat("A", 64),
		"ci:a:" + ciSecret + ",ci:a:" + ciSecret,
		":::,,,",
		"admin:\xff:" + ciSecret,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokens, err := Parse(s)
		entries := strings.Split(s, ",")
		if err != nil {
			if gohere.KindOf(err) != gohere.Invalid {
				t.Fatalf("Parse error of kind %v: %v", gohere.KindOf(err), err)
			}
			for _, e := range entries {
				parts := strings.SplitN(strings.TrimSpace(e), ":", 3)
				secret := parts[len(parts)-1]
				if len(secret) >= 6 && strings.Contains(err.Error(), secret) && !strings.Contains(templates, secret) {
					t.Fatalf("error %q contains the secret %q", err, secret)
				}
			}
			return
		}
		if tokens.Len() == 0 || tokens.Len() > len(entries) {
			t.Fatalf("Len = %d from %d entries", tokens.Len(), len(entries))
		}
		// Every plain secret that was accepted authenticates as its entry.
		for _, e := range entries {
			parts := strings.SplitN(strings.TrimSpace(e), ":", 3)
			if len(parts) != 3 || strings.HasPrefix(parts[2], hashPrefix) {
				continue
			}
			id, ok := tokens.Authenticate(parts[2])
			if !ok || id != (Identity{Role(parts[0]), parts[1]}) {
				t.Fatalf("secret of entry %q: Authenticate = %+v, %v", e, id, ok)
			}
		}
	})
}
