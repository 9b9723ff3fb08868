package storetest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Run runs the conformance suite. newBackend is called once per subtest
// and must return an empty backend; it can register its clean-up with
// t.Cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"NoToken", testNoToken},
		{"Keys", testKeys},
		{"SaveCopies", testSaveCopies},
		{"NilToken", testNilToken},
		{"SharedHandles", testSharedHandles},
		{"Concurrent", testConcurrent},
		{"CancelledContext", testCancelledContext},
		{"OddKeys", testOddKeys},
		{"LeaseExclusion", testLeaseExclusion},
		{"LeaseWaitHonoursContext", testLeaseWaitHonoursContext},
		{"LeaseExpiry", testLeaseExpiry},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"LeaseTooShort", testLeaseTooShort},
		{"LeaseLockerExclusion", testLeaseLockerExclusion},
		{"LeaseLockerTTL", testLeaseLockerTTL},
		{"LeaseLockerDefaultTTL", testLeaseLockerDefaultTTL},
		{"LeaseLockerRenew", testLeaseLockerRenew},
		{"LeaseLockerRenewAfterLapse", testLeaseLockerRenewAfterLapse},
		{"LeaseLockerRenewAfterTakeover", testLeaseLockerRenewAfterTakeover},
		{"LeaseLockerRelease", testLeaseLockerRelease},
		{"Fencing", testFencing},
		{"FencingLapse", testFencingLapse},
		{"FencingConcurrent", testFencingConcurrent},
		{"CommitFirst", testCommitFirst},
		{"CommitMatch", testCommitMatch},
		{"CommitComparesBothTokens", testCommitComparesBothTokens},
		{"CommitRace", testCommitRace},
		{"CommitKeys", testCommitKeys},
		{"CommitCancelledContext", testCommitCancelledContext},
		{"CommitEncrypted", testCommitEncrypted},
		{"GrantStateRoundTrip", testGrantStateRoundTrip},
		{"GrantStateKeys", testGrantStateKeys},
		{"GrantStateCancelledContext", testGrantStateCancelledContext},
		{"SaveClearsGrantState", testSaveClearsGrantState},
		{"CommitClearsGrantState", testCommitClearsGrantState},
		{"ListKeysWalk", testListKeysWalk},
		{"ListKeysPrefix", testListKeysPrefix},
		{"ListKeysEmpty", testListKeysEmpty},
		{"ListBadCursor", testListBadCursor},
		{"ListCancelledContext", testListCancelledContext},
		{"Delete", testDelete},
		{"DeleteKeys", testDeleteKeys},
		{"DeleteCancelledContext", testDeleteCancelledContext},
		{"ListGrantStates", testListGrantStates},
		{"Snapshot", testSnapshot},
		{"SnapshotUnreadable", testSnapshotUnreadable},
		{"LoadMany", testLoadMany},
		{"LoadManyUnreadable", testLoadManyUnreadable},
		{"LoadManyEncrypted", testLoadManyEncrypted},
		{"LoadManyCancelledContext", testLoadManyCancelledContext},
		{"TakeLeaseIfMatch", testTakeLeaseIfMatch},
		{"TakeLeaseIfChanged", testTakeLeaseIfChanged},
		{"TakeLeaseIfWaits", testTakeLeaseIfWaits},
		{"TakeLeaseIfConcurrent", testTakeLeaseIfConcurrent},
		{"CommitRelease", testCommitRelease},
		{"CommitReleaseAfterTakeover", testCommitReleaseAfterTakeover},
		{"InspectWalk", testInspectWalk},
		{"InspectUnreadable", testInspectUnreadable},
		{"InspectEncrypted", testInspectEncrypted},
		{"InspectLease", testInspectLease},
		{"InspectLeaseLapse", testInspectLeaseLapse},
		{"InspectCursor", testInspectCursor},
		{"Encryption", testEncryption},
		{"KeyringRotation", testKeyringRotation},
		{"Corrupt", testCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			if b.Open == nil {
				t.Fatal("storetest: Backend.Open is nil")
			}
			tc.fn(t, b)
		})
	}
}

// Tokens the suite saves. Their extra fields are what the refreshers
// produce: a JSON object decoded with UseNumber, or url.Values.
func fullToken() *oauth2.Token {
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	return (&oauth2.Token{
		AccessToken:  "at-full-\u00e9\"'<>&",
		TokenType:    "Bearer",
		RefreshToken: "rt-full",
		Expiry:       time.Date(2031, 4, 5, 6, 7, 8, 987654321, loc),
		ExpiresIn:    3599,
	}).WithExtra(map[string]any{
		"id_token": "eyJ.x.y",
		"scope":    "repo user",
		"n":        json.Number("42"),
		"f":        json.Number("1.5"),
		"ok":       true,
		"nested":   map[string]any{"a": []any{"b", json.Number("7")}},
		"nothing":  nil,
	})
}

func formToken() *oauth2.Token {
	return (&oauth2.Token{AccessToken: "at-form", TokenType: "bearer", RefreshToken: "rt-form",
		Expiry: time.Unix(1900000000, 0)}).
		WithExtra(url.Values{"scope": {"a b"}, "n": {"42"}, "multi": {"x", "y"}})
}

func minimalToken() *oauth2.Token { return &oauth2.Token{AccessToken: "at-min"} }

var extraKeys = []string{"id_token", "scope", "n", "f", "ok", "nested", "nothing", "multi", "absent"}

// view is what the suite compares of a token.
type view struct {
	AccessToken, TokenType, RefreshToken string
	ExpiryUnix                           int64
	ExpiryZero                           bool
	ExpiresIn                            int64
	Extra                                map[string]any
}

func viewOf(tok *oauth2.Token) view {
	v := view{
		AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken,
		ExpiryZero: tok.Expiry.IsZero(), ExpiresIn: tok.ExpiresIn, Extra: map[string]any{},
	}
	if !v.ExpiryZero {
		v.ExpiryUnix = tok.Expiry.Unix()
	}
	for _, k := range extraKeys {
		v.Extra[k] = tok.Extra(k)
	}
	return v
}

func sameToken(t *testing.T, got, want *oauth2.Token) {
	t.Helper()
	if got == nil {
		t.Fatal("Load returned a nil token and no error")
	}
	if diff := cmp.Diff(viewOf(want), viewOf(got)); diff != "" {
		t.Errorf("loaded token differs from the saved one (-saved +loaded):\n%s", diff)
	}
}

func save(t *testing.T, s oauthrt.TokenStore, key string, tok *oauth2.Token) {
	t.Helper()
	if err := s.Save(context.Background(), key, tok); err != nil {
		t.Fatalf("Save(%q): %v", key, err)
	}
}

func load(t *testing.T, s oauthrt.TokenStore, key string) *oauth2.Token {
	t.Helper()
	tok, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return tok
}

func testRoundTrip(t *testing.T, b Backend) {
	s := b.Open(Options{})
	for _, tc := range []struct {
		name string
		tok  *oauth2.Token
	}{
		{"full", fullToken()},
		{"form", formToken()},
		{"minimal", minimalToken()},
	} {
		save(t, s, "k-"+tc.name, tc.tok)
		got := load(t, s, "k-"+tc.name)
		sameToken(t, got, tc.tok)
	}
}

func testNoToken(t *testing.T, b Backend) {
	s := b.Open(Options{})
	tok, err := s.Load(context.Background(), "never-saved")
	if !errors.Is(err, oauthrt.ErrNoToken) {
		t.Fatalf("Load of a missing key: err = %v, want one wrapping oauthrt.ErrNoToken", err)
	}
	if tok != nil {
		t.Errorf("Load of a missing key returned a token along with its error")
	}
	if !strings.HasPrefix(err.Error(), "oauthrt") {
		t.Errorf("error %q lacks the package prefix", err)
	}
}

func testKeys(t *testing.T, b Backend) {
	s := b.Open(Options{})
	// Keys that differ only in case, that hold separators or glob
	// characters, that are empty or long, must all be distinct.
	keys := []string{"", "org", "Org", "ORG ", "org/42", "org:42", "a*b?[c]", "ünï cødé", strings.Repeat("k", 200)}
	for i, k := range keys {
		save(t, s, k, &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", i)})
	}
	save(t, s, "org", &oauth2.Token{AccessToken: "at-org-2"})
	for i, k := range keys {
		want := fmt.Sprintf("at-%d", i)
		if k == "org" {
			want = "at-org-2"
		}
		if got := load(t, s, k).AccessToken; got != want {
			t.Errorf("Load(%q).AccessToken = %q, want %q", k, got, want)
		}
	}
}

func testSaveCopies(t *testing.T, b Backend) {
	s := b.Open(Options{})
	tok := &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1"}
	save(t, s, "k", tok)
	tok.AccessToken, tok.RefreshToken = "changed", "changed"
	if got := load(t, s, "k"); got.AccessToken != "at-1" || got.RefreshToken != "rt-1" {
		t.Errorf("changing the token after Save changed the stored one: %q %q", got.AccessToken, got.RefreshToken)
	}
}

func testNilToken(t *testing.T, b Backend) {
	s := b.Open(Options{})
	if err := s.Save(context.Background(), "k", nil); err == nil {
		t.Error("Save of a nil token succeeded")
	}
	if _, err := s.Load(context.Background(), "k"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("after a failed Save of nil: Load err = %v, want ErrNoToken", err)
	}
}

func testSharedHandles(t *testing.T, b Backend) {
	s1, s2 := b.Open(Options{}), b.Open(Options{})
	save(t, s1, "k", &oauth2.Token{AccessToken: "from-1"})
	if got := load(t, s2, "k").AccessToken; got != "from-1" {
		t.Errorf("second store Load = %q, want the first store's token", got)
	}
	save(t, s2, "k", &oauth2.Token{AccessToken: "from-2"})
	if got := load(t, s1, "k").AccessToken; got != "from-2" {
		t.Errorf("first store Load = %q, want the second store's token", got)
	}
}

func testConcurrent(t *testing.T, b Backend) {
	s := b.Open(Options{})
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*rounds)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			own := fmt.Sprintf("own-%d", w)
			for r := range rounds {
				tok := &oauth2.Token{AccessToken: fmt.Sprintf("at-%d-%d", w, r)}
				if err := s.Save(ctx, own, tok); err != nil {
					errs <- fmt.Errorf("Save(%q): %w", own, err)
					return
				}
				if err := s.Save(ctx, "shared", tok); err != nil {
					errs <- fmt.Errorf("Save(shared): %w", err)
					return
				}
				got, err := s.Load(ctx, own)
				if err != nil {
					errs <- fmt.Errorf("Load(%q): %w", own, err)
					return
				}
				if got.AccessToken != tok.AccessToken {
					errs <- fmt.Errorf("Load(%q) = %q right after saving %q", own, got.AccessToken, tok.AccessToken)
				}
				if _, err := s.Load(ctx, "shared"); err != nil {
					errs <- fmt.Errorf("Load(shared): %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := load(t, s, "shared").AccessToken
	if !strings.HasPrefix(got, "at-") || !strings.HasSuffix(got, fmt.Sprintf("-%d", rounds-1)) {
		t.Errorf("shared key holds %q, want some worker's last token", got)
	}
}

func testCancelledContext(t *testing.T, b Backend) {
	s := b.Open(Options{})
	save(t, s, "k", &oauth2.Token{AccessToken: "before"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Load(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context: err = %v, want context.Canceled", err)
	}
	if err := s.Save(ctx, "k", &oauth2.Token{AccessToken: "after"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a cancelled context: err = %v, want context.Canceled", err)
	}
	if got := load(t, s, "k").AccessToken; got != "before" {
		t.Errorf("a Save with a cancelled context stored %q", got)
	}
	if l, ok := s.(oauthrt.Locker); ok {
		if unlock, err := l.Lock(ctx, "k"); !errors.Is(err, context.Canceled) {
			if err == nil {
				unlock()
			}
			t.Errorf("Lock with a cancelled context: err = %v, want context.Canceled", err)
		}
	}
}

func newAEAD(t *testing.T, seed byte) cipher.AEAD {
	t.Helper()
	key := bytes.Repeat([]byte{seed}, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

func testEncryption(t *testing.T, b Backend) {
	if b.NoEncryption {
		t.Skip("the store has no encryption at rest")
	}
	k1, k2 := newAEAD(t, 1), newAEAD(t, 2)
	enc := b.Open(Options{AEAD: k1})
	tok := fullToken()
	save(t, enc, "sealed", tok)
	sameToken(t, load(t, enc, "sealed"), tok)

	plain := b.Open(Options{})
	save(t, plain, "plain", tok)

	secrets := []string{tok.AccessToken, tok.RefreshToken, "eyJ.x.y"}
	if b.Raw != nil {
		raw, err := b.Raw("sealed")
		if err != nil {
			t.Fatalf("Raw(sealed): %v", err)
		}
		for _, s := range secrets[1:] {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("the encrypted store holds %q in the clear", s)
			}
		}
		raw, err = b.Raw("plain")
		if err != nil {
			t.Fatalf("Raw(plain): %v", err)
		}
		if !bytes.Contains(raw, []byte("rt-full")) {
			t.Errorf("Raw of an unencrypted token lacks its refresh token; Raw does not read what is stored")
		}
	}

	wantDecrypt := func(s oauthrt.TokenStore, key, why string) {
		t.Helper()
		got, err := s.Load(context.Background(), key)
		if !errors.Is(err, oauthrt.ErrDecrypt) {
			t.Errorf("Load %s: err = %v, want oauthrt.ErrDecrypt", why, err)
			return
		}
		if got != nil {
			t.Errorf("Load %s returned a token with its error", why)
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Load %s: error %q holds a secret", why, err)
			}
		}
	}
	wantDecrypt(b.Open(Options{AEAD: k2}), "sealed", "with the wrong key")
	wantDecrypt(plain, "sealed", "of an encrypted token without a key")
	wantDecrypt(enc, "plain", "of an unencrypted token with a key")

	if b.Raw != nil && b.Put != nil {
		raw, err := b.Raw("sealed")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put("moved", raw); err != nil {
			t.Fatal(err)
		}
		wantDecrypt(enc, "moved", "of a ciphertext copied from another key")
	}
}

func testCorrupt(t *testing.T, b Backend) {
	if b.Put == nil {
		t.Skip("Backend.Put is nil")
	}
	s := b.Open(Options{})
	for name, raw := range map[string]string{
		"garbage":         "\x00\xffnot a token",
		"truncated":       `{"access_token":"at-secret","refresh`,
		"no access token": `{"refresh_token":"rt-secret"}`,
		"wrong types":     `{"access_token":42}`,
		"trailing data":   `{"access_token":"at-secret"} }`,
	} {
		if err := b.Put("k", []byte(raw)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(context.Background(), "k")
		if !errors.Is(err, oauthrt.ErrCorruptToken) {
			t.Errorf("%s: Load err = %v, want oauthrt.ErrCorruptToken", name, err)
			continue
		}
		if got != nil {
			t.Errorf("%s: Load returned a token with its error", name)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %q quotes the stored data", name, err)
		}
	}
}
