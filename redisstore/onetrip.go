package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// This file serves a refresh in few round trips: LoadSnapshot,
// TakeLeaseIf and the leases' CommitRelease each run one script where
// their keys share a node (see together); elsewhere TakeLeaseIf and
// CommitRelease take two, in the order that keeps them safe.

var (
	_ oauthrt.SnapshotLoader = (*Store)(nil)
	_ oauthrt.LeaseLoader    = (*Store)(nil)
	_ oauthrt.CommitReleaser = (*fencedLease)(nil)
)

// together reports whether one script may touch both key's token group and
// its lease named lease: always on a single node (a *redis.Client,
// including a Sentinel failover client), and on Redis Cluster when the
// token and lease keys share a hash slot (LeasesBeside puts them there,
// and so does a Prefix with a hash tag of its own). A Ring, or any other
// client, spreads keys by rules of its own, and is treated as a cluster
// whose slots always differ.
func (s *Store) together(c redis.UniversalClient, key, lease string) bool {
	switch c.(type) {
	case *redis.Client:
		return true
	case *redis.ClusterClient:
		return slot(s.tokenKey(key)) == slot(lease)
	}
	return false
}

// snapshot reads a token and its grant state. KEYS: the token, its grant
// state. It returns {token, state}, each false when absent.
var snapshot = redis.NewScript(`return {redis.call("GET", KEYS[1]), redis.call("GET", KEYS[2])}`)

// OneTripStore returns s: its one-trip methods (LoadSnapshot,
// TakeLeaseIf, its leases' CommitRelease) act on s itself. A type that
// embeds a *Store gains this method too, and returns the embedded Store,
// so the Transport reaches such a wrapper through its own methods. See
// [oauthrt.SnapshotLoader].
func (s *Store) OneTripStore() oauthrt.TokenStore { return s }

// LoadSnapshot returns the key's token (nil when it has none) and grant
// state, read by one script in one round trip. A token that does not
// open is an error, as it is for Load; so is a grant state that is not
// JSON.
func (s *Store) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	c, err := s.client()
	if err != nil {
		return oauthrt.Snapshot{}, err
	}
	if err := ctx.Err(); err != nil {
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: redisstore: loading key %q: %w", key, err)
	}
	keys := s.tokenKeys(key)
	res, err := snapshot.Run(ctx, c, []string{keys[0], keys[2]}).Slice()
	if err != nil {
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: redisstore: loading key %q: %w", key, err)
	}
	if len(res) != 2 {
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: redisstore: loading key %q: the snapshot script answered %d values", key, len(res))
	}
	return s.snapshotOf(key, res[0], res[1])
}

// snapshotOf opens the token value v and the grant state st, as a script
// answered them: a string, or nil or false when absent.
func (s *Store) snapshotOf(key string, v, st any) (oauthrt.Snapshot, error) {
	var snap oauthrt.Snapshot
	if b, ok, err := bulk(v); err != nil {
		return snap, fmt.Errorf("oauthrt: redisstore: loading key %q: the token %w", key, err)
	} else if ok {
		tok, err := tokencodec.Decode([]byte(b), s.AEAD, key)
		if err != nil {
			return snap, fmt.Errorf("oauthrt: redisstore: key %q: %w", key, err)
		}
		snap.Token = tok
	}
	if b, ok, err := bulk(st); err != nil {
		return snap, fmt.Errorf("oauthrt: redisstore: loading key %q: the grant state %w", key, err)
	} else if ok {
		state, err := parseGrantState(key, []byte(b))
		if err != nil {
			return snap, fmt.Errorf("oauthrt: redisstore: %w", err)
		}
		snap.State = state
	}
	return snap, nil
}

// bulk returns the string a script answered, or false when it answered
// nil or false (Lua's false reaches a RESP2 client as nil, a RESP3 client
// as false).
func bulk(x any) (string, bool, error) {
	switch x := x.(type) {
	case string:
		return x, true, nil
	case nil:
		return "", false, nil
	case bool:
		if !x {
			return "", false, nil
		}
	}
	return "", false, fmt.Errorf("came back as a %T", x)
}

// checkLua reads the token group and decides whether it holds prev: it
// returns {-1, value, state} when is_prev cannot tell, {0, value, state}
// when the key holds another token, and goes on when it holds prev, with
// v and st set. KEYS[1..3]: the token, its fingerprint record, its grant
// state. ARGV[1..3]: is_prev's prev, exact and found.
const checkLua = isPrevLua + `
local v = redis.call("GET", KEYS[1])
local st = redis.call("GET", KEYS[3])
local ok = is_prev(v, KEYS[2], ARGV[1], ARGV[2], ARGV[3])
if ok == nil then
	return {-1, v, st}
end
if not ok then
	return {0, v, st}
end
`

// check answers as checkLua does, and {1, value, state} when the key
// holds prev.
var check = redis.NewScript(checkLua + `return {1, v, st}`)

// takeIf checks the token as check does and, when it is prev, takes the
// lease as take does: the token before the lease, so that a waiter learns
// of a new token while the lease is still held. KEYS: the token group,
// then the lease and its epoch counter. ARGV: is_prev's prev, exact and
// found, then take's holder, TTL, floor and start. It answers as
// checkLua does when the key does not hold prev, {-2} when it does but
// the lease is held, and {epoch, value, state} when it took the lease.
var takeIf = redis.NewScript(checkLua + takeLua + `
local epoch = take(KEYS[4], KEYS[5], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
if epoch < 0 then
	return ` + badEpochLua + `
end
if epoch == 0 then
	return {-2}
end
return {epoch, v, st}
`)

// The first value of an answer of check or takeIf, when it is not an
// epoch.
const (
	answerHeld    = -2 // the key holds prev, and the lease is held
	answerUnknown = -1 // is_prev cannot tell
	answerOther   = 0  // the key holds another token
	answerPrev    = 1  // check: the key holds prev
)

// TakeLeaseIf takes the refresh lease of key as TakeLease does, only if
// the store holds prev under key (compared by [oauthrt.Fingerprint]; nil
// prev: no token), and returns it with the key's token and grant state.
// When the store holds another token, it takes nothing and returns a nil
// Lease with them, at once, even while another holder has the lease. See
// [oauthrt.LeaseLoader].
//
// Where the key's token group and lease share a node (a single Redis, or a
// cluster slot), one script reads the token, compares it with prev and
// takes the lease: one round trip. On Redis Cluster, unless the Store's
// Leases is LeasesBeside (or LeasesMoving), they live in different slots,
// as the previous release named them, and no script may touch both:
// TakeLeaseIf then takes the lease first and reads the token after, in two
// round trips, and releases the lease in a third when the token has
// changed. Under LeasesMoving, TakeLeaseIf first takes the lease of
// LeasesApart, waiting while it is held, then goes on as under
// LeasesBeside, and lets go of the first lease when it takes no second. A
// token without a valid fingerprint record (saved by the previous release)
// costs one more round trip, to compare its exact bytes once the Store has
// opened them.
//
// While the key holds prev and another holder has the lease, TakeLeaseIf
// waits for the lease's release to be announced on the channel
// <p>released (see the package documentation): when the holder's
// CommitRelease announces the token it committed, and that token is not
// prev, TakeLeaseIf returns it with a nil Lease and the zero grant state
// (the commit cleared it) without asking Redis again; any other
// announcement about the key makes it ask again. It also asks again when
// nothing is announced for a while (200 ms, doubling up to 2 s), and
// polls as TakeLease does while the Store is not subscribed (a client
// that cannot be, an ACL that refuses the channel).
func (s *Store) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot, error) {
	c, err := s.client()
	if err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	if err := s.checkLayout(); err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	ttl, err := lease.TTL("redisstore", s.LeaseTTL)
	if err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	if s.Leases != LeasesMoving {
		l, snap, err := s.takeLeaseIf(ctx, c, key, prev, ttl, 0)
		if l == nil { // not a nil *fencedLease in a non-nil Lease
			return nil, snap, err
		}
		return l, snap, err
	}
	apart, err := s.takeLease(ctx, c, key, s.apartLeaseKeys(key), ttl, 0)
	if err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	l, snap, err := s.takeLeaseIf(ctx, c, key, prev, ttl, int64(apart.epoch))
	if err != nil || l == nil {
		apart.Release()
		return nil, snap, err
	}
	m, err := s.moving(ctx, c, key, apart, l)
	if err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	return m, snap, nil
}

// takeLeaseIf is TakeLeaseIf on the lease that leaseKeys names, with the
// floor given to the take script (see takeLua).
func (s *Store) takeLeaseIf(ctx context.Context, c redis.UniversalClient, key string, prev *oauth2.Token, ttl time.Duration, floor int64) (*fencedLease, oauthrt.Snapshot, error) {
	t := &conditionalTake{
		s: s, c: c, key: key,
		tokenKeys: s.tokenKeys(key), leaseKeys: s.leaseKeys(key),
		prev: oauthrt.Fingerprint(prev), exact: "0",
		holder: lease.NewHolder() + ":", ms: ttl.Milliseconds(), floor: floor,
	}
	try := t.split
	if s.together(c, key, t.leaseKeys[0]) {
		try = t.together
	}
	var (
		epoch int64
		snap  *oauthrt.Snapshot
	)
	err := lease.WaitOn(ctx, s.board(c), key, func(ctx context.Context) (bool, error) {
		var err error
		epoch, snap, err = try(ctx)
		return snap != nil, err
	}, func(value []byte) bool {
		// The holder committed value as it released the lease: it is
		// what a try would read now, unless it is prev (then the try
		// takes the lease) or does not open (then the try reports why).
		tok, err := tokencodec.Decode(value, s.AEAD, key)
		if err != nil || oauthrt.Fingerprint(tok) == t.prev {
			return false
		}
		epoch, snap = 0, &oauthrt.Snapshot{Token: tok} // a commit clears the grant state
		return true
	})
	if err != nil {
		if t.tried {
			// A script may have taken the lease before the error (a
			// cancelled ctx, a lost connection, a token that does not
			// open): so that no one waits a whole TTL for a lease nobody
			// knows it holds. The release deletes only this holder's.
			t.release()
		}
		return nil, oauthrt.Snapshot{}, err
	}
	if epoch == 0 {
		return nil, *snap, nil
	}
	return s.newLease(c, key, t.leaseKeys[0], t.holder, epoch, ttl), *snap, nil
}

// A conditionalTake is one call of TakeLeaseIf.
type conditionalTake struct {
	s                    *Store
	c                    redis.UniversalClient
	key                  string
	tokenKeys, leaseKeys []string
	// prev, exact and found are is_prev's arguments: exact becomes "1",
	// and found the value, once the Store found a value without a valid
	// record to be prev.
	prev, exact, found string
	holder             string
	ms                 int64
	floor              int64 // the take script's (see takeLua)
	tried              bool  // a script that takes the lease was sent
	waiting            bool  // split found the lease held
}

// together tries once with takeIf. It returns the epoch and the snapshot
// when it took the lease, 0 and the snapshot when the key holds another
// token, and 0 and nil when the lease is held.
func (t *conditionalTake) together(ctx context.Context) (int64, *oauthrt.Snapshot, error) {
	keys := append(append([]string(nil), t.tokenKeys...), t.leaseKeys...)
	t.tried = true
	for {
		res, err := takeIf.Run(ctx, t.c, keys, t.prev, t.exact, t.found, t.holder, t.ms, t.floor, t.s.start()).Slice()
		if err != nil {
			return 0, nil, fmt.Errorf("oauthrt: redisstore: %w", err)
		}
		code, snap, again, err := t.answer(res)
		switch {
		case err != nil:
			return 0, nil, err
		case again:
			continue
		case code == answerHeld:
			return 0, nil, nil
		case code <= answerOther:
			return 0, snap, nil
		}
		return code, snap, nil
	}
}

// split tries once where the token group and the lease live in different
// slots: it takes the lease, then reads the token, so that a holder that
// committed and then released is seen to have committed. Once it has
// found the lease held, it reads the token first as well: a waiter then
// learns of the holder's new token in one round trip, and takes no lease
// only to release it. It answers as together does.
func (t *conditionalTake) split(ctx context.Context) (int64, *oauthrt.Snapshot, error) {
	if t.waiting {
		code, snap, err := t.check(ctx)
		if err != nil || code != answerPrev {
			return 0, snap, err
		}
	}
	t.tried = true
	epoch, err := t.s.runTake(ctx, t.c, t.leaseKeys, t.holder, t.ms, t.floor)
	if err != nil {
		return 0, nil, err
	}
	code, snap, err := t.check(ctx)
	switch {
	case err != nil:
		return 0, nil, err
	case code == answerPrev && epoch > 0:
		return epoch, snap, nil
	case code == answerPrev:
		t.waiting = true
		return 0, nil, nil
	}
	if epoch > 0 {
		t.release()
	}
	return 0, snap, nil
}

// check runs check until it decides, and returns its answer: answerPrev or
// answerOther, with the snapshot it read.
func (t *conditionalTake) check(ctx context.Context) (int64, *oauthrt.Snapshot, error) {
	for {
		res, err := check.Run(ctx, t.c, t.tokenKeys, t.prev, t.exact, t.found).Slice()
		if err != nil {
			return 0, nil, fmt.Errorf("oauthrt: redisstore: %w", err)
		}
		code, snap, again, err := t.answer(res)
		if err != nil || !again {
			return code, snap, err
		}
	}
}

// answer reads an answer of check or takeIf: its first value and the
// snapshot it carries. again reports that the key holds a value without a
// valid record that the Store found to be prev: the script must run again
// with those exact bytes.
func (t *conditionalTake) answer(res []any) (code int64, snap *oauthrt.Snapshot, again bool, err error) {
	if len(res) == 0 {
		return 0, nil, false, t.odd(res)
	}
	code, ok := res[0].(int64)
	if !ok {
		return 0, nil, false, t.odd(res)
	}
	if code == answerHeld {
		return code, nil, false, nil
	}
	if len(res) != 3 {
		return 0, nil, false, t.odd(res)
	}
	got, err := t.s.snapshotOf(t.key, res[1], res[2])
	if err != nil {
		// A token that does not open is neither prev nor one a waiter
		// can use: the error is TakeLeaseIf's, as it is Load's.
		return 0, nil, false, err
	}
	if code == answerUnknown {
		if oauthrt.Fingerprint(got.Token) == t.prev {
			t.exact, t.found = "1", res[1].(string) // a value: is_prev could not tell
			return code, nil, true, nil
		}
		code = answerOther
	}
	return code, &got, false, nil
}

func (t *conditionalTake) odd(res []any) error {
	return fmt.Errorf("oauthrt: redisstore: taking the refresh lease of key %q: the script answered %d values of unexpected types", t.key, len(res))
}

// release releases the lease this call may have taken, if it is still
// its own.
func (t *conditionalTake) release() {
	lease.Release(func(ctx context.Context) { _ = t.s.releaseLease(ctx, t.c, t.key, t.leaseKeys[0], t.holder) })()
}

// commitRelease commits as commit does, and releases the lease as release
// does, unless is_prev cannot tell: then it does neither, and answers
// {value}. It announces the value it wrote, and, when it wrote none, the
// release without a value if it released the lease (see announce.go). A
// value written after the lease lapsed is announced too: it is the
// key's token all the same, and the waiters of whoever holds the lease
// now may take it. KEYS: the token group, then the lease. ARGV: commit's,
// then release's holder, the Store's channel and the store key.
var commitRelease = redis.NewScript(isPrevLua + writeLua + releaseLua + announceLua + `
local v = redis.call("GET", KEYS[1])
local ok = is_prev(v, KEYS[2], ARGV[3], ARGV[4], ARGV[5])
if ok == nil then
	return {v}
end
if ok then
	write(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
end
local released = release(KEYS[4], ARGV[6])
if ok then
	announce(ARGV[7], ARGV[8], ARGV[1])
	return 1
end
if released == 1 then
	announce(ARGV[7], ARGV[8], "")
end
return 0
`)

// CommitRelease commits tok under the lease's key as the Store's Commit
// does, and releases the lease if it is still this holder's, in one script
// where the key's token group and lease share a node. See
// [oauthrt.CommitReleaser]. On Redis Cluster, where they live in different
// slots (see TakeLeaseIf), it commits, then releases: two round trips, in
// that order, so that whoever takes the lease next finds the new token. A
// lease of LeasesMoving then releases its lease of LeasesApart too, one
// round trip more. A conflict over a token without a valid fingerprint
// record (saved by the previous release) costs a round trip more, to
// release.
//
// The script announces the commit on the channel <p>released, with the
// token as it stores it (sealed, with an AEAD), or, after a conflict, the
// release alone, so that the TakeLeaseIf calls waiting for the lease in
// every process learn of it at once (see the package documentation); on
// Redis Cluster where the two are separate, the release announces itself,
// without the token. A PUBLISH that Redis refuses (an ACL without the
// channel) is ignored, and fails nothing.
func (l *fencedLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	s, c, key := l.store, l.client, l.key
	if tok == nil {
		return fmt.Errorf("oauthrt: redisstore: committing key %q: nil token", key)
	}
	if !s.together(c, key, l.name) {
		v, err := s.runCommit(ctx, c, commit, key, s.tokenKeys(key), prev, tok)
		if err != nil {
			return err
		}
		l.Release()
		return v.err(key)
	}
	keys := append(s.tokenKeys(key), l.name)
	v, err := s.runCommit(ctx, c, commitRelease, key, keys, prev, tok, l.holder, s.channel(), key)
	if err != nil {
		return err
	}
	if v.wrote || v.decided {
		l.settled.Store(true) // the script released it, if it was still ours
	}
	l.Release()
	return v.err(key)
}
