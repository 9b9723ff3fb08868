package main

import (
	"context"
	"crypto/cipher"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keyring"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// Helpers of the tests of status, show, refresh and revoke: keyrings,
// stores opened with one, tokens whose secrets the tests look for in
// every output.

// ring is a keyring of one key, and the key file that holds it.
type ring struct {
	id   string
	aead *keyring.Ring
	file string
}

// newRing writes a key file of one new key, id, in the test's directory.
func newRing(t testing.TB, id string) ring {
	t.Helper()
	line, err := keyring.Generate(id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := keyring.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), id+".keys")
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return ring{id: id, aead: r, file: file}
}

// env returns the environment that gives the command r.
func (r ring) env() []string { return []string{"OAUTHRT_KEYS_FILE=" + r.file} }

// openedWith is openedSealed, whose PostgreSQL and MySQL tables and
// Redis keys are dropped when the test ends.
func openedWith(t testing.TB, b backend, aead cipher.AEAD) *store {
	t.Helper()
	s := openedSealed(t, b, aead)
	dropAfter(t, s, b)
	return s
}

// garbling seals what its AEAD would, but in place of the plaintext a
// store hands it, text that is no token: a record it writes opens with
// the AEAD and is damaged.
type garbling struct{ cipher.AEAD }

func (g garbling) Seal(dst, nonce, _, ad []byte) []byte {
	return g.AEAD.Seal(dst, nonce, []byte("this is not a token record"), ad)
}

// secrets collects the token strings a test seeds and the outputs it
// reads, and fails the test if an output holds one of the secrets.
type secrets struct {
	mu     sync.Mutex
	values []string
}

// add adds vs to the secrets; a test's provider adds the tokens it
// issues.
func (s *secrets) add(vs ...string) {
	s.mu.Lock()
	s.values = append(s.values, vs...)
	s.mu.Unlock()
}

// token returns a token for key whose strings are new secrets: expiring
// at expiry (zero: never), issued lifetime before it.
func (s *secrets) token(t testing.TB, key string, expiry time.Time, lifetime time.Duration) *oauth2.Token {
	t.Helper()
	tok := &oauth2.Token{
		AccessToken:  "at-" + randomID(t) + randomID(t),
		RefreshToken: "rt-" + randomID(t) + randomID(t),
		TokenType:    "Bearer",
		Expiry:       expiry,
		ExpiresIn:    int64(lifetime / time.Second),
	}
	idToken := "idt-" + randomID(t) + randomID(t)
	tok = tok.WithExtra(map[string]any{"scope": "read write", "id_token": idToken})
	s.add(tok.AccessToken, tok.RefreshToken, idToken)
	return tok
}

// check fails t if out holds one of the secrets.
func (s *secrets) check(t testing.TB, what, out string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if strings.Contains(out, v) {
			t.Errorf("%s holds a token or secret:\n%s", what, out)
			return
		}
	}
}

// run runs the command, checks that its outputs hold no secret, and
// returns what it printed.
func (s *secrets) run(t testing.TB, env []string, args ...string) result {
	t.Helper()
	r := cli(t, env, args...)
	s.check(t, "stdout of oauthrt "+strings.Join(args, " "), r.stdout)
	s.check(t, "stderr of oauthrt "+strings.Join(args, " "), r.stderr)
	return r
}

// mustRun is run that fails the test unless the command exits 0.
func (s *secrets) mustRun(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := s.run(t, env, args...)
	if r.code != 0 {
		t.Fatalf("oauthrt %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// save saves tok under key in s, failing the test on an error.
func save(t testing.TB, s *store, key string, tok *oauth2.Token) {
	t.Helper()
	if err := s.Save(context.Background(), key, tok); err != nil {
		t.Fatalf("saving %q: %v", key, err)
	}
}

// saveState saves st as key's grant state in s.
func saveState(t testing.TB, s *store, key string, st oauthrt.GrantState) {
	t.Helper()
	gs, ok := s.TokenStore.(oauthrt.GrantStateStore)
	if !ok {
		t.Fatalf("%T is no GrantStateStore", s.TokenStore)
	}
	if err := gs.SaveGrantState(context.Background(), key, st); err != nil {
		t.Fatalf("saving the grant state of %q: %v", key, err)
	}
}

// withStore returns env with OAUTHRT_STORE set to b's URL.
func withStore(b backend, env ...string) []string {
	return append([]string{"OAUTHRT_STORE=" + b.url}, env...)
}

// dropAfter deletes, when the test ends, what b holds on a shared server:
// its PostgreSQL or MySQL table, its Redis keys. It runs before s is
// closed, and may run more than once.
func dropAfter(t testing.TB, s *store, b backend) {
	ctx := context.Background()
	switch st := s.TokenStore.(type) {
	case *sqlstore.Store:
		u, err := url.Parse(b.url)
		if table := u.Query().Get("table"); err == nil && table != "" && b.name != "sqlite" {
			t.Cleanup(func() {
				if _, err := st.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
					t.Logf("dropping table %s: %v", table, err)
				}
			})
		}
	case *redisstore.Store:
		t.Cleanup(func() {
			del := func(ctx context.Context, c *redis.Client) error {
				iter := c.Scan(ctx, 0, st.Prefix+"*", 1000).Iterator()
				var keys []string
				for iter.Next(ctx) {
					if keys = append(keys, iter.Val()); len(keys) == 1000 {
						if err := c.Unlink(ctx, keys...).Err(); err != nil {
							return err
						}
						keys = keys[:0]
					}
				}
				if len(keys) > 0 {
					if err := c.Unlink(ctx, keys...).Err(); err != nil {
						return err
					}
				}
				return iter.Err()
			}
			var err error
			switch c := st.Client.(type) {
			case *redis.ClusterClient:
				err = c.ForEachMaster(ctx, del)
			case *redis.Client:
				err = del(ctx, c)
			}
			if err != nil {
				t.Logf("deleting the keys of %s: %v", b.name, err)
			}
		})
	}
}
