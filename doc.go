// Package oauthrt provides an [http.RoundTripper] that keeps OAuth2 access
// tokens fresh, so that code calling an API on behalf of its users never
// handles token expiry.
//
// Services that act for their users on third-party APIs (Azure DevOps,
// GitHub, Jira, …) hold access tokens that expire, and refresh tokens
// that many providers rotate on every use. Presenting a rotated refresh
// token twice makes such a provider revoke the whole grant (RFC 9700), and
// the integration is dead until a person authorizes it again. A
// [Transport] does the refreshing once, correctly, for every request that
// goes through it.
//
// # Wiring
//
// Wrap the transport of any [http.Client], or hand the client to a vendor
// SDK:
//
//	client := &http.Client{Transport: &oauthrt.Transport{
//		Store:     store, // where tokens live: see "Stores" below
//		Refresher: generic.FromConfig(oauthConfig),
//	}}
//
// Each request uses the token stored under its key: the Transport's Key
// field, or the key that [WithKey] put in the request's context, so that
// one client serves thousands of tenants.
//
// # On each request
//
// The first request for a key reads the token from the [TokenStore].
// When many keys are first asked for at once (a process starting on a
// store of thousands of grants), a store that is a [BatchLoader], as
// sqlstore and redisstore are, reads those that pile up together, in a
// fraction of a round trip each. After that the token comes from memory, through an atomic load: a
// request with a valid token takes no lock and costs one clone of the
// request. The token is sent as "Authorization: Bearer …", whatever its
// type says (Azure DevOps says jwt-bearer), but for a DPoP-bound token
// (token_type DPoP, RFC 9449): that goes as "Authorization: DPoP …", with
// a proof signed by the key its grant carries (see package dpop) in the
// DPoP header, and the server's nonce in the proof.
//
// # Ahead of expiry
//
// Shortly before a token expires ([Transport.RefreshAhead], one minute by
// default, at most half the token's remaining life), the first request
// that notices starts one refresh in the background and goes on with the
// still-valid token, as do all the requests after it, until the new token
// is in. While the token endpoint is healthy no request waits for it. A
// background refresh that fails fails no request: it is reported to
// [Transport.OnError] and tried again after a backoff. [Transport.Close]
// stops this background work.
//
// # On expiry
//
// A token counts as expired once its Expiry minus [Transport.Leeway] is
// not after now; a token with no Expiry never does. Requests for an
// expired token wait: the Transport reads the store again (another
// process may have refreshed already: its token is used as it is), calls
// the [Refresher], saves the new token, and only then sends the request.
// Any number of requests that find a key expired at once share one
// refresh; requests for other keys do not wait. A caller whose context
// ends stops waiting at once, but the refresh it started goes on, so that
// a rotated refresh token is never dropped half way.
//
// # On a 401
//
// A 401 means the server rejected the token, unless its WWW-Authenticate
// challenge (Bearer, or DPoP) says otherwise. The Transport reads the
// store again, refreshes unless some other request already did, and
// sends the request once more, replaying its body through
// [http.Request.GetBody]. It never retries twice. A request whose body
// cannot be replayed gets the 401 back.
//
// A claims challenge, error="insufficient_claims" with claims (as
// Microsoft Entra ID's Continuous Access Evaluation sends when it revokes
// a token before its expiry), asks for a token issued for those claims.
// The Transport refreshes once with them ([ClaimsChallenge] hands them to
// the Refresher, which sends them as the token request's claims
// parameter), whatever token the store holds, since none was issued for
// them, and sends the request once more; a second claims challenge is
// returned as it is. Claims that are not a JSON object leave the 401 as
// it is. The entra package's ClientCapabilities opts an app into CAE.
//
// Some challenges no refresh can answer, on a 401 or a 403: a
// [*StepUpError] (insufficient_user_authentication, RFC 9470: the user
// must sign in again, more strongly or more recently) or an
// [*InsufficientScopeError] (insufficient_scope: the grant lacks a
// scope) is returned instead of the response, with what the challenge
// asks for. invalid_request leaves the 401 as it is. Any other 403 is
// the caller's response, as any other status is.
//
// # On a dead grant
//
// When there is no refresh token, or the token endpoint answers
// invalid_grant or 401 (but for a 401 invalid_client, which blames the
// application's credential), the Refresher returns an error wrapping
// [ErrReauthRequired], and RoundTrip returns it without sending the
// request. The Transport never presents that refresh token again: later
// requests for the key read the store and fail fast with the same error
// until a new token is saved there, after the user authorized the
// application again, which then just works. Errors from the token
// endpoint also unwrap to [*oauth2.RetrieveError], with the provider's
// error code and description.
//
// # Stores
//
// A [TokenStore] keeps one token per key. [MemoryStore] suits a single
// process that gets its tokens some other way. The module's other stores
// persist them, each in its own package so that importing oauthrt pulls
// in no driver: filestore (one JSON file, the default for command-line
// tools and single hosts), sqlstore (database/sql: SQLite, PostgreSQL,
// MySQL and MariaDB) and redisstore. Each can encrypt tokens at rest with
// a [crypto/cipher.AEAD]; a wrong key gives [ErrDecrypt], a damaged
// record [ErrCorruptToken]. Package storetest is the conformance suite
// they all pass, for anyone writing another.
//
// # Fleets
//
// When several processes share a store, a refresh in one of them must
// not race a refresh in another: the second would present a refresh
// token the first already rotated. A store shared between processes
// therefore also implements [Locker], a lease per key with a bounded time
// to live, and the Transport refreshes under it: it takes the lease,
// reads the store again and uses the token there if another process
// refreshed meanwhile, and otherwise refreshes and saves before letting
// the lease go. The file, SQL and Redis stores all do, and so does
// [MemoryStore], for several Transports of one process sharing it. A
// store that is a [LeaseLocker] (all of these) has its lease renewed every
// third of its TTL while the Transport holds it, so the lease outlasts a
// slow refresh; the refresh gets its own [RefreshTimeout] once the lease
// is held. A process that dies holding the lease holds up the others only
// until it lapses (with filestore, not at all: the kernel frees it).
//
// Three more capabilities make the fleet hold by construction rather than
// by timing, and every store of this module has them. A lease is a
// [FencedLease], whose epoch only grows: the Transport renews it right
// before presenting a refresh token, and a renewal refused means a later
// holder exists, so the token is not presented. A [Committer] saves a
// refreshed token only if the store still holds the token the refresh
// started from: a holder paused or cut off past its lease loses the
// commit and adopts the stored token, and the store never goes back to an
// older token of a grant. A [GrantStateStore] records a dead grant (so
// its refresh token is presented once per fleet) and the token endpoint's
// backoff after a 429, a 5xx or a network error (so the fleet calls it at
// most once per step; a request that needs a refresh meanwhile fails at
// once with a [*BackoffError]). On invalid_grant the store is read again:
// a token another process committed meanwhile means a sibling won the
// refresh, not that the grant died. An answer lost on the way is asked for
// again with the same refresh token within the Refresher's
// [RotationGracer] window. The README's "The fleet protocol" lists the
// steps, and the cases no client can save.
//
// # When the store fails
//
// A failed Load or a lease that cannot be taken fails the request, and
// nothing is refreshed. A failed Save after a successful refresh does not
// fail anything: the new token, whose refresh token is now the only live
// one, is used and kept in memory, and saved again until the store takes
// it. Under a lease, the lease stays held, renewed, and the save is
// retried (from 100 milliseconds doubling to two seconds) until then: the
// other processes wait on the lease rather than read the rotated refresh
// token the store still holds and present it. Without one, later requests
// save it again, at most once per backoff step (from one second to a
// minute). Before each of those saves the store is read: a token there
// that this Transport did not refresh (the user authorized again, and the
// application saved the new token) is newer, and replaces the one in
// memory instead of being written over. Each failure is reported as a
// [*SaveError] to [Transport.OnError] and [Transport.Logger].
//
// A Store, lease or Refresher that panics fails only its step: the panic
// becomes an error naming what panicked (not the panic's value, which may
// hold a token). A Save that panics is a failed Save like any other.
//
// # Refreshers
//
// Package generic implements the RFC 6749 refresh_token grant for any
// provider, with client_secret_basic, client_secret_post, private_key_jwt
// or no client authentication; package entra, Microsoft Entra ID's
// (Azure DevOps' new sign-in); package vsts, Azure DevOps' retiring
// assertion-based flow. [TokenSourceRefresher] takes tokens from any
// [golang.org/x/oauth2.TokenSource], and a [RefresherFunc] covers anything
// else.
//
// # Libraries that take a TokenSource
//
// [Transport.TokenSource] hands such a library the tokens of one key from
// the same cache, refresh and store as the Transport's requests.
//
// # A grant's whole life
//
// Each key's grant has a [Health]: healthy, degraded (the token endpoint
// failing transiently: since when, how many attempts) or dead (the
// provider refused the refresh token: the user must authorize again).
// Only the provider's verdict makes a grant dead; a provider down for a
// day leaves its grants degraded. With a [GrantStateStore] the health is
// kept in the store, for the whole fleet: [Transport.Status] reads one
// key's, [ListStatuses] lists the keys in each state without reading a
// token, and [Transport.OnHealth] hears of every change.
//
// Grants left unused die after 30 to 180 days at many providers. The
// keepalive package sweeps a store whose keys can be listed ([KeyLister])
// and refreshes, through [Transport.Refresh] and so once for the whole
// fleet, only the grants about to die from disuse. The providers package
// knows each provider's idle lifetime, rotation grace, dead-grant
// dialect and the fields a token must keep, with their sources.
//
// [Transport.Invalidate] drops a key's cached token and makes the next
// request refresh it; [Transport.Revoke] revokes a grant at its provider
// (a [Revoker]) and deletes it from the store (a [Deleter]).
//
// # Observability
//
// [Transport.OnRefresh] hears of every refresh, with its reason, outcome
// and duration, for metrics; [Transport.OnHealth] of every change of a
// grant's health; [Transport.Logger] logs them, and what goes wrong in
// the background. None ever sees a token.
//
// # Secrets
//
// No error, log line or %v output of this module contains an access
// token, a refresh token or a client secret, and a request that a
// redirect takes to another host is sent without the token. Credentials
// go only over https://, or over http:// to a loopback host; any other
// request fails with [ErrInsecureURL] unless AllowInsecureHTTP is set.
// SECURITY.md in the repository holds the threat model.
package oauthrt
