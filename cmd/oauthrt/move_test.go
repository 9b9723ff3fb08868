package main

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/oauthrt/oauthrt/keyring"
	"golang.org/x/oauth2"
)

// Helpers of the tests of export, import, migrate, rekey and keys.

// keySource is a key source made for a test: its lines by key ID.
type keySource map[string]string

// newKeys returns a key source with a new key for each id.
func newKeys(t testing.TB, ids ...string) keySource {
	t.Helper()
	ks := keySource{}
	for _, id := range ids {
		line, err := keyring.Generate(id)
		if err != nil {
			t.Fatal(err)
		}
		ks[id] = line
	}
	return ks
}

// text is the key source of the keys ids, in that order.
func (ks keySource) text(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(ks[id] + "\n")
	}
	return b.String()
}

// ring returns the keyring of the keys ids, the first the primary.
func (ks keySource) ring(t testing.TB, ids ...string) *keyring.Ring {
	t.Helper()
	r, err := keyring.Parse(ks.text(ids...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// bare returns the AEAD of key id alone, as a store used it before
// keyrings.
func (ks keySource) bare(t testing.TB, id string) cipher.AEAD {
	t.Helper()
	f := strings.Fields(ks[id])
	secret, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyring.NewAESGCM(id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return k.AEAD
}

// file writes the key source of ids to a file of mode 0600 and returns
// its path.
func (ks keySource) file(t testing.TB, ids ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), strings.Join(ids, "+")+".keys")
	if err := os.WriteFile(p, []byte(ks.text(ids...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// secret returns a random token value.
func secret(t testing.TB, what string) string {
	t.Helper()
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return what + "-" + hex.EncodeToString(b[:])
}

// seedGrants saves n grants under keys prefix+"NNN" in s: tokens with
// extra fields, the first one dead and the second degraded. It returns
// the tokens by key.
func seedGrants(t testing.TB, s *store, prefix string, n int) map[string]*oauth2.Token {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	toks := map[string]*oauth2.Token{}
	for i := range n {
		key := fmt.Sprintf("%s%03d", prefix, i)
		tok := (&oauth2.Token{
			AccessToken:  secret(t, "at"),
			RefreshToken: secret(t, "rt"),
			TokenType:    "Bearer",
			Expiry:       now.Add(time.Hour),
		}).WithExtra(map[string]any{
			"scope":   "read write",
			"realmId": 4620816365 + i,
			"nested":  map[string]any{"region": "eu", "tier": []any{"gold", 3}},
		})
		if err := s.Save(ctx, key, tok); err != nil {
			t.Fatalf("seeding %s: %v", key, err)
		}
		var st oauthrt.GrantState
		switch i {
		case 0:
			st = oauthrt.GrantState{DeadToken: oauthrt.Fingerprint(tok), DeadCode: "invalid_grant", DeadAt: now.Add(-time.Hour)}
		case 1:
			st = oauthrt.GrantState{Failures: 3, FailingSince: now.Add(-10 * time.Minute), NextAttempt: now.Add(time.Minute)}
		}
		if !st.IsZero() {
			if err := s.TokenStore.(oauthrt.GrantStateStore).SaveGrantState(ctx, key, st); err != nil {
				t.Fatalf("seeding the grant state of %s: %v", key, err)
			}
		}
		toks[key] = tok
	}
	return toks
}

// held is what a store holds for a key, as tests compare it: the token
// in the stores' plain form (extra fields included) and the grant state
// with its times in UTC.
type held struct {
	Token string
	State oauthrt.GrantState
}

// contents returns what s holds, by key, failing the test on a record
// that does not decode.
func contents(t testing.TB, s *store) map[string]held {
	t.Helper()
	return read(t, s, false)
}

// readable returns what s holds in the records it can read.
func readable(t testing.TB, s *store) map[string]held {
	t.Helper()
	return read(t, s, true)
}

func read(t testing.TB, s *store, skipUnreadable bool) map[string]held {
	t.Helper()
	got := map[string]held{}
	err := walkRecords(context.Background(), s.TokenStore.(oauthrt.Inspector), "", 100, func(r oauthrt.Record) error {
		if r.Err != nil && skipUnreadable {
			return nil
		}
		if r.Err != nil {
			return fmt.Errorf("key %q: %w", r.Key, r.Err)
		}
		b, err := tokencodec.Encode(r.Token, nil, r.Key)
		if err != nil {
			return err
		}
		st := r.State
		st.DeadAt, st.NextAttempt, st.FailingSince = st.DeadAt.UTC(), st.NextAttempt.UTC(), st.FailingSince.UTC()
		got[r.Key] = held{string(b), st}
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", s.name, err)
	}
	return got
}

// sameContents fails the test unless two stores hold the same.
func sameContents(t testing.TB, what string, want, got map[string]held) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// noSecrets fails the test if the command printed any of toks' values.
func noSecrets(t testing.TB, r result, toks map[string]*oauth2.Token) {
	t.Helper()
	for key, tok := range toks {
		for _, v := range []string{tok.AccessToken, tok.RefreshToken} {
			if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
				t.Errorf("the command printed a token value of key %q", key)
			}
		}
	}
}

// mustCLI runs the command, fails the test unless it exits 0, and
// returns the whole result.
func mustCLI(t testing.TB, env []string, args ...string) result {
	t.Helper()
	r := cli(t, env, args...)
	if r.code != 0 {
		t.Fatalf("oauthrt %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}
