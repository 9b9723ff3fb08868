package conformance

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// fosite rotates refresh tokens and, when a used one comes back, revokes
// the whole family: the refresh token that replaced it and the live
// access token too. This is the server behaviour that makes a refresh
// token presented twice fatal, and so makes the other tests' "no
// invalid_grant" mean something.
func TestFositeRevokesReusedRefreshTokens(t *testing.T) {
	app := client{id: "app", method: methodBasic, secret: "app-" + randomHex(16)}
	s := newAuthServer(t, serverOptions{accessTokenLifespan: time.Hour, clients: []client{app}})
	ctx := context.Background()
	r := s.refresher(app)

	first := s.authorize(t, app, "alice")
	second, err := r.Refresh(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("fosite did not rotate the refresh token")
	}
	if status, _ := s.callAPI(t, second.AccessToken); status != http.StatusOK {
		t.Fatalf("the refreshed access token got %d", status)
	}
	if status, _ := s.callAPI(t, first.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("the access token replaced by the refresh got %d, want 401: fosite revokes it on rotation", status)
	}

	_, err = r.Refresh(ctx, first) // the used refresh token, again
	wantCode(t, err, "invalid_grant")
	if !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("invalid_grant does not wrap oauthrt.ErrReauthRequired: %v", err)
	}

	// The family is gone: the refresh token that was never used, and its
	// access token.
	_, err = r.Refresh(ctx, second)
	wantCode(t, err, "invalid_grant")
	status, challenge := s.callAPI(t, second.AccessToken)
	if status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Fatalf("the access token of the revoked family got %d %q, want 401 invalid_token", status, challenge)
	}
	if n := s.errorCounts()["invalid_grant"]; n != 2 {
		t.Errorf("fosite counted %d invalid_grant answers, want 2", n)
	}
}

// A Transport whose grant fosite revoked fails with ErrReauthRequired
// without sending the request, never presents that refresh token again,
// and works again as soon as a new grant is saved.
func TestDeadGrant(t *testing.T) {
	app := client{id: "app", method: methodBasic, secret: "app-" + randomHex(16)}
	s := newAuthServer(t, serverOptions{accessTokenLifespan: time.Hour, clients: []client{app}, logAPI: true})
	ctx := context.Background()
	const key = "alice"

	// Someone presents the first refresh token twice: the grant dies.
	first := s.authorize(t, app, key)
	second, err := s.refresher(app).Refresh(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.refresher(app).Refresh(ctx, first)
	wantCode(t, err, "invalid_grant")

	store := oauthrt.NewMemoryStore()
	stale := *second
	stale.Expiry = time.Now().Add(-time.Minute)
	save(t, store, key, &stale)
	tr := &oauthrt.Transport{Store: store, Key: key, Refresher: s.refresher(app), Base: baseTransport(t)}
	t.Cleanup(func() { tr.Close() })

	m := s.mark()
	for i := range 3 {
		_, err := tryGet(tr, s.apiURL)
		if !errors.Is(err, oauthrt.ErrReauthRequired) || errorCode(err) != "invalid_grant" {
			t.Fatalf("request %d: got %v, want ErrReauthRequired with invalid_grant", i, err)
		}
	}
	if calls := s.callsSince(m); len(calls) != 1 || calls[0].error != "invalid_grant" {
		t.Fatalf("token endpoint calls %+v, want the dead refresh token presented once", calls)
	}
	wantAPI(t, s.apiSince(m)) // no request was sent

	// The user authorizes again; the new grant is saved and just works.
	again := s.authorize(t, app, key)
	save(t, store, key, again)
	m = s.mark()
	get(t, tr, s.apiURL)
	if calls := s.callsSince(m); len(calls) != 0 {
		t.Fatalf("the new grant's fresh token was refreshed: %+v", calls)
	}
	wantAPI(t, s.apiSince(m), apiCall{again.AccessToken, http.StatusOK})
}

// A token the client still thinks valid but the server has let expire:
// the API's 401 makes the Transport refresh, and the request is sent
// again with the new token.
func TestRefreshOnServerRejection(t *testing.T) {
	app := client{id: "app", method: methodPost, secret: "app-" + randomHex(16)}
	s := newAuthServer(t, serverOptions{accessTokenLifespan: 2 * time.Second, clients: []client{app}, logAPI: true})
	const key = "alice"
	seeded := s.authorize(t, app, key)
	store := oauthrt.NewMemoryStore()
	save(t, store, key, seeded)

	// The application's clock runs a minute behind fosite's: by its own
	// reckoning the token is good for a minute more when fosite refuses
	// it.
	tr := &oauthrt.Transport{Store: store, Key: key, Refresher: s.refresher(app), Base: baseTransport(t),
		Leeway: -1, RefreshAhead: -1, Now: func() time.Time { return time.Now().Add(-time.Minute) }}
	t.Cleanup(func() { tr.Close() })

	m := s.mark()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for s.apiRejected.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("fosite never refused the two-second token")
		}
		get(t, tr, s.apiURL)
		<-tick.C
	}
	get(t, tr, s.apiURL)

	wantRefreshes(t, s.callsSince(m), app, 1)
	refreshed := load(t, store, key)
	api := s.apiSince(m)
	var want []apiCall
	for range len(api) - 3 {
		want = append(want, apiCall{seeded.AccessToken, http.StatusOK})
	}
	want = append(want,
		apiCall{seeded.AccessToken, http.StatusUnauthorized},
		apiCall{refreshed.AccessToken, http.StatusOK},
		apiCall{refreshed.AccessToken, http.StatusOK})
	wantAPI(t, api, want...)
}
