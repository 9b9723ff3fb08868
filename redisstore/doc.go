// Package redisstore keeps OAuth2 tokens in Redis, so that every process
// of a fleet shares them, and gives the fleet one refresh lease per key.
//
// A [Store] is an [oauthrt.TokenStore] and an [oauthrt.LeaseLocker]: when many
// processes find a key's token expired at once, one of them takes the
// lease and refreshes, and the others wait, then use the token it saved.
// A provider that rotates refresh tokens therefore never sees one used
// twice. It also holds the fleet protocol by construction: it is an
// [oauthrt.Committer] (a refreshed token is written only over the token
// the refresh started from), an [oauthrt.GrantStateStore] (a dead grant
// and a backoff are known to the whole fleet), and its leases are
// [oauthrt.FencedLease]s (each carries an epoch that grows with every
// lease of the key).
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
//	<p>token:<k>      a string holding the token, as the module's stores
//	                  encode it (JSON, or sealed with the AEAD)
//	<p>{<t>}fp:<k>    a hash beside the token: fp, the token's
//	                  [oauthrt.Fingerprint]; sum, the hex SHA-1 of the
//	                  bytes of <p>token:<k> it describes
//	<p>{<t>}state:<k> the key's [oauthrt.GrantState], a JSON object:
//	                  {"dead_token":…,"dead_code":…,"dead_at":…,
//	                  "next_attempt":…,"failures":…,"failing_since":…},
//	                  zero fields left out, times in RFC 3339 UTC to
//	                  the nanosecond
//	<p>lease:<k>      the refresh lease: the holder id (the host and PID
//	                  of its process and a random part, separated by
//	                  '/'), ':' and the lease's epoch in decimal, with a
//	                  TTL
//	<p>{<u>}epoch:<k> the epoch counter of the key's leases, an integer
//
// A Store whose Leases is LeasesBeside keeps the lease and its counter
// beside the token instead, in its hash slot ({t} as for fp: and state:):
//
//	<p>{<t>}tlease:<k>  the refresh lease, as <p>lease:<k> above
//	<p>{<t>}tepoch:<k>  its epoch counter, which starts above 2^40
//
// and LeasesMoving keeps both pairs (see LeaseLayout, and "Redis
// Cluster" below).
//
// Only the lease has a TTL. The token key never expires, as the refresh
// token inside it outlives the access token, and the epoch counter must
// outlive every lease, so that epochs keep growing after a release or a
// lapse. A Redis whose maxmemory-policy may evict keys without a TTL
// (allkeys-lru and the like) may lose tokens and counters alike; give the
// Store a Redis, or a database, with noeviction or a volatile-* policy.
// Likewise, Redis replicates asynchronously: a failover to a replica can
// lose the last writes acknowledged by the old primary, a token or an
// epoch among them.
//
// Store keys are used verbatim, whatever bytes they hold (':', braces,
// spaces, NUL, invalid UTF-8, glob characters such as '*', '?' and '[',
// and the empty key included); the Store never uses them as patterns.
//
// # Redis Cluster
//
// The Store's scripts each touch several keys, which Redis Cluster allows
// only when they share a hash slot: a key's token, fingerprint record and
// grant state, or its lease and epoch counter. The token and lease keys
// are named as the previous release of the Store named them, without a
// hash tag; the other keys are named after them with one, {t} or {u}:
// four characters of [0-9a-z] chosen for each key so that Redis hashes
// the name to the slot of <p>token:<k> (for t) or <p>lease:<k> (for u).
// Redis hashes only what lies between the first '{' of a name and the
// first '}' after it, so the braces of k never reach the tag, and the
// full key in the name keeps the names of different keys apart. A Prefix
// with braces of its own is handled too: one with a hash tag ("{app}:")
// puts all the Store's keys in that tag's slot, as it did before; with a
// '{' it does not close ("app{"), t is chosen for what Redis then hashes;
// and with a '{' followed at once by '}' ("a{}b"), which makes Redis hash
// whole names, the tag is written at the end of the name instead:
// <p>fp:<k><t>.
//
// A key's token and lease in different slots cost a refresh on Redis
// Cluster two commands where a single node spends one: TakeLeaseIf takes
// the lease, then reads the token; CommitRelease commits, then releases.
// Set Store.Leases to LeasesBeside to keep each lease in its token's slot
// instead (the keys stay spread over the masters): TakeLeaseIf and
// CommitRelease are then one script each, and the release is announced
// with the token, as on a single node. Processes that name the lease
// differently do not exclude each other, so a running fleet moves in two
// steps, each on every process before the next: to LeasesMoving, which
// takes both leases, then to LeasesBeside. A rollback takes the same
// steps back.
//
// A single node ignores slots, and the same names serve it; data moves
// between a node and a cluster as it is.
//
// Each master of a cluster answers SCAN for its own keys only, so the
// listings scan the masters one after another, in the order of their
// addresses, through the cluster client's connection to each; the cursor
// names the master and its SCAN cursor, and a fingerprint of the
// cluster's slot map (CLUSTER SLOTS) when the walk began. A page finding
// that the slots have moved since (a failover, a resharding) fails rather
// than go on with a walk that could miss keys: walk again from the first
// page. The listings refuse a [redis.Ring], which spreads keys by a hash
// of its own.
//
// # Commands
//
// Load is one GET of the token key: it never sees half a token. Save
// runs one script that SETs the token, writes its fingerprint record, and
// deletes the grant state.
//
// Commit runs one script that compares the stored token with prev and,
// when they match, writes as Save does; Redis runs a script without
// interleaving any other command, so the comparison and the write are
// one step for every process. Tokens sealed with the AEAD differ on every
// write, so the script compares fingerprints: prev's, which the Store
// computes, and the stored token's, which the record keeps. It trusts
// the record only while its sum is the SHA-1 of the bytes the token key
// holds, as it is after every Save and Commit: a token key set on its own
// (by the previous release, see below) leaves a record that describes
// other bytes, or none. The script then returns the stored bytes instead;
// the Store opens them, fingerprints the token, and, when it is prev, runs
// the script again on condition that the token key still holds exactly
// those bytes. Either way the write happens only in a script that has
// just found prev in the token key, so a process that lost its lease can
// never write over a newer token.
//
// LoadGrantState is one GET, SaveGrantState one SET, or one DEL for the
// zero state.
//
// # One refresh, three round trips
//
// The Store is also an [oauthrt.SnapshotLoader] and an
// [oauthrt.LeaseLoader], and its leases are [oauthrt.CommitReleaser]s,
// so that the [oauthrt.Transport] refreshes a key in three round trips:
// TakeLeaseIf, the lease's Renew right before the refresh token is
// presented, and CommitRelease. LoadSnapshot is one script that reads the
// token and the grant state. TakeLeaseIf is one script that reads the
// token group, decides as Commit does whether it holds prev, and only
// then takes the lease as TakeLease does (epoch included): a waiter whose
// token has been refreshed learns so at once, even while the lease is
// held, and takes nothing; while the token is still prev and the lease
// held, it waits for the lease's release to be announced (see Announced
// releases, below). CommitRelease is one script that commits as Commit
// does and deletes the lease if it still holds this holder's id, conflict
// or not; a lease that lapsed and was taken by another holder is left
// alone. A token without a valid fingerprint record costs TakeLeaseIf and
// CommitRelease one round trip more, as it does Commit.
//
// Those scripts touch a key's token group and its lease at once, which a
// single node allows, and Redis Cluster only when they share a slot: with
// a Prefix holding a hash tag ("{app}:"), which puts every key of the
// Store in one slot. With the names of the previous release they live in
// two, so on a cluster TakeLeaseIf takes the lease and then reads the
// token (two round trips; three when it finds another token, as it then
// lets the lease go; a waiter that found the lease held reads the token
// first), and CommitRelease commits and then releases (two): in that
// order, so that whoever takes the lease next reads the committed token.
//
// The Store is also an [oauthrt.KeyLister], an [oauthrt.GrantStateLister]
// and an [oauthrt.Deleter]. ListKeys walks the keyspace with SCAN, never
// KEYS (which blocks Redis while it goes through every key), with a MATCH
// of <p>token:<prefix>* whose glob characters (* ? [ ] \) are escaped,
// and a COUNT of the page's limit (at most 1000 a call); a page is a few
// such calls, and its cursor is SCAN's. Only token keys match: the
// companion keys and leases are never listed. ListGrantStates walks the
// grant state keys the same way, with a MATCH of <p>{????}state:<prefix>*,
// and reads the states it finds with a pipeline of GETs; it reads no
// token. As SCAN may, a walk can list a key twice. Delete is one DEL of
// the token, its fingerprint record and its grant state; the lease and
// the epoch counter stay, so that epochs go on growing.
//
// The Store is an [oauthrt.Inspector] too. A page of Inspect is the SCAN
// calls of a page of ListKeys, then one pipeline of a GET of the token,
// the grant state, the lease and the epoch counter and a PTTL of the
// lease for each key found (on Redis Cluster, sent to the masters at
// once, one round trip each); a key deleted meanwhile is left out.
//
// Lock and TakeLease run, with a jittered, growing pause (5 ms to 200 ms)
// until it succeeds or their context ends, a script that takes the lease
// only while <p>lease:<k> does not exist: it INCRs the epoch counter and
// SETs the lease to the holder id and that epoch, with a PX of the
// LeaseTTL. Release deletes the lease only while it still holds this
// holder's id (a holder id is drawn at random for each taking), so a
// holder whose lease lapsed cannot release its successor's, and announces
// the release when it deleted it; a failed release is ignored, and the
// lease then lapses after its TTL. Renew sets the lease's PEXPIRE again
// only while it still holds this holder's id and epoch. A lapsed lease is
// gone from Redis, and a later one holds another value, so Renew then
// fails with [oauthrt.ErrLeaseLost] and never takes it again.
//
// # Announced releases
//
// A TakeLeaseIf that finds the lease held learns of its release from
// Redis pub/sub rather than by asking again and again. The scripts that
// release a lease (CommitRelease's, Release's) PUBLISH, in the same
// script, so after the commit they report, on the channel <p>released:
//
//	<n>:<k><v>
//
// where n is the length of the store key k in bytes, in decimal, and v is
// the token value CommitRelease wrote, exactly as <p>token:<k> holds it
// (sealed, with an AEAD), or nothing when the script released the lease
// without writing a token, or the value exceeds 64 KiB. A CommitRelease
// that writes a token after its lease lapsed announces it all the same.
// On Redis Cluster with the key names of the previous release, where
// CommitRelease commits and then releases, the release alone is
// announced, without the token.
//
// Each Store subscribes to its channel with one connection of its client
// while some of its TakeLeaseIf calls wait (starting when the first finds
// a lease held, ending 100 ms after the last returns), and hands every
// announcement to the calls waiting for that key: a call asks Redis
// nothing more when the announced value is a token other than the one it
// waited to refresh, and returns it with the zero grant state (a commit
// clears it), as if it had read it; it asks once more otherwise. So a
// refresh that four processes need costs about six round trips, where
// asking again on a timer cost ten or more: the holder's two, and one for
// each other process. Payloads that do not parse are ignored. A waiter
// that hears nothing, as when the lease lapsed or a process of the
// previous release held it, asks again after a pause that grows from
// 200 ms to 2 s, or at once when the Store had to subscribe again; a Store
// that cannot subscribe polls as TakeLease does. Classic pub/sub reaches
// every node of a cluster, and a Sentinel failover client follows the
// master; a [redis.Ring], or any client other than a *redis.Client or a
// *redis.ClusterClient, is not subscribed, and its waiters poll.
//
// With Redis ACLs, the Store's user needs PUBLISH, SUBSCRIBE and PING,
// and the channel (for example "&<p>released", its glob characters
// escaped). A PUBLISH that Redis refuses is ignored (the script uses
// redis.pcall): commits and releases never fail for it, but waiters then
// ask only after the pause above, so allow the channel for every process
// of the fleet or for none. A client that may PUBLISH on the channel can
// hand the waiters of a Store without an AEAD a token of its choosing:
// grant it no more widely than writes to the Store's keys. With an AEAD,
// an announced value opens only under its key, as a stored one does.
//
// # Upgrading from the previous release
//
// The previous release kept only <p>token:<k> and <p>lease:<k>, under
// the same names and in the same formats, save for the lease's value (a
// bare holder id). Its tokens load as they are; the first Save or Commit
// of a key adds the record. Processes of both releases may share a Redis
// during a rolling upgrade: they take the same lease key, each waits while
// the other holds it, and neither releases the other's. A token an old
// process saves has no record (or a stale one), and a Commit over it
// compares the token itself, as above.
//
// # Encryption
//
// With an AEAD, each token is sealed with a fresh nonce and bound to its
// store key: a value copied to another key does not open. Loading a token
// with the wrong key, or an encrypted token without one, fails with an
// error wrapping [oauthrt.ErrDecrypt]; a value that is not a token, with
// one wrapping [oauthrt.ErrCorruptToken]. A Commit over a value that does
// not open is a conflict, and its error wraps the reason as well. The
// fingerprint record and the grant state are kept in the clear: a
// fingerprint is a digest of tokens drawn at random, which reveals nothing
// usable about them. No error or String output of this package holds a
// token or the client's password.
package redisstore
