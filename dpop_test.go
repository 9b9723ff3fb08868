package oauthrt_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/dpop"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// DPoP (RFC 9449) end to end: the generic Refresher binds a grant to a
// key and gets its tokens with proofs, the stores keep the key, and the
// Transport proves every request, against the strict servers of
// dpop_server_test.go.

// newDPoPKey returns a new grant key and its thumbprint.
func newDPoPKey(t *testing.T) (crypto.Signer, string) {
	t.Helper()
	key, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return key, jkt
}

// tokenJKT returns the thumbprint of the key tok carries, or "".
func tokenJKT(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	key, err := dpop.KeyOf(tok)
	if err != nil {
		t.Fatalf("KeyOf: %v", err)
	}
	if key == nil {
		return ""
	}
	jkt, err := dpop.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

// keyMember returns the value of tok's key member, the secret the stores
// keep.
func keyMember(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	s, _ := tok.Extra(dpop.KeyMember).(string)
	if s == "" {
		t.Fatalf("the token carries no %s", dpop.KeyMember)
	}
	return s
}

// dpopRefresher returns a public client's Refresher for as.
func dpopRefresher(as *dpopAS, d *generic.DPoP) *generic.Refresher {
	return &generic.Refresher{TokenURL: as.tokenURL(), ClientID: "app", DPoP: d, HTTPClient: fastClient()}
}

// wallClock returns a clock set to the wall clock's now: the Refresher
// dates the tokens' Expiry by the wall clock.
func wallClock() *clock { return &clock{now: time.Now()} }

// newDPoPTransport returns a Transport to rs over store, under key "k",
// with RefreshAhead off so that only the tests' clock moves refreshes.
func newDPoPTransport(t *testing.T, rs *dpopRS, store oauthrt.TokenStore, r oauthrt.Refresher, clk *clock) *oauthrt.Transport {
	tr := &oauthrt.Transport{
		Base:         rs.Client().Transport,
		Store:        store,
		Key:          "k",
		Refresher:    r,
		Now:          clk.Now,
		RefreshAhead: -1,
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// dpopSend sends req through tr and returns the status and body.
func dpopSend(t *testing.T, tr http.RoundTripper, req *http.Request) (int, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// dpopGet sends a GET to url through tr, which must answer 200.
func dpopGet(t *testing.T, tr http.RoundTripper, url string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := dpopSend(t, tr, req); code != 200 {
		t.Fatalf("GET %s: %d %q, want 200", url, code, body)
	}
}

// dpopGetErr sends a GET to url through tr, which must fail.
func dpopGetErr(t *testing.T, tr http.RoundTripper, url string) error {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s: %d, want an error", url, resp.StatusCode)
	}
	return err
}

// dpopFixture is a bound grant in a MemoryStore, a Transport to the
// resource server that uses it, and the servers: what
// TestDPoPEndToEnd sets up, for the tests of one behaviour each.
type dpopFixture struct {
	as    *dpopAS
	rs    *dpopRS
	clock *clock
	key   crypto.Signer
	jkt   string
	r     *generic.Refresher
	tok   *oauth2.Token // the first token, from the code exchange
	store *oauthrt.MemoryStore
	tr    *oauthrt.Transport
}

func newDPoPFixture(t *testing.T) *dpopFixture {
	t.Helper()
	f := &dpopFixture{as: newDPoPAS(t), clock: wallClock(), store: oauthrt.NewMemoryStore()}
	f.rs = newDPoPRS(t, f.as)
	f.key, f.jkt = newDPoPKey(t)
	f.r = dpopRefresher(f.as, &generic.DPoP{})
	tok, err := f.r.ExchangeBound(context.Background(), f.as.authorize(f.jkt), "", "", f.key)
	if err != nil {
		t.Fatalf("ExchangeBound: %v", err)
	}
	f.tok = tok
	if err := f.store.Save(context.Background(), "k", tok); err != nil {
		t.Fatal(err)
	}
	f.tr = newDPoPTransport(t, f.rs, f.store, f.r, f.clock)
	return f
}

// stored returns the token the store holds under "k".
func (f *dpopFixture) stored(t *testing.T) *oauth2.Token {
	t.Helper()
	tok, err := f.store.Load(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// expire makes the Transport's clock pass the token's expiry, and the
// tokens issued from now on outlive it.
func (f *dpopFixture) expire() {
	f.as.mu.Lock()
	f.as.lifetime = 24 * 3600
	f.as.mu.Unlock()
	f.clock.Advance(2 * time.Hour)
}

func TestDPoPEndToEnd(t *testing.T) {
	ctx := context.Background()
	as := newDPoPAS(t)
	rs := newDPoPRS(t, as)
	key, jkt := newDPoPKey(t)
	code := as.authorize(jkt) // the authorization request carried dpop_jkt

	r := dpopRefresher(as, &generic.DPoP{})
	tok, err := r.ExchangeBound(ctx, code, "", "", key)
	if err != nil {
		t.Fatalf("ExchangeBound: %v", err)
	}
	if tok.TokenType != "DPoP" {
		t.Errorf("token_type %q, want DPoP", tok.TokenType)
	}
	if got := tokenJKT(t, tok); got != jkt {
		t.Errorf("the token carries key %s, want the dpop_jkt key %s", got, jkt)
	}
	if diff := cmp.Diff(map[string]int{"use_dpop_nonce": 1, "ok": 1}, as.outcomes()); diff != "" {
		t.Errorf("token requests by outcome (-want +got):\n%s", diff)
	}
	if got := as.log()[1]; got.jkt != jkt || got.nonce != as.proofs.currentNonce() {
		t.Errorf("the exchange that worked had key %s and nonce %q, want %s and %q", got.jkt, got.nonce, jkt, as.proofs.currentNonce())
	}

	store := oauthrt.NewMemoryStore()
	if err := store.Save(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	clk := wallClock()
	tr := newDPoPTransport(t, rs, store, r, clk)
	for i := range 3 {
		dpopGet(t, tr, fmt.Sprintf("%s/items?page=%d#top", rs.URL, i))
	}
	if ok, failed, challenges := rs.counts(); ok != 3 || failed != 1 || challenges != 1 {
		t.Errorf("resource server: %d ok, %d failed, %d nonce challenges; want 3, 1 (the first use's nonce), 1", ok, failed, challenges)
	}
	schemes, tokens, _, jkts := rs.seen()
	if diff := cmp.Diff([]string{"DPoP", "DPoP", "DPoP", "DPoP"}, schemes); diff != "" {
		t.Errorf("Authorization schemes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{jkt, jkt, jkt}, jkts); diff != "" {
		t.Errorf("keys of the accepted proofs (-want +got):\n%s", diff)
	}
	if tokens[3] != tok.AccessToken {
		t.Errorf("the API got another token than the exchange's")
	}

	// Expiry: the refresh is proved with the grant's key, with the token
	// endpoint's nonce (kept from the exchange: no new challenge).
	as.mu.Lock()
	as.lifetime = 24 * 3600
	as.mu.Unlock()
	clk.Advance(2 * time.Hour)
	dpopGet(t, tr, rs.URL+"/items")
	log := as.log()
	if len(log) != 3 {
		t.Fatalf("%d token requests, want 3 (the exchange, its nonce retry, one refresh)", len(log))
	}
	if got := log[2]; got.grantType != "refresh_token" || got.outcome != "ok" || got.jkt != jkt || got.nonce != as.proofs.currentNonce() {
		t.Errorf("refresh %+v, want refresh_token ok with key %s and nonce %q", got, jkt, as.proofs.currentNonce())
	}
	next, err := store.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken || next.TokenType != "DPoP" {
		t.Errorf("stored after the refresh: type %q, new access token %v, new refresh token %v; want DPoP, true, true",
			next.TokenType, next.AccessToken != tok.AccessToken, next.RefreshToken != tok.RefreshToken)
	}
	if got := tokenJKT(t, next); got != jkt {
		t.Errorf("the refreshed token carries key %s, want the grant's %s", got, jkt)
	}
	dpopGet(t, tr, rs.URL+"/items")
	if ok, _, challenges := rs.counts(); ok != 5 || challenges != 1 {
		t.Errorf("resource server: %d ok, %d nonce challenges; want 5 and still 1", ok, challenges)
	}
	_, tokens, _, jkts = rs.seen()
	if tokens[len(tokens)-1] != next.AccessToken || tokens[len(tokens)-2] != next.AccessToken {
		t.Errorf("the requests after the refresh did not carry the new token")
	}
	if jkts[len(jkts)-1] != jkt {
		t.Errorf("the proof after the refresh has key %s, want %s", jkts[len(jkts)-1], jkt)
	}
}

func TestDPoPExchangeGivesEachGrantAKey(t *testing.T) {
	as := newDPoPAS(t)
	r := dpopRefresher(as, &generic.DPoP{})
	var jkts []string
	for range 2 {
		tok, err := r.Exchange(context.Background(), as.authorize(""), "", "")
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		if tok.TokenType != "DPoP" {
			t.Errorf("token_type %q, want DPoP", tok.TokenType)
		}
		jkts = append(jkts, tokenJKT(t, tok))
	}
	if jkts[0] == "" || jkts[0] == jkts[1] {
		t.Errorf("the two grants' keys are %q and %q, want two keys", jkts[0], jkts[1])
	}
	var bound []string
	for _, req := range as.log() {
		if req.outcome == "ok" {
			bound = append(bound, req.jkt)
		}
	}
	if diff := cmp.Diff(jkts, bound); diff != "" {
		t.Errorf("keys the server bound (-tokens' +server's):\n%s", diff)
	}
}

// TestDPoPOffKeepsBearer: without DPoP, nothing about a Bearer grant
// changes: no proof at the token endpoint or the API, no key.
func TestDPoPOffKeepsBearer(t *testing.T) {
	as := newDPoPAS(t)
	rs := newDPoPRS(t, as)
	r := dpopRefresher(as, nil)
	tok, err := r.Exchange(context.Background(), as.authorize(""), "", "")
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.Extra(dpop.KeyMember) != nil {
		t.Errorf("token_type %q, key member %v; want Bearer and none", tok.TokenType, tok.Extra(dpop.KeyMember) != nil)
	}
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "k", tok); err != nil {
		t.Fatal(err)
	}
	clk := wallClock()
	tr := newDPoPTransport(t, rs, store, r, clk)
	dpopGet(t, tr, rs.URL+"/items")
	clk.Advance(2 * time.Hour) // a refresh, Bearer too
	dpopGet(t, tr, rs.URL+"/items")

	for _, req := range as.log() {
		if req.proof {
			t.Errorf("a %s token request carried a DPoP header", req.grantType)
		}
	}
	if got := as.outcomes(); got["ok"] != 2 || len(got) != 1 {
		t.Errorf("token requests by outcome %v, want 2 ok", got)
	}
	schemes, _, _, _ := rs.seen()
	if diff := cmp.Diff([]string{"Bearer", "Bearer"}, schemes); diff != "" {
		t.Errorf("Authorization schemes (-want +got):\n%s", diff)
	}
	if n := rs.proofsSeen(); n != 0 {
		t.Errorf("%d API requests carried a DPoP header, want 0", n)
	}
}

// TestDPoPTurnedOnForABearerGrant: a Bearer grant saved before DPoP was
// turned on gets a key at its next refresh, and is DPoP from then on.
func TestDPoPTurnedOnForABearerGrant(t *testing.T) {
	as := newDPoPAS(t)
	rs := newDPoPRS(t, as)
	tok, err := dpopRefresher(as, nil).Exchange(context.Background(), as.authorize(""), "", "")
	if err != nil || tok.TokenType != "Bearer" {
		t.Fatalf("Exchange: %v, %v; want a Bearer token", tok, err)
	}
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "k", tok); err != nil {
		t.Fatal(err)
	}
	clk := wallClock()
	tr := newDPoPTransport(t, rs, store, dpopRefresher(as, &generic.DPoP{}), clk)
	dpopGet(t, tr, rs.URL+"/items")
	as.mu.Lock()
	as.lifetime = 24 * 3600
	as.mu.Unlock()
	clk.Advance(2 * time.Hour)
	dpopGet(t, tr, rs.URL+"/items")
	dpopGet(t, tr, rs.URL+"/items")

	next, err := store.Load(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	jkt := tokenJKT(t, next)
	if next.TokenType != "DPoP" || jkt == "" {
		t.Fatalf("after the refresh: type %q, key %q; want DPoP with a key", next.TokenType, jkt)
	}
	if last := as.log()[len(as.log())-1]; last.grantType != "refresh_token" || last.jkt != jkt {
		t.Errorf("the refresh %+v, want one proved by the new key %s", last, jkt)
	}
	schemes, _, _, jkts := rs.seen()
	if diff := cmp.Diff([]string{"Bearer", "DPoP", "DPoP", "DPoP"}, schemes); diff != "" {
		t.Errorf("Authorization schemes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{jkt, jkt}, jkts); diff != "" {
		t.Errorf("keys of the accepted proofs (-want +got):\n%s", diff)
	}
}

// testAEAD returns an AES-256-GCM AEAD for the file store.
func testAEAD(t *testing.T) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher([]byte("dpop test AEAD key of 32 bytes!!"))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// TestDPoPKeyKeptByTheStore: a grant's key travels in the store,
// encrypted, and every Transport that reads the store signs with it.
func TestDPoPKeyKeptByTheStore(t *testing.T) {
	ctx := context.Background()
	as := newDPoPAS(t)
	rs := newDPoPRS(t, as)
	key, jkt := newDPoPKey(t)
	tok, err := dpopRefresher(as, &generic.DPoP{}).ExchangeBound(ctx, as.authorize(jkt), "", "", key)
	if err != nil {
		t.Fatalf("ExchangeBound: %v", err)
	}
	member := keyMember(t, tok)

	path := filepath.Join(t.TempDir(), "tokens.json")
	first := &filestore.Store{Path: path, AEAD: testAEAD(t)}
	if err := first.Save(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string]string{"the key member": member, "the access token": tok.AccessToken, "the refresh token": tok.RefreshToken} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the store's file holds %s in the clear", name)
		}
	}
	dpopGet(t, newDPoPTransport(t, rs, first, dpopRefresher(as, &generic.DPoP{}), wallClock()), rs.URL+"/items")

	// Another process: a store and a Transport of its own, a Refresher
	// without DPoP set (the token's key is enough), and an expiry.
	second := &filestore.Store{Path: path, AEAD: testAEAD(t)}
	clk := wallClock()
	tr := newDPoPTransport(t, rs, second, dpopRefresher(as, nil), clk)
	dpopGet(t, tr, rs.URL+"/items")
	as.mu.Lock()
	as.lifetime = 24 * 3600
	as.mu.Unlock()
	clk.Advance(2 * time.Hour)
	dpopGet(t, tr, rs.URL+"/items")

	_, _, _, jkts := rs.seen()
	if diff := cmp.Diff([]string{jkt, jkt, jkt}, jkts); diff != "" {
		t.Errorf("keys of the accepted proofs (-want +got):\n%s", diff)
	}
	log := as.log()
	if last := log[len(log)-1]; last.grantType != "refresh_token" || last.outcome != "ok" || last.jkt != jkt {
		t.Errorf("the second process's refresh: %+v, want refresh_token ok with key %s", last, jkt)
	}
	next, err := first.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessToken == tok.AccessToken || tokenJKT(t, next) != jkt {
		t.Errorf("the first store does not read the refreshed token with the grant's key")
	}
}

func TestDPoPNonceRetryReplaysTheBody(t *testing.T) {
	f := newDPoPFixture(t)
	req, err := http.NewRequest(http.MethodPost, f.rs.URL+"/items", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := dpopSend(t, f.tr, req); code != 200 {
		t.Fatalf("POST: %d %q, want 200", code, body)
	}
	_, _, bodies, _ := f.rs.seen()
	if diff := cmp.Diff([]string{"payload", "payload"}, bodies); diff != "" {
		t.Errorf("bodies received (-want +got):\n%s", diff)
	}
	if ok, failed, challenges := f.rs.counts(); ok != 1 || failed != 1 || challenges != 1 {
		t.Errorf("resource server: %d ok, %d failed, %d challenges; want 1 each", ok, failed, challenges)
	}
}

func TestDPoPNonceChallengeWithAnUnreplayableBody(t *testing.T) {
	f := newDPoPFixture(t)
	req, err := http.NewRequest(http.MethodPost, f.rs.URL+"/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(strings.NewReader("payload")) // no GetBody
	resp, err := f.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce") {
		t.Errorf("got %d %q, want the 401 use_dpop_nonce", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if ok, failed, _ := f.rs.counts(); ok != 0 || failed != 1 {
		t.Errorf("resource server: %d ok, %d failed; want 0 and 1", ok, failed)
	}
	// The nonce it brought is kept: the next request needs no challenge.
	dpopGet(t, f.tr, f.rs.URL+"/items")
	if _, _, challenges := f.rs.counts(); challenges != 1 {
		t.Errorf("%d nonce challenges, want 1", challenges)
	}
	if n := len(f.as.log()); n != 2 {
		t.Errorf("%d token requests, want the exchange's 2: a nonce is no reason to refresh", n)
	}
}

// TestDPoPNonceChallengeNotLooped: a server that asks again for the nonce
// the request carried gets its 401 back, however often it asks.
func TestDPoPNonceChallengeNotLooped(t *testing.T) {
	t.Run("nonce known", func(t *testing.T) {
		f := newDPoPFixture(t)
		dpopGet(t, f.tr, f.rs.URL+"/items")
		f.rs.mu.Lock()
		f.rs.stuckNonce = true
		f.rs.mu.Unlock()
		_, before, _ := f.rs.counts()
		req, _ := http.NewRequest(http.MethodGet, f.rs.URL+"/items", nil)
		if code, _ := dpopSend(t, f.tr, req); code != 401 {
			t.Errorf("status %d, want the 401", code)
		}
		if _, failed, _ := f.rs.counts(); failed-before != 1 {
			t.Errorf("%d requests, want 1: the proof carried the nonce asked for", failed-before)
		}
	})
	t.Run("nonce unknown", func(t *testing.T) {
		f := newDPoPFixture(t)
		f.rs.stuckNonce = true // before any request
		req, _ := http.NewRequest(http.MethodGet, f.rs.URL+"/items", nil)
		if code, _ := dpopSend(t, f.tr, req); code != 401 {
			t.Errorf("status %d, want the 401", code)
		}
		if ok, failed, _ := f.rs.counts(); ok != 0 || failed != 2 {
			t.Errorf("%d ok, %d failed; want 0 and 2: one retry with the nonce, none after", ok, failed)
		}
		if n := len(f.as.log()); n != 2 {
			t.Errorf("%d token requests, want the exchange's 2", n)
		}
	})
}

// TestDPoPNonceFromAnOKAnswer: a nonce handed out with a 200 is the one
// the next proof carries (RFC 9449 §8.2), with no challenge.
func TestDPoPNonceFromAnOKAnswer(t *testing.T) {
	f := newDPoPFixture(t)
	dpopGet(t, f.tr, f.rs.URL+"/items") // learns the first nonce, by a challenge
	f.rs.mu.Lock()
	f.rs.rotateOnOK = true
	f.rs.mu.Unlock()
	dpopGet(t, f.tr, f.rs.URL+"/items") // its 200 hands out the next
	next := f.rs.proofs.currentNonce()
	dpopGet(t, f.tr, f.rs.URL+"/items")
	if ok, _, challenges := f.rs.counts(); ok != 3 || challenges != 1 {
		t.Errorf("%d ok, %d nonce challenges; want 3 and 1", ok, challenges)
	}
	f.rs.mu.Lock()
	last := f.rs.nonces[len(f.rs.nonces)-1]
	f.rs.mu.Unlock()
	if last != next {
		t.Errorf("the last proof carried nonce %q, want the 200's %q", last, next)
	}
}

// TestDPoPNonceChallengeAfterAnotherRequestLearnedIt: a request whose
// proof carried an old nonce gets the new one asked for after another
// request already learned it; it is sent again all the same, since its
// own proof did not carry it.
func TestDPoPNonceChallengeAfterAnotherRequestLearnedIt(t *testing.T) {
	f := newDPoPFixture(t)
	dpopGet(t, f.tr, f.rs.URL+"/items") // the Transport knows the nonce
	arrived, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	f.rs.hold = func(r *http.Request) {
		if r.URL.Path == "/slow" && held.CompareAndSwap(false, true) {
			close(arrived)
			<-release
		}
	}
	f.rs.proofs.rotateNonce("rs")

	var wg sync.WaitGroup
	var slowCode int
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequest(http.MethodGet, f.rs.URL+"/slow", nil)
		resp, err := f.tr.RoundTrip(req)
		if err != nil {
			t.Errorf("GET /slow: %v", err)
			return
		}
		resp.Body.Close()
		slowCode = resp.StatusCode
	}()
	<-arrived                          // /slow went out with the old nonce
	dpopGet(t, f.tr, f.rs.URL+"/fast") // challenged, learns the new one
	close(release)                     // /slow is challenged now, for the nonce already learned
	wg.Wait()
	if slowCode != 200 {
		t.Errorf("GET /slow: %d, want 200 after one retry with the new nonce", slowCode)
	}
	if ok, _, challenges := f.rs.counts(); ok != 3 || challenges != 3 {
		t.Errorf("%d ok, %d nonce challenges; want 3 and 3", ok, challenges)
	}
}

// TestDPoPConcurrentRequestsAcrossANonceRotation: many requests at once
// on one DPoP token, just after the resource server rotated its nonce,
// all get through: each with a proof of its own, each challenged at most
// once, and none refreshes the token.
func TestDPoPConcurrentRequestsAcrossANonceRotation(t *testing.T) {
	const n = 50
	f := newDPoPFixture(t)
	dpopGet(t, f.tr, f.rs.URL+"/items")
	f.rs.proofs.rotateNonce("rs")
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/items/%d", f.rs.URL, i), nil)
			resp, err := f.tr.RoundTrip(req)
			if err != nil {
				t.Errorf("GET %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("GET %d: status %d, want 200", i, code)
		}
	}
	ok, failed, challenges := f.rs.counts()
	if ok != n+1 || failed != challenges || challenges > n+1 {
		t.Errorf("%d ok, %d failed, %d challenges; want %d ok, and no failure but at most one nonce challenge each", ok, failed, challenges, n+1)
	}
	if got := f.rs.proofs.seenJTIs(); got != ok+failed {
		t.Errorf("%d distinct jti for %d requests", got, ok+failed)
	}
	if n := len(f.as.log()); n != 2 {
		t.Errorf("%d token requests, want the exchange's 2", n)
	}
}

// TestDPoPTokenWithoutAUsableKeyIsNotSent: a DPoP token is never sent
// without its proof, and the key's value never shows in the error.
func TestDPoPTokenWithoutAUsableKeyIsNotSent(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(der)
	}
	for _, tt := range []struct {
		name   string
		member any // nil: none
	}{
		{"no key", nil},
		{"not base64url", "secret-bits!*!" + randomHex()},
		{"not PKCS #8", base64.RawURLEncoding.EncodeToString([]byte("not a key at all " + randomHex()))},
		{"an RSA key too small", pkcs8(small)},
		{"a P-224 key", pkcs8(p224)},
		{"a number", 12345.5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newDPoPFixture(t)
			tok := &oauth2.Token{AccessToken: f.tok.AccessToken, RefreshToken: f.tok.RefreshToken, TokenType: "DPoP", Expiry: f.tok.Expiry}
			if tt.member != nil {
				tok = tok.WithExtra(map[string]any{dpop.KeyMember: tt.member})
			}
			if err := f.store.Save(context.Background(), "k", tok); err != nil {
				t.Fatal(err)
			}
			err := dpopGetErr(t, f.tr, f.rs.URL+"/items")
			if !strings.HasPrefix(err.Error(), "oauthrt: ") {
				t.Errorf("err = %v, want an oauthrt: error", err)
			}
			if !errors.Is(err, oauthrt.ErrReauthRequired) {
				t.Errorf("err = %v, want ErrReauthRequired: a bound token is no use without its key", err)
			}
			if s, ok := tt.member.(string); ok && strings.Contains(err.Error(), s) {
				t.Errorf("the error shows the key member: %v", err)
			}
			for _, secret := range []string{tok.AccessToken, tok.RefreshToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a token: %v", err)
				}
			}
			if ok, failed, _ := f.rs.counts(); ok+failed != 0 {
				t.Errorf("the API got %d requests, want none", ok+failed)
			}
		})
	}
}

// TestDPoPRejectedTokenRefreshedAndResent: a 401 DPoP invalid_token
// refreshes the token, and the request goes again with a proof for the
// new token.
func TestDPoPRejectedTokenRefreshedAndResent(t *testing.T) {
	f := newDPoPFixture(t)
	dpopGet(t, f.tr, f.rs.URL+"/items")
	f.as.revokeAccess(f.tok.AccessToken)
	dpopGet(t, f.tr, f.rs.URL+"/items?after=revocation")

	log := f.as.log()
	if len(log) != 3 || log[2].grantType != "refresh_token" || log[2].outcome != "ok" || log[2].jkt != f.jkt {
		t.Fatalf("token requests %+v, want the exchange's 2 and a refresh with key %s", log, f.jkt)
	}
	next := f.stored(t)
	_, tokens, _, jkts := f.rs.seen()
	if want := []string{f.tok.AccessToken, f.tok.AccessToken, f.tok.AccessToken, next.AccessToken}; !cmp.Equal(want, tokens) {
		t.Errorf("the API got tokens %v, want the first three times the old one, then the new one", tokens)
	}
	// The server accepted the resend, so its proof's ath was the new
	// token's hash, and its key the grant's.
	if ok, failed, challenges := f.rs.counts(); ok != 2 || failed != 2 || challenges != 1 {
		t.Errorf("%d ok, %d failed, %d challenges; want 2, 2 (the nonce, the revoked token), 1", ok, failed, challenges)
	}
	if jkts[len(jkts)-1] != f.jkt {
		t.Errorf("the resend's proof has key %s, want %s", jkts[len(jkts)-1], f.jkt)
	}
}

// TestDPoPNoRefreshForAChallengeThatBlamesNoToken: a DPoP challenge
// saying insufficient_scope or invalid_request is returned as it is, as
// its Bearer twin is: a new token would not change the answer.
func TestDPoPNoRefreshForAChallengeThatBlamesNoToken(t *testing.T) {
	for _, challenge := range []string{
		`DPoP error="insufficient_scope", scope="write", algs="ES256"`,
		`DPoP algs="ES256", error="invalid_request"`,
	} {
		t.Run(challenge, func(t *testing.T) {
			f := newDPoPFixture(t)
			dpopGet(t, f.tr, f.rs.URL+"/items")
			f.rs.mu.Lock()
			f.rs.refuseWith = challenge
			f.rs.mu.Unlock()
			req, _ := http.NewRequest(http.MethodGet, f.rs.URL+"/items", nil)
			if strings.Contains(challenge, "insufficient_scope") {
				// A missing scope is the caller's to handle, as a typed error.
				_, err := f.tr.RoundTrip(req)
				var scope *oauthrt.InsufficientScopeError
				if !errors.As(err, &scope) || scope.Scope != "write" {
					t.Errorf("RoundTrip: %v, want an *InsufficientScopeError for write", err)
				}
			} else if code, _ := dpopSend(t, f.tr, req); code != 401 {
				t.Errorf("status %d, want the 401", code)
			}
			if n := len(f.as.log()); n != 2 {
				t.Errorf("%d token requests, want the exchange's 2: no refresh", n)
			}
			if ok, failed, _ := f.rs.counts(); ok != 1 || failed != 2 {
				t.Errorf("%d ok, %d failed; want 1 and 2 (the first nonce, the refusal)", ok, failed)
			}
		})
	}
}

// TestDPoPNonceAtTheTokenEndpointIsNoDeadGrant: use_dpop_nonce is asked
// for once, and never taken for a dead grant, however often it comes.
func TestDPoPNonceAtTheTokenEndpointIsNoDeadGrant(t *testing.T) {
	f := newDPoPFixture(t)
	f.as.mu.Lock()
	f.as.alwaysNewNonce = true
	f.as.mu.Unlock()
	f.expire()
	err := dpopGetErr(t, f.tr, f.rs.URL+"/items")
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("err = %v, wraps ErrReauthRequired: a nonce is no dead grant", err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "use_dpop_nonce" {
		t.Errorf("err = %v, want a *oauth2.RetrieveError with code use_dpop_nonce", err)
	}
	log := f.as.log()[2:] // after the exchange
	if len(log) != 2 || log[0].outcome != "use_dpop_nonce" || log[1].outcome != "use_dpop_nonce" {
		t.Errorf("refresh requests %+v, want exactly 2, both use_dpop_nonce", log)
	}
	if log[0].jti == log[1].jti || log[0].nonce == log[1].nonce {
		t.Errorf("the retry's proof is not a new one with the new nonce: %+v", log)
	}
	if ok, failed, _ := f.rs.counts(); ok+failed != 0 {
		t.Errorf("the API got %d requests, want none", ok+failed)
	}

	// The code exchange gives up the same way.
	_, err = f.r.Exchange(context.Background(), f.as.authorize(""), "", "")
	if err == nil || errors.Is(err, oauthrt.ErrReauthRequired) || !errors.As(err, &re) || re.ErrorCode != "use_dpop_nonce" {
		t.Errorf("Exchange: err = %v, want a use_dpop_nonce *oauth2.RetrieveError, not ErrReauthRequired", err)
	}
	if n := len(f.as.log()); n != 6 {
		t.Errorf("%d token requests, want 6: 2 for the exchange", n)
	}
}

// TestDPoPWithPrivateKeyJWT: a confidential client with private_key_jwt
// sends a new assertion and a new proof on each attempt.
func TestDPoPWithPrivateKeyJWT(t *testing.T) {
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	as := newDPoPAS(t)
	r := &generic.Refresher{
		TokenURL:      as.tokenURL(),
		ClientID:      "app",
		PrivateKeyJWT: &generic.PrivateKeyJWT{Key: clientKey},
		DPoP:          &generic.DPoP{},
		HTTPClient:    fastClient(),
	}
	tok, err := r.Exchange(context.Background(), as.authorize(""), "", "")
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	as.proofs.rotateNonce("as") // the refresh is challenged too
	if _, err := r.Refresh(context.Background(), tok); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	log := as.log()
	var outcomes []string
	assertions, proofs := map[string]bool{}, map[string]bool{}
	for _, req := range log {
		outcomes = append(outcomes, req.outcome)
		if req.assertionJTI == "" || req.jti == "" {
			t.Errorf("request %+v lacks an assertion or a proof", req)
		}
		assertions[req.assertionJTI], proofs[req.jti] = true, true
		if req.jkt != tokenJKT(t, tok) {
			t.Errorf("proof of key %s, want the grant's", req.jkt)
		}
	}
	if diff := cmp.Diff([]string{"use_dpop_nonce", "ok", "use_dpop_nonce", "ok"}, outcomes); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if len(assertions) != 4 || len(proofs) != 4 {
		t.Errorf("%d assertions and %d proofs for 4 attempts, want a new one each time", len(assertions), len(proofs))
	}
}

// TestDPoPRefreshSignsWithTheGrantsKey: a token that carries a key is
// refreshed with it, even by a Refresher without DPoP set; a refresh
// proved by another key is refused (the server binds refresh tokens).
func TestDPoPRefreshSignsWithTheGrantsKey(t *testing.T) {
	f := newDPoPFixture(t)
	next, err := dpopRefresher(f.as, nil).Refresh(context.Background(), f.tok)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if next.TokenType != "DPoP" || tokenJKT(t, next) != f.jkt {
		t.Errorf("refreshed: type %q, key %s; want DPoP, %s", next.TokenType, tokenJKT(t, next), f.jkt)
	}

	other, _ := newDPoPKey(t)
	swapped, err := dpop.Bind(next, other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.r.Refresh(context.Background(), swapped)
	if !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("refresh with another key: err = %v, want ErrReauthRequired (invalid_grant)", err)
	}
}

// TestDPoPErrorsHoldNoSecrets: no error of the DPoP paths shows a token
// or the key.
func TestDPoPErrorsHoldNoSecrets(t *testing.T) {
	ctx := context.Background()
	f := newDPoPFixture(t)
	secrets := map[string]string{
		"access token":  f.tok.AccessToken,
		"refresh token": f.tok.RefreshToken,
		"key member":    keyMember(t, f.tok),
	}
	var errs []error

	// A rotated refresh token presented again: invalid_grant, whose
	// description the server words with no secret.
	next, err := f.r.Refresh(ctx, f.tok)
	if err != nil {
		t.Fatal(err)
	}
	secrets["new access token"], secrets["new refresh token"] = next.AccessToken, next.RefreshToken
	_, err = f.r.Refresh(ctx, f.tok)
	errs = append(errs, err)

	// A proof of another key.
	other, _ := newDPoPKey(t)
	swapped, _ := dpop.Bind(next, other)
	secrets["other key member"] = keyMember(t, swapped)
	_, err = f.r.Refresh(ctx, swapped)
	errs = append(errs, err)

	// A server that always wants another nonce, through the Transport.
	f.as.mu.Lock()
	f.as.alwaysNewNonce = true
	f.as.mu.Unlock()
	_, err = f.r.Refresh(ctx, next)
	errs = append(errs, err)
	f.expire()
	errs = append(errs, dpopGetErr(t, f.tr, f.rs.URL+"/items"))

	// A key member that is no key, a DPoP token with none.
	broken := next.WithExtra(map[string]any{dpop.KeyMember: "broken-" + secrets["key member"][:40]})
	secrets["broken member"] = broken.Extra(dpop.KeyMember).(string)
	_, err = f.r.Refresh(ctx, broken)
	errs = append(errs, err)
	g := newDPoPFixture(t)
	g.store.Save(ctx, "k", broken)
	errs = append(errs, dpopGetErr(t, g.tr, g.rs.URL+"/items"))
	bare := &oauth2.Token{AccessToken: next.AccessToken, RefreshToken: next.RefreshToken, TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)}
	g.store.Save(ctx, "k", bare)
	errs = append(errs, dpopGetErr(t, g.tr, g.rs.URL+"/items"))

	for i, err := range errs {
		if err == nil {
			t.Errorf("error %d is nil", i)
			continue
		}
		for name, s := range secrets {
			if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v", err), s) {
				t.Errorf("error %d shows the %s: %v", i, name, err)
			}
		}
	}
}
