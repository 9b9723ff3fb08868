package conformance

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// checkAuthMethod runs one grant of client c through two Transports that
// share a store, each with a Refresher from newRefresher, and checks what
// fosite saw at each step:
//
//  1. A token the store holds as expired is refreshed before the request
//     is sent, with one call to the token endpoint authenticated as c is
//     registered; the rotated pair is saved and sent.
//  2. A second Transport, whose clock runs two hours ahead, refreshes
//     again from the store, so fosite rotates the refresh token the first
//     one saved and revokes the access token the first one holds.
//  3. The first Transport's token is refused with a 401. It reads the
//     store, finds the second's token and retries with it, without a
//     refresh: its own refresh token is spent, and presenting it would
//     make fosite revoke the whole grant.
//
// Each private_key_jwt assertion must carry a jti of its own: fosite
// refuses a jti it has seen.
func checkAuthMethod(t *testing.T, s *authServer, c client, newRefresher func() *generic.Refresher) {
	t.Helper()
	const key = "alice"
	seeded := s.authorize(t, c, key)
	store := oauthrt.NewMemoryStore()
	stale := *seeded
	stale.Expiry = time.Now().Add(-time.Minute) // as if an hour had passed
	save(t, store, key, &stale)
	base := baseTransport(t)
	closeAtEnd := func(tr *oauthrt.Transport) {
		t.Cleanup(func() {
			if err := tr.Close(); err != nil {
				t.Error(err)
			}
		})
	}

	// 1. Refresh on expiry.
	first := &oauthrt.Transport{Store: store, Key: key, Refresher: newRefresher(), Base: base}
	closeAtEnd(first)
	m := s.mark()
	if body := get(t, first, s.apiURL); body != "hello, "+key {
		t.Errorf("API answered %q", body)
	}
	calls := wantRefreshes(t, s.callsSince(m), c, 1)
	one := load(t, store, key)
	if one.RefreshToken == seeded.RefreshToken || one.AccessToken == seeded.AccessToken {
		t.Fatal("the store does not hold the rotated token pair")
	}
	wantAPI(t, s.apiSince(m), apiCall{one.AccessToken, http.StatusOK})

	// 2. Another member of the fleet refreshes.
	second := &oauthrt.Transport{Store: store, Key: key, Refresher: newRefresher(), Base: base,
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	closeAtEnd(second)
	m = s.mark()
	get(t, second, s.apiURL)
	calls = append(calls, wantRefreshes(t, s.callsSince(m), c, 1)...)
	two := load(t, store, key)
	if two.RefreshToken == one.RefreshToken || two.AccessToken == one.AccessToken {
		t.Fatal("the second refresh did not rotate the token pair")
	}
	wantAPI(t, s.apiSince(m), apiCall{two.AccessToken, http.StatusOK})

	// 3. The first member's token is refused; the store has the answer.
	m = s.mark()
	get(t, first, s.apiURL)
	if more := s.callsSince(m); len(more) != 0 {
		t.Fatalf("the 401 made the first Transport call the token endpoint: %+v", more)
	}
	wantAPI(t, s.apiSince(m), apiCall{one.AccessToken, http.StatusUnauthorized}, apiCall{two.AccessToken, http.StatusOK})

	if c.method == methodJWT && calls[0].jti == calls[1].jti {
		t.Errorf("two client assertions share the jti %q", calls[0].jti)
	}
	if n := s.errorCounts()["invalid_grant"]; n != 0 {
		t.Errorf("fosite answered invalid_grant %d times", n)
	}
}

// checkRejected presents the refresh token of a new grant of c with a
// misconfigured Refresher, and checks that fosite refuses the client
// with invalid_client before it looks at the grant: the grant must still
// refresh with the right configuration afterwards.
func checkRejected(t *testing.T, s *authServer, c client, wrong *generic.Refresher, wantAuth string) {
	t.Helper()
	ctx := context.Background()
	tok := s.authorize(t, c, "mallory")
	m := s.mark()
	_, err := wrong.Refresh(ctx, tok)
	wantCode(t, err, "invalid_client")
	calls := s.callsSince(m)
	if len(calls) != 1 || calls[0].auth != wantAuth || calls[0].status != http.StatusUnauthorized {
		t.Fatalf("token endpoint calls %+v, want one with %s answered 401", calls, wantAuth)
	}
	// Documented behaviour, logged rather than asserted: a 401 from the
	// token endpoint counts as a dead grant, invalid_client included.
	t.Logf("%s refused with %s (ErrReauthRequired: %t)", c.id, errorCode(err), errors.Is(err, oauthrt.ErrReauthRequired))

	if _, err := s.refresher(c).Refresh(ctx, tok); err != nil {
		t.Fatalf("the grant did not survive the rejected client: %v", err)
	}
}

func TestClientSecretMethods(t *testing.T) {
	basic := client{id: "basic-app", method: methodBasic, secret: "basic-" + randomHex(16)}
	post := client{id: "post-app", method: methodPost, secret: "post-" + randomHex(16)}
	s := newAuthServer(t, serverOptions{accessTokenLifespan: time.Hour, clients: []client{basic, post}, logAPI: true})

	t.Run("client_secret_basic/AuthStyleInHeader", func(t *testing.T) {
		checkAuthMethod(t, s, basic, func() *generic.Refresher {
			return &generic.Refresher{TokenURL: s.tokenURL, ClientID: basic.id, ClientSecret: basic.secret, AuthStyle: oauth2.AuthStyleInHeader}
		})
	})
	t.Run("client_secret_basic/AuthMethod", func(t *testing.T) {
		checkAuthMethod(t, s, basic, func() *generic.Refresher { return s.refresher(basic) })
	})
	t.Run("client_secret_post/AuthStyleInParams", func(t *testing.T) {
		checkAuthMethod(t, s, post, func() *generic.Refresher {
			return &generic.Refresher{TokenURL: s.tokenURL, ClientID: post.id, ClientSecret: post.secret, AuthStyle: oauth2.AuthStyleInParams}
		})
	})
	t.Run("client_secret_post/AuthMethod", func(t *testing.T) {
		checkAuthMethod(t, s, post, func() *generic.Refresher { return s.refresher(post) })
	})

	// fosite refuses a client that authenticates in a way other than the
	// one it registered, or with a wrong secret; this is what makes the
	// subtests above prove which method the Refresher used.
	t.Run("fosite enforces the registered method", func(t *testing.T) {
		checkRejected(t, s, basic, &generic.Refresher{TokenURL: s.tokenURL, ClientID: basic.id, ClientSecret: basic.secret, AuthMethod: generic.AuthClientSecretPost}, methodPost)
		checkRejected(t, s, post, &generic.Refresher{TokenURL: s.tokenURL, ClientID: post.id, ClientSecret: post.secret, AuthMethod: generic.AuthClientSecretBasic}, methodBasic)
		checkRejected(t, s, basic, &generic.Refresher{TokenURL: s.tokenURL, ClientID: basic.id, ClientSecret: "wrong", AuthMethod: generic.AuthClientSecretBasic}, methodBasic)
	})

	// AuthStyleAutoDetect tries client_secret_basic first; fosite refuses
	// it for a client_secret_post client (invalid_client, before the
	// grant is looked at), the Refresher falls back to the form, and
	// keeps to it.
	t.Run("AuthStyleAutoDetect", func(t *testing.T) {
		ctx := context.Background()
		tok := s.authorize(t, post, "carol")
		r := &generic.Refresher{TokenURL: s.tokenURL, ClientID: post.id, ClientSecret: post.secret}
		m := s.mark()
		next, err := r.Refresh(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		calls := s.callsSince(m)
		if len(calls) != 2 ||
			calls[0].auth != methodBasic || calls[0].error != "invalid_client" ||
			calls[1].auth != methodPost || calls[1].status != http.StatusOK {
			t.Fatalf("token endpoint calls %+v, want client_secret_basic refused with invalid_client, then client_secret_post answered 200", calls)
		}
		m = s.mark()
		if _, err := r.Refresh(ctx, next); err != nil {
			t.Fatal(err)
		}
		wantRefreshes(t, s.callsSince(m), post, 1)
	})
}
