package keepalive

import "time"

// Counts is what a sweep did with the keys it listed so far. Once a key
// is done it is counted in Scanned and in exactly one of the other key
// counts, so that Scanned is their sum. A key the store lists twice in one
// walk (Redis' SCAN may) is counted twice. Counts holds no token.
type Counts struct {
	// Pages is the number of pages of keys listed.
	Pages int
	// Scanned is the number of keys listed and looked at.
	Scanned int

	// Refreshed: the grant was due, and this sweep refreshed it.
	Refreshed int
	// Loaded: the grant was due, but another process or request had
	// refreshed it by the time the sweep held the store's lease
	// (Transport.Refresh reported OutcomeLoaded): the token endpoint was
	// not called.
	Loaded int
	// NotDue: the grant was refreshed recently enough: skipped.
	NotDue int
	// Unknown: the token does not say when it was last refreshed (its
	// Expiry or its ExpiresIn is not set): skipped, since nothing proves
	// it needs a refresh.
	Unknown int
	// NoRefreshToken: the token has no refresh token, so there is no
	// grant to keep alive: skipped.
	NoRefreshToken int
	// Dead: the grant was due, but the store records it dead, so it was
	// skipped without calling the token endpoint; or the refresh found it
	// dead (the error wraps oauthrt.ErrReauthRequired).
	Dead int
	// BackedOff: the grant was due, but its token endpoint is backed off
	// after transient failures (the store's GrantState.NextAttempt, or
	// the Transport's own backoff, is later): skipped, for a later sweep.
	BackedOff int
	// Failed: the token could not be loaded, or its refresh failed
	// otherwise (the token endpoint, the store, the lease).
	Failed int
	// Missing: the key was listed, but holds no token any more (it was
	// deleted meanwhile).
	Missing int
}

// EventKind says what an [Event] reports. Its values are short lowercase
// words, fit to be metric labels.
type EventKind string

// The kinds of events a sweep reports, in the order they come: a
// refreshed or failed event for each such key of a page, then the page's
// event, and after the last page the done event.
const (
	// EventRefreshed: the sweep refreshed Key's grant.
	EventRefreshed EventKind = "refreshed"
	// EventFailed: the sweep could not refresh Key's grant, or could not
	// load its token; Err says why. It is counted in Failed, or in Dead
	// when Err wraps oauthrt.ErrReauthRequired.
	EventFailed EventKind = "failed"
	// EventPage: the sweep is done with a page of keys.
	EventPage EventKind = "page"
	// EventDone: the sweep ended; Err is why it stopped early, nil when
	// it walked every key.
	EventDone EventKind = "done"
)

// An Event reports a sweep's progress to [Sweeper.OnEvent]. It is plain
// data, safe to print or log: it holds no token or secret, and Err holds
// none either.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Key is the store key of the grant, for EventRefreshed and
	// EventFailed; "" otherwise.
	Key string
	// Counts is what the sweep did so far, this event included.
	Counts Counts
	// Elapsed is how long the sweep has run so far, by Sweeper.Now.
	Elapsed time.Duration
	// Err is why a key failed (EventFailed) or why the sweep stopped
	// early (EventDone); nil otherwise.
	Err error
}
