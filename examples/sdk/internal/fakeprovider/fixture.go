package fakeprovider

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
)

// Key is the store key of a [Fixture]'s token.
const Key = "user-1"

// An Expiry is a way for access-1 to stop working between two calls.
type Expiry int

const (
	// Revoked: the API starts answering access-1 with a 401.
	Revoked Expiry = iota
	// Expired: the Transport's clock moves past access-1's expiry.
	Expired
)

// Expiries lists every Expiry, for table-driven tests.
var Expiries = []Expiry{Revoked, Expired}

// String names e, for subtests.
func (e Expiry) String() string {
	if e == Revoked {
		return "revoked"
	}
	return "expired"
}

// Retried returns the access tokens the API receives for one request
// made just after e: access-1, refused, then access-2 when it was
// revoked; access-2 alone when it expired, since the Transport refreshes
// before sending.
func (e Expiry) Retried() []string {
	if e == Revoked {
		return []string{"access-1", "access-2"}
	}
	return []string{"access-2"}
}

// A Fixture is a running Provider and an [oauthrt.Transport] whose store
// holds the Provider's first token under [Key].
type Fixture struct {
	*Provider
	// Store holds the token under Key.
	Store *oauthrt.MemoryStore
	// Transport refreshes at the Provider's token endpoint, with a clock
	// that Expire can move.
	Transport *oauthrt.Transport

	skew atomic.Int64 // added to the Transport's clock
}

// Start starts a Fixture whose API is api. The test's cleanup closes the
// Transport, reporting its error, then the server.
func Start(t testing.TB, api http.Handler) *Fixture {
	t.Helper()
	f := &Fixture{Provider: New(api), Store: oauthrt.NewMemoryStore()}
	t.Cleanup(f.Close)
	if err := f.Store.Save(context.Background(), Key, f.FirstToken()); err != nil {
		t.Fatal(err)
	}
	f.Transport = &oauthrt.Transport{
		Store: f.Store,
		Key:   Key,
		Refresher: &generic.Refresher{
			TokenURL:     f.TokenURL(),
			ClientID:     ClientID,
			ClientSecret: ClientSecret,
		},
		Now: func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) },
	}
	t.Cleanup(func() {
		if err := f.Transport.Close(); err != nil {
			t.Errorf("Transport.Close: %v", err)
		}
	})
	return f
}

// Expire makes access-1 stop working in the way e says. Expired moves the
// clock two hours on: past access-1, an hour from expiry, but not past
// the tokens the endpoint issues, which last [Lifetime].
func (f *Fixture) Expire(e Expiry) {
	switch e {
	case Revoked:
		f.Revoke()
	case Expired:
		f.skew.Store(int64(2 * time.Hour))
	}
}

// Verify checks the outcome of one refresh: the token endpoint granted
// exactly one and saw no old refresh token again, the store holds the
// rotated pair, and the API received exactly the access tokens in seen.
func (f *Fixture) Verify(t testing.TB, seen []string) {
	t.Helper()
	if n := f.Refreshes(); n != 1 {
		t.Errorf("token endpoint granted %d refreshes, want 1", n)
	}
	if n := f.Reused(); n != 0 {
		t.Errorf("an old refresh token was presented %d times", n)
	}
	tok, err := f.Store.Load(context.Background(), Key)
	switch {
	case err != nil:
		t.Errorf("store: %v", err)
	case tok.AccessToken != "access-2" || tok.RefreshToken != "refresh-2":
		t.Errorf("store holds access %q and refresh %q, want access-2 and refresh-2", tok.AccessToken, tok.RefreshToken)
	}
	if got := f.Seen(); !slices.Equal(got, seen) {
		t.Errorf("API received %q, want %q", got, seen)
	}
}
