package oauthrt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthrt/oauthrt/dpop"
	"github.com/oauthrt/oauthrt/internal/secure"
	"golang.org/x/oauth2"
)

// DefaultLeeway is how long before its Expiry a token counts as expired
// when [Transport.Leeway] is zero. It matches golang.org/x/oauth2.
const DefaultLeeway = 10 * time.Second

// RefreshTimeout bounds one refresh: the call to the Refresher (every
// call to the token endpoint, retries included); the Save after it has
// ten seconds of its own, so that a slow refresh does not leave its token
// no time to be saved. Its clock starts once the store's lease is held,
// so that waiting for the lease does not use it up. The reads of the store and the wait for
// the lease before that have a RefreshTimeout of their own. A refresh
// runs under its own context (carrying the values, not the cancellation,
// of the request that started it), so that a caller giving up cannot cut
// a refresh off after the provider rotated the refresh token but before
// the new one was saved.
const RefreshTimeout = time.Minute

// DefaultRefreshAhead is the refresh-ahead window of a Transport whose
// RefreshAhead is zero.
const DefaultRefreshAhead = time.Minute

// ErrInsecureURL is returned, wrapped, for a request that would carry a
// token or a client credential over plain http:// to a host that is not
// a loopback address: nothing is sent. See [Transport.AllowInsecureHTTP]
// and the refreshers' fields of the same name.
var ErrInsecureURL = errors.New("oauthrt: refusing to send credentials over plain HTTP")

// ErrClosed is returned for a request that needs a refresh, or a first
// read of the store, after [Transport.Close].
var ErrClosed = errors.New("oauthrt: Transport closed")

// maxDrain is how much of a discarded response body is read so that its
// connection can be reused.
const maxDrain = 64 << 10

// Transport is an [http.RoundTripper] that authorizes each request with
// the OAuth2 access token stored under the request's key, refreshing the
// token when it has expired or when the server rejects it.
//
// A Transport is safe for concurrent use. Its exported fields must be set
// before its first use and not changed afterwards, and a Transport must
// not be copied after first use: it keeps per-key state.
//
// See the package documentation for what happens on expiry, on a 401 and
// on a dead grant.
type Transport struct {
	// Base sends the requests. nil: http.DefaultTransport.
	Base http.RoundTripper

	// ClientCertificate, when not nil, is the certificate, with its
	// private key, presented in the TLS handshakes of the requests the
	// Transport sends, for resource servers that accept an access token
	// only from the client it was bound to (certificate-bound tokens, RFC
	// 8705 §3). The requests then go through a clone of Base with the
	// certificate added, built on first use, in place of any client
	// certificate of Base's own: Base must be an *http.Transport, or nil
	// for http.DefaultTransport; with another kind, RoundTrip returns an
	// error instead of sending the request, and the certificate must be
	// configured in that RoundTripper instead. The token endpoint's handshakes are the
	// Refresher's: see generic.Refresher.ClientCertificate. nil: no
	// certificate is added; Base sends the requests as it is.
	ClientCertificate *tls.Certificate

	// Store holds the tokens. Required: a nil Store makes RoundTrip fail
	// without sending anything.
	Store TokenStore

	// Key is the store key of requests whose context carries none (see
	// WithKey). The zero value "" is a valid key.
	Key string

	// Refresher exchanges an expired or rejected token for a new one.
	// Required: a nil Refresher makes RoundTrip fail without sending
	// anything. When it implements RequestPreparer or RejectionDetector
	// the Transport uses those too.
	Refresher Refresher

	// Leeway is how long before its Expiry a token counts as expired: a
	// token is refreshed once Expiry-Leeway <= now. Zero means
	// DefaultLeeway (10 seconds); a negative value means no leeway. Keep it
	// shorter than the lifetime of the provider's tokens, or every request
	// will refresh. A token with a zero Expiry is never refreshed before
	// the server rejects it.
	Leeway time.Duration

	// RefreshAhead is a window before a token counts as expired (before
	// Expiry-Leeway) in which requests go on using it while one refresh
	// runs in the background, so that no request waits on the token
	// endpoint while it is healthy. The window is at most half the time
	// the token had left when the Transport got it, so a short-lived token
	// is refreshed at most once per half-life. A background refresh that
	// fails fails no request: the token stays in use until it expires, the
	// failure goes to OnError and Logger, and the next try waits a backoff
	// step (1s doubling to 1m). Zero means DefaultRefreshAhead (1 minute);
	// a negative value turns it off, so that a token is refreshed only once
	// expired, with its requests waiting.
	RefreshAhead time.Duration

	// AllowInsecureHTTP lets tokens go over plain http:// to any host.
	// false (the zero value): a request gets a token only over https://,
	// or over http:// to a loopback host (127.0.0.0/8, ::1, localhost),
	// for tests and local development; any other request fails with
	// ErrInsecureURL and is not sent. Set it only where something else
	// protects the connection, such as a sidecar proxy that adds TLS.
	AllowInsecureHTTP bool

	// Now returns the current time. nil: time.Now. Tests set it to move
	// tokens past their expiry without waiting.
	Now func() time.Time

	// Logger receives, at level Error, what goes wrong without failing a
	// request: a *SaveError when the store did not take a refreshed token,
	// and a failed refresh ahead of expiry. It also receives each refresh
	// (see OnRefresh): at level Debug when it succeeded, at level Warn
	// when it failed a request. nil: nothing is logged. No token or secret
	// is ever logged.
	Logger *slog.Logger

	// OnRefresh is called once for each refresh, however many requests
	// shared it, when it ends: with the key, why it was needed, how it
	// ended and how long it took (see RefreshEvent), for metrics and
	// traces. It is called after the waiting requests got their token or
	// error, on the goroutine that did the refresh, which it must not
	// hold up for long: the next refresh of the key reports after it
	// returns, so that each key's events come in order. Calls for
	// different keys may be concurrent. Close waits for the calls under
	// way. A request that finds its token fresh calls nothing. A panic in
	// it is recovered and dropped. nil: not called.
	OnRefresh func(RefreshEvent)

	// OnError is called with the key and the error for what goes wrong
	// without failing a request: a *SaveError each time the store fails to
	// take a refreshed token (the Transport keeps the token in memory,
	// uses it, and saves it again on later requests, at most once per
	// backoff step, until the store takes it), and the error of a refresh
	// ahead of expiry that failed (see RefreshAhead; not one that Close
	// ended). It is called on the
	// goroutine doing the refresh, which it must not hold up for long, and
	// may be called concurrently for different keys. A panic in it is
	// recovered and dropped. nil: not called.
	OnError func(key string, err error)

	// OnHealth is called once for each change of a grant's health that
	// this Transport sees (see Health and HealthEvent): a refresh that
	// failed transiently (healthy to degraded), one that succeeded after
	// such failures (degraded to healthy), a grant the provider refused
	// (to dead), a dead grant the application authorized again (dead to
	// healthy), and Revoke (to revoked). With a GrantStateStore the
	// fleet shares the health, and only the process that changed it
	// reports. It is called like OnRefresh: on the goroutine that saw the
	// change, which it must not hold up for long; a panic in it is
	// recovered and dropped. nil: not called.
	OnHealth func(HealthEvent)

	// IdleKeyTimeout is how long the Transport keeps what it knows of a
	// key that no request uses (its cached token, chiefly): after it, the
	// key's state is dropped, and the key's next request reads the store
	// again. A key whose refresh is under way, whose refreshed token the
	// store has yet to take, or whose grant is known dead or degraded
	// (its token endpoint failing) is kept. Zero means DefaultIdleKeyTimeout
	// (10 minutes); a negative value keeps every key for the Transport's
	// life.
	IdleKeyTimeout time.Duration

	certOnce sync.Once
	certBase http.RoundTripper // Base with ClientCertificate: see certified

	keys     keyMap
	loads    loadBatcher
	lifeOnce sync.Once
	life     *lifecycle

	// refreshTime is how long this Transport's refreshes take, on
	// average, in nanoseconds; 0 until one succeeded (see ExpectedHold).
	refreshTime atomic.Int64

	// nonces are the DPoP nonces the servers handed out, per origin.
	nonces dpop.Nonces
}

var _ http.RoundTripper = (*Transport)(nil)

// keyCtx is the context key under which WithKey's contexts answer Value
// with their key.
type keyCtx struct{}

// WithKey returns a copy of ctx that makes a [Transport] use key instead
// of its Key field for requests carrying that context. Multi-tenant
// services use it to pick the organization or user a request acts for.
func WithKey(ctx context.Context, key string) context.Context {
	return &keyContext{ctx, key}
}

// A keyContext is WithKey's context: what context.WithValue would make,
// with the key held as a string rather than boxed in an interface, which
// costs an allocation of its own, and a request a cache line more to
// reach, among many keys. The Transport reads the key of a request's
// context without a call when the context is a keyContext, which it is
// unless other values were added over it; Value answers for the others.
type keyContext struct {
	context.Context
	key string
}

func (c *keyContext) Value(k any) any {
	if _, ok := k.(keyCtx); ok {
		return c.key
	}
	return c.Context.Value(k)
}

// String names the context as context.WithValue's do, without the key,
// which is the caller's to log or not.
func (c *keyContext) String() string {
	return fmt.Sprint(c.Context) + ".WithKey"
}

// RoundTrip sends req with the Authorization header "Bearer <access
// token>" of the token stored under the request's key, whatever the
// token's type, but for a DPoP-bound token (token_type DPoP, RFC 9449):
// that one goes as "DPoP <access token>" with a proof in the DPoP header,
// signed by the key its grant carries (see package dpop), and a request
// it carries is sent once more, with a new proof, when a 401 asks for a
// DPoP nonce the proof lacked. A DPoP token whose grant carries no usable
// key fails the request before anything is sent.
//
// The token is refreshed first when it has expired. If the response is a
// 401 whose WWW-Authenticate challenge (Bearer or DPoP) has no error
// code, or one other than those below (or if the Refresher's
// RejectionDetector reports a rejection), the token is refreshed and the
// request sent once more, its body replayed through req.GetBody; a
// request whose body cannot be replayed gets the 401 back as it is.
// GetBody must return a reader of its own each time, as those of
// http.NewRequest do: Base may still be reading the first body when the
// 401 arrives. The error codes of a 401 or a 403 that change this:
//
//   - insufficient_claims with a claims parameter (a claims challenge,
//     as Microsoft Entra ID's Continuous Access Evaluation sends), on a
//     401: the token is refreshed with the claims (see ClaimsChallenge),
//     whatever token the store holds, and the request sent once more.
//     Claims that are not base64 of a JSON object leave the 401 as it is.
//   - insufficient_user_authentication (RFC 9470): RoundTrip returns a
//     *StepUpError, and no response.
//   - insufficient_scope: RoundTrip returns an *InsufficientScopeError,
//     and no response.
//   - invalid_request, on a 401: the 401 as it is; so is a DPoP
//     challenge use_dpop_nonce that the resend with the nonce (above)
//     did not settle.
//
// Neither a refresh nor a resend follows the last three. A 403 with
// another challenge, or none, is returned as it is, unless the
// RejectionDetector reports it. The response to the second send is
// returned as it is (a step-up or scope challenge becomes its error), so
// that a request is sent at most twice. A request that a redirect has taken
// to another host (by net/http's rule: not the same host or a subdomain of
// it) is sent without a token.
//
// RoundTrip does not modify req, and closes its body on every path. An
// error from Base is returned as it is. When no token can be had
// (ErrNoToken, ErrReauthRequired, a failed refresh or store, a cancelled
// context) RoundTrip returns the error without sending the request.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	reqBodyClosed := false
	if req.Body != nil {
		defer func() {
			if !reqBodyClosed {
				req.Body.Close()
			}
		}()
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	if !credentialsAllowed(req) {
		reqBodyClosed = true
		return t.base().RoundTrip(req)
	}
	if !t.AllowInsecureHTTP && !secure.Allowed(req.URL) {
		return nil, fmt.Errorf("%w to %s: use https, or set Transport.AllowInsecureHTTP", ErrInsecureURL, secure.Host(req.URL))
	}

	ctx := req.Context()
	state := t.state(t.key(ctx))
	c, err := state.token(ctx, t, nil)
	if err != nil {
		return nil, err
	}
	r, nonce, err := t.authorize(req, c)
	if err != nil {
		return nil, err
	}
	reqBodyClosed = true // Base closes it from here on.
	resp, err := t.send(req, r, nonce, c)
	if err != nil || resp == nil || !t.mayChallenge(resp) {
		return resp, err
	}
	a := t.challenge(state.key, resp)
	if !a.resend {
		return a.finish(resp)
	}

	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	drainAndClose(resp.Body)
	c, err = a.token(ctx, t, state, &c.tok)
	if err != nil {
		closeBody(body)
		return nil, err
	}
	retry, nonce, err := t.authorizeReplay(req, c, body)
	if err != nil {
		return nil, err
	}
	resp, err = t.send(req, retry, nonce, c)
	if err != nil || resp == nil {
		return resp, err
	}
	return t.last(state.key, resp) // never a third send
}

// Close stops the Transport's background work and waits for it to end.
// Call it before the process exits: a process that exits in the middle
// of a refresh, after the provider rotated the refresh token and before
// the store took the new one, takes the grant with it.
//
// Close ends refreshes ahead of expiry, retried saves, lease renewals,
// and refreshes whose requests gave up. Waits for the store or its lease
// end at once; a call to the Refresher already under way, and the Save
// after it, are waited for (at most RefreshTimeout, and ten seconds for
// the Save), since cutting them off could drop a rotated refresh token. Then Close saves, one last time and for at
// most ten seconds, any refreshed token the store has not taken yet
// (unless the store now holds one this Transport did not refresh), and
// returns the *SaveErrors of those it still could not save (joined, each
// with the store's error and a zero Retry), as those tokens are lost with
// the process; a lease kept for such a token is not released, and lapses.
//
// Close returns within RefreshTimeout plus half a minute even when a
// Refresher or TokenSource ignores its context (a Store that ignores its
// context can hold up the last saves): a refresh still running by then is
// left to end on its own, its key is not touched, and the returned error
// names it.
//
// After Close, requests whose cached token is fresh are still sent;
// those that need a refresh, or a first read of the store, fail with
// ErrClosed. Close does not close Base's connections (see
// CloseIdleConnections). Calling it again does nothing. A Transport that
// is dropped without Close leaks nothing once its refreshes end.
func (t *Transport) Close() error {
	lc := t.lifecycle()
	lc.mu.Lock()
	already := lc.closed
	lc.closed = true
	if lc.idle != nil {
		lc.idle.Stop()
	}
	lc.mu.Unlock()
	lc.cancel()
	lc.flights.wait(closeWait)
	if already {
		return nil
	}
	defer lc.finish()
	ctx, cancel := context.WithTimeout(context.Background(), closeSaveTimeout)
	defer cancel()
	var errs []error
	t.keys.Range(func(s *keyState) bool {
		s.mu.Lock() // mu orders this after the key's last flight
		defer s.mu.Unlock()
		if s.flight.Load() != nil {
			// A Refresher or Store that ignores its context: the flight is
			// left to end when it will, and its key not touched here.
			errs = append(errs, fmt.Errorf("oauthrt: Close: the refresh of key %q was still running after %v; left to finish on its own", s.key, closeWait))
			return true
		}
		if ch := s.chain(); ch != nil {
			if _, se := s.resave(ctx, t, ch); se != nil {
				se.Retry = time.Time{} // there is no later
				errs = append(errs, se)
			}
		}
		return true
	})
	return errors.Join(errs...)
}

// CloseIdleConnections closes the idle connections of Base (or of
// http.DefaultTransport when Base is nil), if it has such a method. With
// a ClientCertificate it closes those of the clone of Base that carries
// the certificate instead, which sends all the Transport's requests:
// Base's own connections are not the Transport's.
func (t *Transport) CloseIdleConnections() {
	type closeIdler interface{ CloseIdleConnections() }
	if ci, ok := t.base().(closeIdler); ok {
		ci.CloseIdleConnections()
	}
}

// String describes the Transport without any token or secret. It names
// the types of Store and Refresher rather than printing them, since a
// user's own may hold secrets and lack a String method of its own.
func (t *Transport) String() string {
	return fmt.Sprintf("oauthrt.Transport{Key: %q, Store: %T, Refresher: %T}", t.Key, t.Store, t.Refresher)
}

// GoString is like String, so that %#v prints no token either.
func (t *Transport) GoString() string { return t.String() }

// check reports a Transport that lacks a required field.
func (t *Transport) check() error {
	switch {
	case t.Store == nil:
		return errors.New("oauthrt: Transport.Store is nil")
	case t.Refresher == nil:
		return errors.New("oauthrt: Transport.Refresher is nil")
	}
	return nil
}

func (t *Transport) base() http.RoundTripper {
	if t.ClientCertificate != nil {
		return t.certified()
	}
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Transport) leeway() time.Duration { return setting(t.Leeway, DefaultLeeway) }

// setting resolves a duration field: zero means def, negative means none.
func setting(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (t *Transport) key(ctx context.Context) string {
	if c, ok := ctx.(*keyContext); ok {
		return c.key
	}
	if k, ok := ctx.Value(keyCtx{}).(string); ok {
		return k
	}
	return t.Key
}

// state returns key's state, adding one if it has none. A state the idle
// sweep has dropped is never returned: the sweep marks it dropped and
// removes it from the key map under the lock of its shard, which
// LoadOrStoreLocked takes, so a lookup that finds it dropped, while the
// sweep is still at work on its shard, asks under that lock.
func (t *Transport) state(key string) *keyState {
	if s := t.keys.Load(key); s != nil && !s.dropped.Load() {
		return s
	}
	ns := &keyState{key: key}
	ns.lastUse.Store(t.now().UnixNano())
	s, loaded := t.keys.LoadOrStoreLocked(key, ns)
	if !loaded {
		t.watchIdle()
	}
	return s
}

// authorize returns a clone of req carrying c's access token, with its
// DPoP proof when c is DPoP-bound, and the nonce the proof carries ("" for
// none). A panic in the Refresher's PrepareRequest is an error.
func (t *Transport) authorize(req *http.Request, c *cached) (*http.Request, string, error) {
	if d := c.dpop(); d != nil && d.unusable != nil {
		return nil, "", d.unusable
	}
	r := shallowClone(req)
	r.Header["Authorization"] = c.authz[:1:1]
	nonce, err := t.prove(r, c)
	if err != nil {
		return nil, "", err
	}
	if p, ok := t.Refresher.(RequestPreparer); ok {
		if err := guard("the Refresher's PrepareRequest", func() error { p.PrepareRequest(r); return nil }); err != nil {
			return nil, "", err
		}
	}
	return r, nonce, nil
}

// authorizeReplay is authorize for a second send of req, whose body is a
// replay of req's (see replayBody): the clone carries it, and it is
// closed when no clone is made.
func (t *Transport) authorizeReplay(req *http.Request, c *cached, body io.ReadCloser) (*http.Request, string, error) {
	r, nonce, err := t.authorize(req, c)
	if err != nil {
		closeBody(body)
		return nil, "", err
	}
	r.Body = body
	return r, nonce, nil
}

// closeBody closes body, which may be nil.
func closeBody(body io.ReadCloser) {
	if body != nil {
		body.Close()
	}
}

// shallowClone returns a copy of req for Base to send, with a header map
// of its own, sized for one more header, holding req's headers. Nothing
// else is copied: the RoundTripper contract forbids Base to modify the
// request, so the URL, the header values, the trailer and the forms can
// be shared; only the header map gets a new entry here. (req.Clone copies
// all of them, which cost more than the rest of the hot path together.)
func shallowClone(req *http.Request) *http.Request {
	r := new(http.Request)
	*r = *req
	h := make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		h[k] = v
	}
	r.Header = h
	return r
}

// reportError hands err, which no request returns, to OnError, and to
// Logger with msg.
// A panic in OnError or the Logger's handler is recovered and dropped: it
// must not unwind the refresh that reported.
func (t *Transport) reportError(key, msg string, err error) {
	if t.OnError != nil {
		guard("Transport.OnError", func() error { t.OnError(key, err); return nil })
	}
	if t.Logger != nil {
		guard("Transport.Logger", func() error {
			t.Logger.Error(msg, slog.String("key", key), slog.Any("error", err))
			return nil
		})
	}
}

// replayBody returns a fresh copy of req's body for a second attempt, and
// whether there is one.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return body, true
}

// drainAndClose reads a little of a discarded body, so that its
// connection can be reused, and closes it.
func drainAndClose(body io.ReadCloser) {
	if body == nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	body.Close()
}

// cached is a token with what the hot path needs precomputed. It is never
// modified once published.
type cached struct {
	// The fields a request reads come first, where they share the
	// struct's first cache line: with many keys, a request finds none of
	// its key's data in the CPU's caches.

	// authz holds the Authorization header's value, "Bearer " (or "DPoP
	// ") + tok.AccessToken, which every request sent with tok shares as
	// authz[:1:1]: its capacity is its length, so that a Header.Add
	// downstream copies it rather than write into it, and the
	// RoundTripper contract forbids writing into a request's header
	// values. Kept in the struct, it costs no allocation of its own.
	authz [1]string
	// Unix nanoseconds, which keep the hot path's comparisons cheap.
	refreshAt int64 // Expiry - leeway; 0: never
	aheadAt   int64 // start of the refresh-ahead window; 0: none

	// extras is what few tokens need; nil for a Bearer token the store
	// holds, which pays a pointer for it. It keeps the struct in the
	// 144-byte size class, below the 160 a bool more would take.
	extras *cachedExtras

	// tok is the Transport's own copy of the token, made with the cached
	// token in one allocation, whose AccessToken is the tail of authz:
	// the access token's bytes are kept once, not twice. An access token
	// is the bulk of a token (a JWT runs to one or two kilobytes), and
	// the token a store decodes is dropped once it is copied here, so a
	// key costs its access token once. Code that hands the token on
	// hands on &tok, which nobody may modify.
	tok oauth2.Token
}

// cachedExtras is what a cached token needs beyond a Bearer token's.
type cachedExtras struct {
	unsaved bool       // the store failed to take the token; a request saves it again
	dpop    *dpopToken // what sending a DPoP-bound token takes (sender.go); nil for a Bearer token
}

// more returns c's extras, which it gets if it has none; only while c is
// made, before it is published.
func (c *cached) more() *cachedExtras {
	if c.extras == nil {
		c.extras = new(cachedExtras)
	}
	return c.extras
}

// unsaved reports whether the store failed to take c's token.
func (c *cached) unsaved() bool { return c.extras != nil && c.extras.unsaved }

// dpop returns what sending c's DPoP-bound token takes, or nil for a
// Bearer token.
func (c *cached) dpop() *dpopToken {
	if c.extras == nil {
		return nil
	}
	return c.extras.dpop
}

func (t *Transport) newCached(tok *oauth2.Token) *cached {
	c := &cached{tok: *tok, authz: [1]string{"Bearer " + tok.AccessToken}}
	senderConstrain(c)
	c.tok.AccessToken = c.authz[0][len(c.authz[0])-len(tok.AccessToken):]
	at := t.refreshAt(tok)
	if at.IsZero() {
		return c
	}
	c.refreshAt = unixNano(at)
	if ahead := t.refreshAhead(); ahead > 0 {
		if left := at.Sub(t.now()); left > 0 {
			c.aheadAt = unixNano(at.Add(-min(ahead, left/2)))
		}
	}
	return c
}

// unixNano is tm in Unix nanoseconds, clamped to what an int64 holds (a
// token may claim to expire in the year 9999), and never 0, which means
// "never".
func unixNano(tm time.Time) int64 {
	switch {
	case tm.Before(minTime):
		return 1
	case tm.After(maxTime):
		return math.MaxInt64
	}
	return max(tm.UnixNano(), 1)
}

var (
	minTime = time.Unix(0, 1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// fresh reports whether c can be sent at now (Unix nanoseconds).
func (c *cached) fresh(now int64) bool { return c.refreshAt == 0 || now < c.refreshAt }

// ahead reports whether c's refresh-ahead window is open at now.
func (c *cached) ahead(now int64) bool { return c.aheadAt != 0 && now >= c.aheadAt }

func (t *Transport) refreshAhead() time.Duration {
	return setting(t.RefreshAhead, DefaultRefreshAhead)
}

// refreshAt is when tok counts as expired: Expiry - leeway, or the zero
// time for a token that never expires.
func (t *Transport) refreshAt(tok *oauth2.Token) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	return tok.Expiry.Add(-t.leeway())
}

func (t *Transport) expired(tok *oauth2.Token) bool {
	at := t.refreshAt(tok)
	return !at.IsZero() && !t.now().Before(at)
}

// fresh reports whether c can be sent now.
func (t *Transport) fresh(c *cached) bool {
	return c.fresh(t.now().UnixNano())
}
