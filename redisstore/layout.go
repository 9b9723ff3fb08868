package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// A LeaseLayout says where a [Store] keeps each key's refresh lease, and
// so whether, on Redis Cluster, the lease shares its token's hash slot.
// Every process of a fleet must use one layout, or two adjacent ones
// (LeasesApart with LeasesMoving, or LeasesMoving with LeasesBeside):
// processes on LeasesApart and LeasesBeside do not exclude each other,
// and could both present one refresh token. To move a running fleet from
// LeasesApart to LeasesBeside, move every process to LeasesMoving first,
// and only once none runs on LeasesApart, to LeasesBeside.
//
// On a single node the layouts differ only in key names: every script
// there may touch any key, and a refresh costs two round trips with any
// of them.
type LeaseLayout int

const (
	// LeasesApart, the zero LeaseLayout, names a key's lease
	// <p>lease:<k>, as the releases before LeaseLayout did. On Redis
	// Cluster its slot is not its token's: TakeLeaseIf and CommitRelease
	// cost two round trips each there, and a waiter asks twice.
	LeasesApart LeaseLayout = iota
	// LeasesMoving takes, renews and releases both leases: the one
	// LeasesApart names and the one LeasesBeside names, the former first.
	// It excludes processes on either, and is the step between them. A
	// refresh costs two round trips more than under LeasesBeside (the
	// other lease's take and release), and its TakeLeaseIf waits for the
	// lease of LeasesApart before it reads the token. The epoch of its leases is that of the lease beside the
	// token, which it keeps at least at that of the other, so that epochs
	// grow whichever of the three layouts took the leases before.
	LeasesMoving
	// LeasesBeside names a key's lease <p>{<t>}tlease:<k>, with its epoch
	// counter <p>{<t>}tepoch:<k>, in its token's hash slot (see the
	// package documentation): on Redis Cluster TakeLeaseIf and
	// CommitRelease are one script each, as on a single node, and a
	// waiter learns the new token from the announcement. The first lease
	// of a key beside its token, unless one of LeasesMoving came first,
	// has an epoch above 2^40: above any that LeasesApart can have given,
	// so that epochs keep growing across the move.
	LeasesBeside
)

// String returns the constant's name, or LeaseLayout(n) for another value.
func (l LeaseLayout) String() string {
	switch l {
	case LeasesApart:
		return "LeasesApart"
	case LeasesMoving:
		return "LeasesMoving"
	case LeasesBeside:
		return "LeasesBeside"
	}
	return fmt.Sprintf("LeaseLayout(%d)", int(l))
}

// checkLayout returns an error when s.Leases is no LeaseLayout.
func (s *Store) checkLayout() error {
	if s.Leases < LeasesApart || s.Leases > LeasesBeside {
		return fmt.Errorf("oauthrt: redisstore: Store.Leases is %v, not one of LeasesApart, LeasesMoving and LeasesBeside", s.Leases)
	}
	return nil
}

// apartLeaseKeys names the lease of key under LeasesApart, and its epoch
// counter.
func (s *Store) apartLeaseKeys(key string) []string {
	p := s.prefix()
	lease := p + "lease:" + key
	return []string{lease, companion(p, "epoch:", key, lease)}
}

// besideLeaseKeys names the lease of key under LeasesBeside, and its
// epoch counter, in the slot of its token.
func (s *Store) besideLeaseKeys(key string) []string {
	p, token := s.prefix(), s.tokenKey(key)
	return []string{companion(p, "tlease:", key, token), companion(p, "tepoch:", key, token)}
}

// besideStart is the least epoch of a key's first lease beside its
// token, when no lease of LeasesMoving took one there before: above any
// epoch the counter of LeasesApart can have reached (a lease a second
// for thirty thousand years), so that epochs keep growing across a move
// without reading that counter, which lives in another slot. Lua's
// numbers hold it exactly, and print it in full.
const besideStart = 1 << 40

// start returns the start the take script is given (see takeLua):
// besideStart under LeasesBeside; 0 under LeasesApart, whose counter is
// the one epochs always grew in, and under LeasesMoving, which holds the
// lease of LeasesApart as it takes the one beside the token, and gives
// its epoch as the floor.
func (s *Store) start() int64 {
	if s.Leases == LeasesBeside {
		return besideStart
	}
	return 0
}

// runTake runs the take script over keys (a lease and its epoch
// counter) for holder, with the floor given. It returns the epoch, or 0
// when the lease is held.
func (s *Store) runTake(ctx context.Context, c redis.UniversalClient, keys []string, holder string, ms, floor int64) (int64, error) {
	e, err := take.Run(ctx, c, keys, holder, ms, floor, s.start()).Int64()
	if err != nil {
		return 0, fmt.Errorf("oauthrt: redisstore: %w", err)
	}
	return e, nil
}

// raise sets an epoch counter to ARGV[1] when it holds less (or does not
// exist). KEYS: the counter.
var raise = redis.NewScript(`
local n = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
if n < tonumber(ARGV[1]) then
	redis.call("SET", KEYS[1], ARGV[1])
end
return 1
`)

// moving returns the lease of LeasesMoving made of apart, the lease of
// LeasesApart, and beside, taken after it with apart's epoch as its
// floor. When beside's epoch is above apart's (leases beside the token
// were taken without it: processes on LeasesBeside, before a move back),
// the counter of LeasesApart is raised to it, so that the next lease a
// process of LeasesApart takes is above it too. apart is held
// meanwhile, so no one else moves that counter.
func (s *Store) moving(ctx context.Context, c redis.UniversalClient, key string, apart, beside *fencedLease) (*movingLease, error) {
	if beside.epoch > apart.epoch {
		if err := raise.Run(ctx, c, s.apartLeaseKeys(key)[1:], beside.epoch).Err(); err != nil {
			beside.Release()
			apart.Release()
			return nil, fmt.Errorf("oauthrt: redisstore: raising the epoch counter of key %q: %w", key, err)
		}
	}
	return &movingLease{fencedLease: beside, apart: apart}, nil
}

// A movingLease is a lease of LeasesMoving: the lease beside the token,
// which TakeLeaseIf took with the token and CommitRelease releases with
// the commit, and the lease of LeasesApart, taken before it and let go
// after it. Its Epoch is the former's, which the take script kept at
// least at the latter's: above every epoch before it on either counter,
// and below the next one that a process of LeasesApart takes.
type movingLease struct {
	*fencedLease
	apart *fencedLease
}

// Renew renews both leases, and fails as soon as one of them fails.
func (m *movingLease) Renew(ctx context.Context) error {
	if err := m.fencedLease.Renew(ctx); err != nil {
		return err
	}
	return m.apart.Renew(ctx)
}

// Release releases both leases, the one beside the token first.
func (m *movingLease) Release() {
	m.fencedLease.Release()
	m.apart.Release()
}

// CommitRelease commits as the lease beside the token does, then lets go
// of the lease of LeasesApart when that one was let go of: after a
// commit or a conflict. After any other error both stay as they may be,
// so that no process of LeasesApart takes its lease while the refreshed
// token may still be unsaved.
func (m *movingLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	err := m.fencedLease.CommitRelease(ctx, prev, tok)
	if err == nil || errors.Is(err, oauthrt.ErrCommitConflict) {
		m.apart.Release()
	}
	return err
}
