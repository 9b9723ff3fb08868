package oauthrt

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// A RefreshEvent describes one refresh of a key's token, for
// [Transport.OnRefresh]: one per refresh, however many requests shared
// it. It holds no token or secret; Err is the error the requests got,
// which holds none either.
type RefreshEvent struct {
	// Key is the store key of the token.
	Key string

	// Reason says why the token was refreshed.
	Reason RefreshReason

	// Outcome says how the refresh ended.
	Outcome RefreshOutcome

	// Duration is how long the refresh took, from the first read of the
	// store to the save of the new token: the wait for the store's lease
	// and the token endpoint's answer included.
	Duration time.Duration

	// Err is why the refresh failed: nil unless Outcome is OutcomeFailed
	// or OutcomeReauthRequired.
	Err error
}

// RefreshReason says why a token was refreshed. Its values are short
// lowercase words, fit to be metric labels.
type RefreshReason string

// The reasons for a refresh.
const (
	// ReasonExpired: the token had expired (Expiry - Leeway <= now) and
	// requests waited for the new one.
	ReasonExpired RefreshReason = "expired"
	// ReasonRejected: the API rejected the token (a 401, or what the
	// Refresher's RejectionDetector reported), and the request is sent
	// again with the new one.
	ReasonRejected RefreshReason = "rejected"
	// ReasonAhead: the token's refresh-ahead window opened (see
	// Transport.RefreshAhead); no request waited.
	ReasonAhead RefreshReason = "ahead"
	// ReasonMissing: the store held no token for the key, and the
	// Refresher is an Issuer that got a first one.
	ReasonMissing RefreshReason = "missing"
	// ReasonKeepAlive: a keep-alive sweep refreshed a grant that was idle
	// for so long that its refresh token would soon expire from disuse
	// (see Transport.Refresh and the keepalive package).
	ReasonKeepAlive RefreshReason = "keepalive"
	// ReasonInvalidated: the application dropped the key's token from
	// the Transport with Transport.Invalidate, which forces a refresh.
	ReasonInvalidated RefreshReason = "invalidated"
	// ReasonClaims: the API answered a 401 with a claims challenge
	// (error="insufficient_claims", as Microsoft Entra ID's Continuous
	// Access Evaluation sends), and the token was refreshed with those
	// claims (see ClaimsChallenge), whatever token the store held, and
	// the request sent again with the new one.
	ReasonClaims RefreshReason = "claims"
)

// RefreshOutcome says how a refresh ended. Its values are short
// lowercase words, fit to be metric labels.
type RefreshOutcome string

// The outcomes of a refresh.
const (
	// OutcomeRefreshed: the Refresher returned a new token, which was
	// saved (a failed save is reported to OnError as a *SaveError, and
	// the token is still used).
	OutcomeRefreshed RefreshOutcome = "refreshed"
	// OutcomeLoaded: another process sharing the store had refreshed the
	// token by the time this one held the store's lease, and its token
	// was used: the token endpoint was not called.
	OutcomeLoaded RefreshOutcome = "loaded"
	// OutcomeFailed: no new token; Err says why (the token endpoint, the
	// store, the lease, or a panic in the Store or Refresher). The grant
	// is not known to be dead, and a later request tries again.
	OutcomeFailed RefreshOutcome = "failed"
	// OutcomeReauthRequired: the grant is dead (Err wraps
	// ErrReauthRequired); only a person authorizing again revives it.
	OutcomeReauthRequired RefreshOutcome = "reauth_required"
)

// outcomeOf is the outcome of a refresh that ended with err.
func outcomeOf(err error, loaded bool) RefreshOutcome {
	switch {
	case errors.Is(err, ErrReauthRequired):
		return OutcomeReauthRequired
	case err != nil:
		return OutcomeFailed
	case loaded:
		return OutcomeLoaded
	}
	return OutcomeRefreshed
}

// refreshed reports ev to OnRefresh and Logger. A failed refresh ahead of
// expiry was already logged at level Error by aheadFailed.
// A panic in OnRefresh or the Logger's handler is recovered and dropped.
func (t *Transport) refreshed(ev RefreshEvent) {
	if t.OnRefresh != nil {
		guard("Transport.OnRefresh", func() error { t.OnRefresh(ev); return nil })
	}
	if t.Logger != nil {
		guard("Transport.Logger", func() error { t.logRefresh(ev); return nil })
	}
}

// healthChanged reports ev to OnHealth, and to Logger at level Info (to
// healthy or revoked) or Warn (to degraded or dead). A panic in either is
// recovered and dropped.
func (t *Transport) healthChanged(ev HealthEvent) {
	if t.OnHealth != nil {
		guard("Transport.OnHealth", func() error { t.OnHealth(ev); return nil })
	}
	if t.Logger != nil {
		guard("Transport.Logger", func() error {
			level := slog.LevelInfo
			if ev.To == HealthDegraded || ev.To == HealthDead {
				level = slog.LevelWarn
			}
			attrs := []slog.Attr{slog.String("key", ev.Key), slog.String("from", string(ev.From)), slog.String("to", string(ev.To))}
			if ev.Err != nil {
				attrs = append(attrs, slog.Any("error", ev.Err))
			}
			t.Logger.LogAttrs(context.Background(), level, "oauthrt: grant health changed", attrs...)
			return nil
		})
	}
}

// logRefresh logs ev: at level Debug when the refresh succeeded, at level
// Warn when it failed a request.
func (t *Transport) logRefresh(ev RefreshEvent) {
	attrs := []slog.Attr{
		slog.String("key", ev.Key),
		slog.String("reason", string(ev.Reason)),
		slog.String("outcome", string(ev.Outcome)),
		slog.Duration("duration", ev.Duration),
	}
	switch {
	case ev.Err == nil:
		t.Logger.LogAttrs(context.Background(), slog.LevelDebug, "oauthrt: token refreshed", attrs...)
	case ev.Reason != ReasonAhead:
		t.Logger.LogAttrs(context.Background(), slog.LevelWarn, "oauthrt: token refresh failed", append(attrs, slog.Any("error", ev.Err))...)
	}
}
