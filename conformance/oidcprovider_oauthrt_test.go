package conformance

// oauthrt itself against oidc-provider (see oidcprovider_test.go for the
// harness and testdata/oidcprovider/server.mjs for the server): the
// generic Refresher's DPoP code exchange and refreshes, the Transport's
// proofs and nonces, a grant's key kept in an encrypted file store and
// found there by another Transport, Transport.Revoke, and a fleet of
// processes sharing one store file. Every DPoP proof and client
// assertion here is oauthrt's; the harness's own proofs only check, from
// outside, what oauthrt left behind.
//
// These tests reset the server's counters and compare them exactly, as
// the smoke test does: none of them runs in parallel with another.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/dpop"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// oidcLeeway is the Transports' Leeway against oidc-provider. Its opaque
// access tokens expire at their issue time truncated to the second plus
// the TTL (lib/models/base_token.js sets iat from epochTime(), and
// clockTolerance is 0 in server.mjs; read 2026-11-30), while the
// Refresher counts expires_in from when the answer arrived: the server
// may refuse a token up to a second before its Expiry. A second and a
// bit keeps the Transport from sending a token the server just retired.
const oidcLeeway = 1200 * time.Millisecond

// oidcRefresher is oauthrt's Refresher for clientID: private_key_jwt with
// the committed key for oidcConfidential, no client authentication for
// oidcPublic; DPoP on; revocation at the provider's endpoint. The client
// assertion's audience is left at its default, the URL it is posted to:
// oidc-provider accepts the endpoint's own URL, its issuer or its token
// endpoint (lib/shared/jwt_client_auth.js, "audience (aud) must equal the
// endpoint url, issuer identifier or token endpoint url", 9.13.3, read
// 2026-11-30), so the revocation's assertion, addressed to the
// revocation URL, passes too.
func oidcRefresher(t testing.TB, ep oidcEndpoints, clientID string) *generic.Refresher {
	t.Helper()
	r := &generic.Refresher{
		TokenURL:      ep.Token,
		ClientID:      clientID,
		DPoP:          &generic.DPoP{},
		RevocationURL: ep.Revocation,
		// oidc-provider keeps no grace window: a rotated refresh token
		// that comes back revokes the grant (server.mjs,
		// rotateRefreshToken: true; https://github.com/panva/node-oidc-provider/blob/v9.11.4/docs/README.md#rotaterefreshtoken,
		// read 2026-11-30).
		RotationGraceWindow: -1,
	}
	switch clientID {
	case oidcConfidential:
		r.PrivateKeyJWT = &generic.PrivateKeyJWT{Key: oidcClientKey(t)}
	case oidcPublic:
		r.AuthMethod = generic.AuthNone
	default:
		t.Fatalf("no client %q in server.mjs", clientID)
	}
	return r
}

// newAEAD returns AES-256-GCM under key (32 bytes).
func newAEAD(t testing.TB, key []byte) cipher.AEAD {
	t.Helper()
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

// sealedStore returns a file store at path whose tokens are encrypted
// under aeadKey. Each call returns a Store of its own on the same file,
// as another process would open it.
func sealedStore(t testing.TB, path string, aeadKey []byte) *filestore.Store {
	t.Helper()
	return &filestore.Store{Path: path, AEAD: newAEAD(t, aeadKey)}
}

// randomKey returns 32 random bytes.
func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// oidcTransport is a Transport for the grant stored under key, with no
// refresh ahead of expiry, so that each test knows when it refreshes.
func oidcTransport(store oauthrt.TokenStore, r *generic.Refresher, key string) *oauthrt.Transport {
	return &oauthrt.Transport{Store: store, Refresher: r, Key: key, Leeway: oidcLeeway, RefreshAhead: -1}
}

// grantKey makes a DPoP key with oauthrt's dpop package, and returns it
// with its thumbprint, for the authorization request's dpop_jkt.
func grantKey(t testing.TB) (crypto.Signer, string) {
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

// wantBoundTo fails the test unless tok is a DPoP token that carries key.
func wantBoundTo(t testing.TB, step string, tok *oauth2.Token, key crypto.Signer) {
	t.Helper()
	if tok.TokenType != dpop.TokenType || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("%s: token_type %q, access token %t, refresh token %t; want a DPoP pair", step, tok.TokenType, tok.AccessToken != "", tok.RefreshToken != "")
	}
	got, err := dpop.KeyOf(tok)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if got == nil || !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Fatalf("%s: the token carries another key than the grant's", step)
	}
}

// wantSealed fails the test unless the token file at path holds none of
// tok's secrets in the clear: neither token, nor the DPoP key (the value
// of its member), nor even the member's name.
func wantSealed(t testing.TB, path string, tok *oauth2.Token) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	member, _ := tok.Extra(dpop.KeyMember).(string)
	if member == "" {
		t.Fatal("the token carries no DPoP key to look for")
	}
	for what, secret := range map[string]string{"the DPoP key": member, "the key's member name": dpop.KeyMember, "the access token": tok.AccessToken, "the refresh token": tok.RefreshToken} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the token file holds %s in the clear", what)
		}
	}
}

// meVia calls the userinfo endpoint through rt and returns the subject
// it names.
func meVia(rt http.RoundTripper, ep oidcEndpoints) (string, error) {
	body, err := tryGet(rt, ep.Userinfo)
	if err != nil {
		return "", err
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal([]byte(body), &claims); err != nil {
		return "", fmt.Errorf("userinfo answered %q: %w", body, err)
	}
	return claims.Sub, nil
}

// wantAlice fails the test unless a GET of the userinfo endpoint through
// rt answers 200 for alice.
func wantAlice(t testing.TB, step string, rt http.RoundTripper, ep oidcEndpoints) {
	t.Helper()
	sub, err := meVia(rt, ep)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if sub != oidcAccount {
		t.Fatalf("%s: userinfo names %q, want %q", step, sub, oidcAccount)
	}
}

// tokenEndpointSeen records, per issuer, when this process's generic
// Refresher last had answers from that token endpoint, as far as these
// tests know (see tokenNonceRange).
var tokenEndpointSeen = map[string]time.Time{}

// tokenNonceRange is how many use_dpop_nonce answers the token endpoint
// gives the first request of a test. The generic package keeps the
// nonces of token endpoints for the whole process (tokenNonces in
// generic/dpop.go), so only the process's first token request goes
// without one. oidc-provider's nonce for step s (60 seconds) is good
// until step s+3 ends, and every answer brings the newest when the proof
// had another (lib/helpers/challenge.js, lib/helpers/validate_dpop.js,
// 9.13.3, read 2026-11-30): a nonce the Refresher holds is good for at
// least two minutes after its last answer, which tokenEndpointSeen
// records after each test's last token request. Past that, the count
// is 0 or 1.
func tokenNonceRange(issuer string) (lo, hi int) {
	seen, ok := tokenEndpointSeen[issuer]
	switch {
	case !ok:
		return 1, 1
	case time.Since(seen) < 2*time.Minute:
		return 0, 0
	}
	return 0, 1
}

// counts builds the server's expected counters, missing maps empty.
type counts struct {
	tokenOK, tokenErrors, resourceErrors, revocationErrors map[string]int
	resourceOK, revocationOK, grantsRevoked                int
}

// wantCounts fails the test unless the server's counters are want, with
// the token endpoint's use_dpop_nonce count within [lo, hi] (see
// tokenNonceRange) on top of want's, and records the token endpoint as
// seen.
func wantCounts(t testing.TB, issuer string, want counts, lo, hi int) oidcStats {
	t.Helper()
	got := stats(t, issuer)
	tokenEndpointSeen[issuer] = time.Now()
	var w oidcStats
	w.Token.OK = nonZero(want.tokenOK)
	w.Token.Errors = nonZero(want.tokenErrors)
	w.Resource.OK = want.resourceOK
	w.Resource.Errors = nonZero(want.resourceErrors)
	w.Revocation.OK = want.revocationOK
	w.Revocation.Errors = nonZero(want.revocationErrors)
	w.GrantsRevoked = want.grantsRevoked
	if n := got.Token.Errors["use_dpop_nonce"] - w.Token.Errors["use_dpop_nonce"]; n >= lo && n <= hi {
		w.Token.Errors["use_dpop_nonce"] += n
		if w.Token.Errors["use_dpop_nonce"] == 0 {
			delete(w.Token.Errors, "use_dpop_nonce")
		}
	} else {
		t.Errorf("the token endpoint asked for a nonce %d times more than expected, want %d to %d more", n, lo, hi)
	}
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("/__stats\n got %+v\nwant %+v", got, w)
	}
	return got
}

// nonZero returns a copy of m without its zero counts, never nil.
func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestOIDCProviderDPoPGrant runs a confidential client's DPoP grant
// through oauthrt: the code exchange with a key chosen before the
// authorization (dpop_jkt) and oauthrt's client assertion, the token and
// its key saved encrypted in a file store, requests through the
// Transport with its proofs and the resource server's nonce, and, after
// the 3-second access token ran out (-short skips that wait), a refresh
// that rotates the refresh token and keeps the key.
func TestOIDCProviderDPoPGrant(t *testing.T) {
	issuer := oidcProvider(t)
	ep := discover(t, issuer)
	resetStats(t, issuer)
	lo, hi := tokenNonceRange(issuer)
	ctx := context.Background()

	key, jkt := grantKey(t)
	code, verifier := authorize(t, issuer, oidcConfidential, withAuthParam("dpop_jkt", jkt))
	r := oidcRefresher(t, ep, oidcConfidential)
	tok, err := r.ExchangeBound(ctx, code, oidcRedirectURI, verifier, key)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	wantBoundTo(t, "code exchange", tok, key)
	if left := time.Until(tok.Expiry); left <= 0 || left > 10*time.Second {
		t.Fatalf("the first token expires in %v; server.mjs's tokens live 3s", left)
	}

	path := filepath.Join(t.TempDir(), "tokens.json")
	aeadKey := randomKey(t)
	store := sealedStore(t, path, aeadKey)
	save(t, store, "alice", tok)
	wantSealed(t, path, tok)
	stored := load(t, store, "alice")
	wantBoundTo(t, "the stored token", stored, key)

	tr := oidcTransport(store, r, "alice")
	defer tr.Close()
	// The first request is refused for want of a nonce and sent again
	// with it; the second has it from the start.
	wantAlice(t, "first request", tr, ep)
	wantAlice(t, "second request", tr, ep)
	if !time.Now().Before(tok.Expiry.Add(-oidcLeeway)) {
		// Under the race detector on a loaded machine the two requests
		// can outlast the 3-second token, and the counts below would
		// include a refresh: the fleet soak covers refreshes either way.
		t.Skip("the first token expired before its two requests were done (a slow run): the exact counts cannot be checked")
	}
	wantCounts(t, issuer, counts{
		tokenOK:        map[string]int{"authorization_code": 1},
		resourceOK:     2,
		resourceErrors: map[string]int{"use_dpop_nonce": 1},
	}, lo, hi)

	if testing.Short() {
		t.Skip("-short: not waiting out the access token for the refresh")
	}
	// An explicit wait, bounded above: the token's own Expiry, at most
	// ten seconds from its issue (checked above). The Transport counts
	// it expired oidcLeeway before that.
	time.Sleep(time.Until(tok.Expiry))
	wantAlice(t, "after the access token expired", tr, ep)
	wantAlice(t, "with the refreshed token", tr, ep)

	next := load(t, store, "alice")
	wantBoundTo(t, "the refreshed token", next, key)
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatalf("the refresh gave a new refresh token: %t, a new access token: %t; want both (rotation)", next.RefreshToken != tok.RefreshToken, next.AccessToken != tok.AccessToken)
	}
	wantSealed(t, path, next)
	// The refresh needed no nonce: the code exchange's was still good.
	wantCounts(t, issuer, counts{
		tokenOK:        map[string]int{"authorization_code": 1, "refresh_token": 1},
		resourceOK:     4,
		resourceErrors: map[string]int{"use_dpop_nonce": 1},
	}, lo, hi)
}

// TestOIDCProviderDPoPPublicClient proves that a public client's grant
// lives on its key, and that the key lives in the store: dpop-public's
// refresh tokens are bound to the DPoP key (server.mjs), so a second
// Transport, with a Store of its own on the same file, can refresh only
// with the key it found there. A token saved without its key is never
// sent: not while fresh (the Transport refuses it), and its refresh,
// which can only carry a proof from a new key, is refused as
// invalid_grant, which oauthrt reports as ErrReauthRequired; the grant
// survives that, and refreshes again once the key is back.
func TestOIDCProviderDPoPPublicClient(t *testing.T) {
	issuer := oidcProvider(t)
	ep := discover(t, issuer)
	resetStats(t, issuer)
	lo, hi := tokenNonceRange(issuer)
	ctx := context.Background()

	key, jkt := grantKey(t)
	code, verifier := authorize(t, issuer, oidcPublic, withAuthParam("dpop_jkt", jkt))
	r := oidcRefresher(t, ep, oidcPublic)
	tok, err := r.ExchangeBound(ctx, code, oidcRedirectURI, verifier, key)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	wantBoundTo(t, "code exchange", tok, key)
	path := filepath.Join(t.TempDir(), "tokens.json")
	aeadKey := randomKey(t)
	save(t, sealedStore(t, path, aeadKey), "alice", tok)
	wantSealed(t, path, tok)

	a := oidcTransport(sealedStore(t, path, aeadKey), r, "alice")
	defer a.Close()
	wantAlice(t, "first Transport", a, ep)

	// A second Transport, as another process would have: its own Store
	// and its own Refresher on the same file. Invalidate makes its first
	// request refresh, however fresh the token.
	b := oidcTransport(sealedStore(t, path, aeadKey), oidcRefresher(t, ep, oidcPublic), "alice")
	defer b.Close()
	b.Invalidate("alice")
	wantAlice(t, "second Transport, after its refresh", b, ep)
	full := load(t, sealedStore(t, path, aeadKey), "alice")
	wantBoundTo(t, "the token the second Transport refreshed", full, key)
	if full.RefreshToken == tok.RefreshToken {
		t.Fatal("the second Transport's refresh did not rotate the refresh token")
	}
	wantCounts(t, issuer, counts{
		tokenOK:        map[string]int{"authorization_code": 1, "refresh_token": 1},
		resourceOK:     2,
		resourceErrors: map[string]int{"use_dpop_nonce": 2}, // each Transport's first request
	}, lo, hi)

	// The grant's live tokens without the key: what a store that dropped
	// the token's extra fields would give back.
	stripped := &oauth2.Token{AccessToken: full.AccessToken, TokenType: full.TokenType, RefreshToken: full.RefreshToken, Expiry: time.Now().Add(time.Hour)}
	save(t, sealedStore(t, path, aeadKey), "alice", stripped)
	c := oidcTransport(sealedStore(t, path, aeadKey), oidcRefresher(t, ep, oidcPublic), "alice")
	defer c.Close()
	_, err = meVia(c, ep)
	if err == nil || !strings.Contains(err.Error(), "carries no DPoP key") {
		t.Fatalf("a fresh DPoP token without its key: got %v, want the Transport's refusal to send it", err)
	}

	// Expired, it is refreshed first, with a proof from a new key, which
	// the server refuses: the refresh token is bound to the lost one.
	stripped.Expiry = time.Now().Add(-time.Minute)
	save(t, sealedStore(t, path, aeadKey), "alice", stripped)
	d := oidcTransport(sealedStore(t, path, aeadKey), oidcRefresher(t, ep, oidcPublic), "alice")
	defer d.Close()
	_, err = meVia(d, ep)
	if !errors.Is(err, oauthrt.ErrReauthRequired) || errorCode(err) != "invalid_grant" {
		t.Fatalf("refreshing a DPoP token without its key: got %v, want ErrReauthRequired from invalid_grant", err)
	}
	// Nothing reached the resource server since: no Bearer use of the
	// bound token (which it would count as invalid_token), no DPoP use
	// without a proof.
	wantCounts(t, issuer, counts{
		tokenOK:        map[string]int{"authorization_code": 1, "refresh_token": 1},
		tokenErrors:    map[string]int{"invalid_grant": 1},
		resourceOK:     2,
		resourceErrors: map[string]int{"use_dpop_nonce": 2},
	}, lo, hi)

	// The refused refresh did not consume the refresh token: with the key
	// back, the grant refreshes again.
	save(t, sealedStore(t, path, aeadKey), "alice", full)
	e := oidcTransport(sealedStore(t, path, aeadKey), oidcRefresher(t, ep, oidcPublic), "alice")
	defer e.Close()
	e.Invalidate("alice")
	wantAlice(t, "with the key back", e, ep)
	wantBoundTo(t, "the token refreshed with the key back", load(t, sealedStore(t, path, aeadKey), "alice"), key)
	wantCounts(t, issuer, counts{
		tokenOK:        map[string]int{"authorization_code": 1, "refresh_token": 2},
		tokenErrors:    map[string]int{"invalid_grant": 1},
		resourceOK:     3,
		resourceErrors: map[string]int{"use_dpop_nonce": 3},
	}, lo, hi)
}

// TestOIDCProviderRevoke ends a grant with Transport.Revoke: the
// generic Refresher revokes the refresh token and then the access token
// at the revocation endpoint, with oauthrt's client assertion, the store
// forgets the token, requests find none, and, checked from outside with
// the harness's own proofs signed by the grant's key, the server no
// longer takes either token.
func TestOIDCProviderRevoke(t *testing.T) {
	issuer := oidcProvider(t)
	ep := discover(t, issuer)
	resetStats(t, issuer)
	lo, hi := tokenNonceRange(issuer)
	ctx := context.Background()

	// No dpop_jkt this time, and no key given: ExchangeBound makes one.
	code, verifier := authorize(t, issuer, oidcConfidential)
	r := oidcRefresher(t, ep, oidcConfidential)
	tok, err := r.ExchangeBound(ctx, code, oidcRedirectURI, verifier, nil)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	key, err := dpop.KeyOf(tok)
	if err != nil || key == nil {
		t.Fatalf("the exchanged token carries no key (%v)", err)
	}
	wantBoundTo(t, "code exchange", tok, key)
	store := sealedStore(t, filepath.Join(t.TempDir(), "tokens.json"), randomKey(t))
	save(t, store, "alice", tok)

	health := make(chan oauthrt.HealthEvent, 4)
	tr := oidcTransport(store, r, "alice")
	tr.OnHealth = func(e oauthrt.HealthEvent) { health <- e }
	defer tr.Close()
	wantAlice(t, "before the revocation", tr, ep)

	if err := tr.Revoke(ctx, "alice"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	// OnHealth runs once Revoke's flight is over, maybe after Revoke
	// returned.
	select {
	case e := <-health:
		if e.To != oauthrt.HealthRevoked || e.Key != "alice" {
			t.Errorf("health event %+v, want alice to revoked", e)
		}
	case <-time.After(10 * time.Second):
		t.Error("no health event for the revocation")
	}
	if _, err := store.Load(ctx, "alice"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("the store after Revoke: %v, want ErrNoToken", err)
	}
	if _, err := meVia(tr, ep); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("a request after Revoke: %v, want ErrNoToken", err)
	}

	// From outside: the grant's key, the revoked tokens, the harness's
	// proofs.
	harness := &dpopKey{key: key.(*ecdsa.PrivateKey)}
	a := userinfo(t, ep, "DPoP", tok.AccessToken, harness.proof(t, "GET", ep.Userinfo, tok.AccessToken, ""))
	wantDPoPChallenge(t, "userinfo with the revoked access token, without a nonce", a, "use_dpop_nonce")
	nonce := a.nonce
	a = userinfo(t, ep, "DPoP", tok.AccessToken, harness.proof(t, "GET", ep.Userinfo, tok.AccessToken, nonce))
	wantDPoPChallenge(t, "userinfo with the revoked access token", a, "invalid_token")
	a = tokenRequest(t, ep, oidcConfidential, refreshForm(tok.RefreshToken), harness.proof(t, "POST", ep.Token, "", nonce))
	wantError(t, "refresh with the revoked refresh token", a, http.StatusBadRequest, "invalid_grant")

	wantCounts(t, issuer, counts{
		tokenOK:     map[string]int{"authorization_code": 1},
		tokenErrors: map[string]int{"invalid_grant": 1},
		resourceOK:  1,
		// the Transport's first request, the harness's without a nonce;
		// the revoked access token
		resourceErrors: map[string]int{"use_dpop_nonce": 2, "invalid_token": 1},
		revocationOK:   2, // the refresh token, then the access token
		grantsRevoked:  1, // by the refresh token's revocation
	}, lo, hi)
}
