// Package redisstore keeps OAuth2 tokens in Redis, so that every process
// of a fleet shares them, and gives the fleet one refresh lease per key.
//
// A [Store] is an [oauthrt.TokenStore] and an [oauthrt.LeaseLocker]: when many
// processes find a key's token expired at once, one of them takes the
// lease and refreshes, and the others wait, then use the token it saved.
// A provider that rotates refresh tokens therefore never sees one used
// twice.
//
// # Wiring
//
// Hand the Store any client of github.com/redis/go-redis/v9 (a single
// node, a cluster or a sentinel failover client):
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	store := &redisstore.Store{
//		Client: rdb,
//		Prefix: "myapp:oauth:", // default "oauthrt:"
//		AEAD:   aead,           // optional: encrypts tokens at rest
//	}
//	client := &http.Client{Transport: &oauthrt.Transport{
//		Store:     store,
//		Refresher: generic.FromConfig(oauthConfig),
//	}}
//
// # Key layout
//
// For the store key k, with the Store's Prefix p:
//
//	<p>token:<k>  a string holding the token, as the module's stores
//	              encode it (JSON, or sealed with the AEAD); no expiry
//	<p>lease:<k>  the refresh lease: a random holder id, with a TTL
//
// The token key is never given an expiry: the refresh token inside it
// outlives the access token. Store keys are used verbatim, whatever
// bytes they hold (':', spaces, NUL, invalid UTF-8, glob characters such
// as '*', '?' and '[', and the empty key included); the Store never uses
// them as patterns. Every command
// touches a single Redis key, so the layout works on Redis Cluster as it
// is.
//
// # Commands
//
// Load is one GET, Save one SET, so a Save is atomic and a Load never
// sees half a token. Lock repeats
//
//	SET <p>lease:<k> <holder> NX PX <LeaseTTL in ms>
//
// with a jittered, growing pause (5 ms to 200 ms) until it succeeds or
// its context ends. The function it returns runs a Lua script that
// deletes the lease only while it still holds this holder's id, so a
// holder whose lease lapsed cannot release its successor's. A failed
// release is ignored: the lease then lapses after its TTL. TakeLease
// takes the lease the same way; its Lease's Renew runs a Lua script that
// sets the lease's PEXPIRE again only while it still holds this holder's
// id. A lapsed lease is gone from Redis, so Renew then fails with
// [oauthrt.ErrLeaseLost] and never takes it again.
//
// # Encryption
//
// With an AEAD, each token is sealed with a fresh nonce and bound to its
// store key: a value copied to another key does not open. Loading a token
// with the wrong key, or an encrypted token without one, fails with an
// error wrapping [oauthrt.ErrDecrypt]; a value that is not a token, with
// one wrapping [oauthrt.ErrCorruptToken]. No error or String output of
// this package holds a token or the client's password.
package redisstore
