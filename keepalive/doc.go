// Package keepalive keeps idle OAuth2 grants alive: it refreshes, ahead
// of time, the grants whose refresh tokens would otherwise expire from
// disuse.
//
// Many providers end a grant whose refresh token goes unused for a while,
// from 30 to 180 days depending on the provider: a tenant whose
// integration had nothing to do for a season finds it dead, and a person
// must authorize the application again. A [oauthrt.Transport] refreshes a
// token only when requests need it, so it cannot prevent that. A
// [Sweeper] can: it walks the store's keys, and refreshes each grant that
// has been idle for nearly as long as the provider allows, and no other.
//
// # Wiring
//
// Give the Sweeper the Transport the application already uses, and the
// provider's idle lifetime, and run it in the background:
//
//	sweeper := &keepalive.Sweeper{
//		Transport:    transport, // its Store must be an oauthrt.KeyLister
//		IdleLifetime: 90 * 24 * time.Hour,
//		OnEvent:      func(ev keepalive.Event) { /* metrics, logs */ },
//	}
//	go sweeper.Run(ctx) // a sweep now, then one an hour
//
// [Sweeper.Sweep] makes a single pass instead, for a cron job.
//
// # Which grants are refreshed
//
// A sweep lists the keys a page at a time ([oauthrt.KeyLister]), loads
// each key's token, and works out when it was last refreshed: its Expiry
// less its ExpiresIn. This module's Refreshers, and golang.org/x/oauth2
// from a JSON answer, set ExpiresIn from the token endpoint's expires_in,
// and the stores keep it. A grant is due once it has been idle for IdleLifetime - Margin,
// less a fraction of a quarter of Margin that depends only on the key
// (its FNV hash): grants authorized on the same day fall due over a spread
// of time rather than at once, and every sweeper of the fleet agrees on
// when each is due. Margin is a quarter of IdleLifetime unless set.
//
// A grant is refreshed only when it provably needs it. A token without
// Expiry or ExpiresIn is skipped, and counted Unknown: golang.org/x/oauth2
// (v0.36.0, internal/token.go, read 2026-11-30) sets no ExpiresIn on a
// token from a form-encoded answer, for one. A token without a refresh
// token has no grant to keep alive. A grant that the store records dead
// (an [oauthrt.GrantStateStore] whose GrantState holds the token's
// fingerprint) is skipped without a call to the token endpoint, and so is
// one whose token endpoint is backed off after transient failures. A
// grant in use is refreshed by its requests as its access tokens expire,
// and is seldom due.
//
// [Counts] says what a sweep did with every key, and [Event]s report its
// progress to [Sweeper.OnEvent]. Neither holds a token. Each refresh is
// also reported to the Transport's OnRefresh, with
// [oauthrt.ReasonKeepAlive], and a grant the refresh finds dead changes
// health, as with any refresh.
//
// # Fleet safety
//
// A sweep refreshes through [oauthrt.Transport.Refresh], with the token it
// loaded: the Transport's refresh protocol takes the store's lease, reads
// the store again, and refreshes only if the store still holds that
// token; the new token is committed only if the store still holds the
// old one. A grant that another process (a request, or another sweeper)
// refreshed meanwhile is counted Loaded, and its refresh token is not
// presented. So any number of Sweepers, on any number of hosts sharing a
// store, may sweep at once: each grant is refreshed once, and a rotated
// refresh token is never presented twice, which would make many providers
// revoke the grant. Run one Sweeper per fleet to save the store's reads,
// or a few for redundancy.
//
// # Pace
//
// A sweep refreshes one grant at a time, and waits 1/Rate between two
// refreshes (two a second unless set), to spare the provider's rate
// limits; keys that are not due cost one read of the store each. Run
// waits Interval (an hour unless set, give or take 10%) between sweeps,
// and refuses an Interval that is not shorter than Margin. Choose Rate so
// that the grants falling due within Margin are refreshed well within
// it: the first sweep of an old store may find many due at once.
//
// # The providers catalog
//
// The providers package records what is known of each provider's
// grants, each fact with its source. Its Provider.IdleLifetime is a Fact:
// when it is known and its Value is positive, that Value is the
// Sweeper's IdleLifetime; when it is known and zero, disuse does not end
// the provider's grants and no sweep is needed; when it is unknown, no
// public source gives it, and the application must choose a lifetime it
// can justify, or not sweep. The fact's Note says when the provider lets
// each customer change the lifetime: then the customer's setting is the
// one to use. A sweep cannot help against a provider's AbsoluteLifetime,
// which ends a grant however often it is refreshed.
package keepalive
