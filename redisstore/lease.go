package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
	"github.com/redis/go-redis/v9"
)

// takeLua defines take(lease, epochs, holder, ttl, floor, start), which
// takes a lease that no one holds, with the next epoch of its key. lease
// and epochs name the lease and its epoch counter; holder is the holder
// id followed by ':', ttl the TTL in milliseconds. The lease's value is
// holder followed by the epoch in decimal. The epoch is at least floor,
// and, when the counter does not exist yet, at least start: the counter
// is raised to that when it is below (so that the epochs of a key whose
// lease moves keep growing, see LeaseLayout). It returns the epoch; 0
// when the lease is held (by this release's holders or by the previous
// one's, whose value is a bare holder id); -1 when the counter is below
// 1, which only something other than a Store can have written (the
// caller answers with badEpochLua).
const takeLua = `
local function take(lease, epochs, holder, ttl, floor, start)
	if redis.call("EXISTS", lease) == 1 then
		return 0
	end
	floor = tonumber(floor)
	if redis.call("EXISTS", epochs) == 0 then
		floor = math.max(floor, tonumber(start))
	end
	local epoch = redis.call("INCR", epochs)
	if epoch < 1 then
		return -1
	end
	if epoch < floor then
		epoch = floor
		redis.call("SET", epochs, epoch)
	end
	redis.call("SET", lease, holder .. epoch, "PX", ttl)
	return epoch
end
`

// badEpochLua is the error a script returns when take returned -1.
const badEpochLua = `redis.error_reply("the epoch counter is below 1: something other than a Store wrote it")`

// take runs take. KEYS: the lease, its epoch counter. ARGV: the holder id
// followed by ':', the TTL in milliseconds, the floor and the start. It
// returns the epoch, or 0 when the lease is held.
var take = redis.NewScript(takeLua + `
local epoch = take(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if epoch < 0 then
	return ` + badEpochLua + `
end
return epoch
`)

// releaseLua defines release(lease, holder), which deletes a lease only
// while it is still the caller's: while its value starts with holder, the
// holder id and ':'. A holder id is drawn at random for each taking, so it
// names one lease, epoch included, and the lease can be released by a
// holder that does not know its epoch (a take whose answer was lost). It
// returns 1 when it deleted the lease, else 0.
const releaseLua = `
local function release(lease, holder)
	local v = redis.call("GET", lease)
	if v and string.sub(v, 1, #holder) == holder then
		return redis.call("DEL", lease)
	end
	return 0
end
`

// release runs release, and announces the release, without a token, when
// it deleted the lease (see announce.go). KEYS: the lease. ARGV: the
// holder id followed by ':', the Store's channel, the store key. It
// returns release's answer.
var release = redis.NewScript(releaseLua + announceLua + `
local n = release(KEYS[1], ARGV[1])
if n == 1 then
	announce(ARGV[2], ARGV[3], "")
end
return n
`)

// releaseLease releases key's lease named lease with the release script
// if it is still held by holder (the holder id followed by ':'), and
// announces it.
func (s *Store) releaseLease(ctx context.Context, c redis.UniversalClient, key, lease, holder string) error {
	return release.Run(ctx, c, []string{lease}, holder, s.channel(), key).Err()
}

// renew gives a lease a new TTL only while it still holds the caller's
// value, holder id and epoch: a lease that lapsed is gone from Redis, or
// holds another holder's value and a later epoch, and is not set again.
var renew = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)

// Lock takes the refresh lease of key as TakeLease does, and returns its
// Release.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// TakeLease takes the refresh lease of key for this Store's LeaseTTL,
// waiting while another holder has it, until ctx ends; then the error
// wraps ctx.Err().
//
// The Lease is an [oauthrt.FencedLease]: the take script increments the
// key's epoch counter, which never expires, and writes the epoch into the
// lease's value beside a random holder id. The lease's Renew sets the
// lease key's TTL again only while the key still holds that value; once
// the lease lapsed, or a later one was taken, Renew fails with an error
// wrapping [oauthrt.ErrLeaseLost]. Its Release deletes the lease if it is
// still this holder's, and then announces the release on the channel
// <p>released, so that waiting TakeLeaseIf calls ask again at once (see
// the package documentation). It may be called more than once and after
// the lease lapsed, and waits at most a few seconds. It reports no error:
// a lease it could not release lapses by itself after its TTL, and
// meanwhile other holders wait.
//
// The lease is the one the Store's Leases names (see LeaseLayout). Under
// LeasesMoving, TakeLease takes the lease of LeasesApart, then the one
// beside the token, and the Lease renews and releases both; its epoch is
// the second's, which the take script keeps at least at the first's.
func (s *Store) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	if err := s.checkLayout(); err != nil {
		return nil, err
	}
	ttl, err := lease.TTL("redisstore", s.LeaseTTL)
	if err != nil {
		return nil, err
	}
	if s.Leases != LeasesMoving {
		l, err := s.takeLease(ctx, c, key, s.leaseKeys(key), ttl, 0)
		if err != nil { // not a nil *fencedLease in a non-nil Lease
			return nil, err
		}
		return l, nil
	}
	apart, err := s.takeLease(ctx, c, key, s.apartLeaseKeys(key), ttl, 0)
	if err != nil {
		return nil, err
	}
	beside, err := s.takeLease(ctx, c, key, s.besideLeaseKeys(key), ttl, int64(apart.epoch))
	if err != nil {
		apart.Release()
		return nil, err
	}
	m, err := s.moving(ctx, c, key, apart, beside)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// takeLease takes the lease named keys[0], with the epoch counter
// keys[1], as TakeLease does, with the floor given to the take script
// (see takeLua; its start is the layout's, see Store.start).
func (s *Store) takeLease(ctx context.Context, c redis.UniversalClient, key string, keys []string, ttl time.Duration, floor int64) (*fencedLease, error) {
	holder := lease.NewHolder() + ":"
	ms := ttl.Milliseconds()
	var epoch int64
	uncertain := false
	err := lease.Wait(ctx, key, func(ctx context.Context) (bool, error) {
		e, err := s.runTake(ctx, c, keys, holder, ms, floor)
		if err != nil {
			// The script may have run before the error (a cancelled ctx,
			// a lost connection).
			uncertain = true
			return false, err
		}
		epoch = e
		return e > 0, nil
	})
	if err != nil {
		if uncertain {
			// So that no one waits a whole TTL for a lease nobody knows it
			// holds; the release deletes only this holder's.
			lease.Release(func(ctx context.Context) { _ = s.releaseLease(ctx, c, key, keys[0], holder) })()
		}
		return nil, err
	}
	return s.newLease(c, key, keys[0], holder, epoch, ttl), nil
}

// newLease returns the lease named leaseKey that the holder id holder
// (followed by ':') took of key with the epoch epoch, for ttl.
func (s *Store) newLease(c redis.UniversalClient, key, leaseKey, holder string, epoch int64, ttl time.Duration) *fencedLease {
	l := &fencedLease{store: s, client: c, key: key, name: leaseKey, holder: holder, epoch: uint64(epoch)}
	keys := []string{leaseKey}
	value, ms := holder+strconv.FormatInt(epoch, 10), ttl.Milliseconds()
	l.Lease = lease.New(key, ttl,
		func(ctx context.Context) (bool, error) {
			n, err := renew.Run(ctx, c, keys, value, ms).Int()
			if err != nil {
				return false, fmt.Errorf("oauthrt: redisstore: %w", err)
			}
			return n == 1, nil
		},
		func(ctx context.Context) {
			if l.settled.Load() {
				return // a script released it already
			}
			_ = s.releaseLease(ctx, c, key, leaseKey, holder) // on failure, the lease lapses
		})
	return l
}

// fencedLease is a lease with the epoch the take script gave it. It is
// also an [oauthrt.CommitReleaser] (see onetrip.go).
type fencedLease struct {
	oauthrt.Lease
	store  *Store
	client redis.UniversalClient
	key    string
	name   string // the lease's Redis key
	holder string // the holder id followed by ':'
	epoch  uint64
	// settled is set once a script has released the lease, or found it
	// no longer this holder's: Release then asks Redis nothing.
	settled atomic.Bool
}

var _ oauthrt.FencedLease = (*fencedLease)(nil)

// Epoch returns the lease's epoch: the value of the key's epoch counter
// that the take script incremented, at least 1.
func (l *fencedLease) Epoch() uint64 { return l.epoch }
