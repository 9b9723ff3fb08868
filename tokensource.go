package oauthrt

import (
	"context"

	"golang.org/x/oauth2"
)

// TokenSource returns an [oauth2.TokenSource] of the token stored under
// key, for libraries that take one rather than an [http.Client]. It
// shares everything with the Transport's requests: the cached token, the
// single refresh per key, the store and its lease, RefreshAhead, the
// dead-grant memory, OnRefresh and Close. A library holding it never
// starts a refresh of its own that could race the Transport's.
//
// Token returns a copy of the cached token when it is fresh, and
// otherwise waits for the refresh, as a request would, until ctx ends. It
// returns the errors RoundTrip would: ErrNoToken, ErrReauthRequired, a
// failed refresh or store, ErrClosed. ctx also gives its values to the
// refreshes Token starts; nil means context.Background().
//
// A TokenSource learns nothing of 401s: the code using the token must
// report a rejection some other way, or the token is used until it
// expires. Send requests through the Transport where the library allows
// it. The source caches on its own, so wrapping it in
// oauth2.ReuseTokenSource gains nothing and delays refresh-ahead.
func (t *Transport) TokenSource(ctx context.Context, key string) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &tokenSource{t: t, ctx: ctx, key: key}
}

type tokenSource struct {
	t   *Transport
	ctx context.Context
	key string
}

func (s *tokenSource) Token() (*oauth2.Token, error) {
	if err := s.t.check(); err != nil {
		return nil, err
	}
	c, err := s.t.state(s.key).token(s.ctx, s.t, nil)
	if err != nil {
		return nil, err
	}
	tok := c.tok // the cached token is shared and never modified
	return &tok, nil
}
