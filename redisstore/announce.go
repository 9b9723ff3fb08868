package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"
	"weak"

	"github.com/oauthrt/oauthrt/internal/lease"
	"github.com/redis/go-redis/v9"
)

// A TakeLeaseIf that finds the lease held learns of its release from the
// announcement that the releasing script PUBLISHes on the Store's
// channel, rather than by asking again on a timer; the package
// documentation ("Announced releases") gives the channel, the payload and
// the permissions. This file holds both ends: the Lua that announces, and
// the listener that hears the announcements for a Store's Board
// (internal/lease), which wakes the Store's waiters.
//
// Announcing is a hint, and must never fail a commit or a release: the
// PUBLISH goes through redis.pcall, which hands a refusal (an ACL without
// the channel) back to the script instead of aborting it, and the script
// ignores it. Waiters then find the release by asking again after a
// pause, as they do when nobody announces it at all (a lease that lapsed,
// a process of the previous release).

// maxAnnounced bounds the token value an announcement carries. Tokens
// take a few kilobytes; a value longer than this is announced without
// it, and the waiters read it from the token key, so that no
// announcement comes near the output buffer limit Redis sets on its
// subscribers (client-output-buffer-limit pubsub: by default 32 MB, or
// 8 MB for a minute).
const maxAnnounced = 64 << 10

// announceLua defines announce(channel, key, value), which publishes the
// announcement of the release of key's lease on channel, with the value
// committed under it ("" for none). A refused PUBLISH is ignored.
var announceLua = `
local function announce(channel, key, value)
	if #value > ` + strconv.Itoa(maxAnnounced) + ` then
		value = ""
	end
	redis.pcall("PUBLISH", channel, string.format("%d:", #key) .. key .. value)
end
`

// channel names the pub/sub channel of the Store's announcements: one
// per Prefix, so that Stores that keep their keys apart do not wake each
// other.
func (s *Store) channel() string { return s.prefix() + "released" }

// parseAnnouncement reads an announcement's payload: the store key, and
// the token value committed under the lease, or nil. ok is false when
// the payload is not an announcement, whoever published it: the length
// must be plain decimal digits, without a sign or a leading zero, and
// the payload must hold at least that many bytes after the ':'.
func parseAnnouncement(p string) (key string, value []byte, ok bool) {
	n := 0
	i := 0
	for ; i < len(p) && p[i] != ':'; i++ {
		c := p[i]
		if c < '0' || c > '9' || i == 9 || (i == 1 && p[0] == '0') {
			// Nine digits exceed any key Redis can hold (512 MB),
			// and cannot overflow n where an int has 32 bits.
			return "", nil, false
		}
		n = n*10 + int(c-'0')
	}
	if i == 0 || i == len(p) || n > len(p)-i-1 {
		return "", nil, false
	}
	rest := p[i+1:]
	if len(rest) > n {
		value = []byte(rest[n:])
	}
	return rest[:n], value, true
}

// boards holds each Store's Board, by a weak pointer to the Store, and
// loses it when the Store is collected. It is not a field of Store, for
// the reason that sqlstore's row memories are not (see sqlstore's
// memories): Store's String has a value receiver, whose copy would copy
// the Board's mutex. A Board refers to its Store's client, never to the
// Store, so that it does not keep the Store alive.
var boards sync.Map // weak.Pointer[Store] → *lease.Board

// board returns the Board that wakes the Store's waiters when a lease is
// announced released, creating it at the first call. c is the Store's
// client, and must not change afterwards (see Store).
func (s *Store) board(c redis.UniversalClient) *lease.Board {
	k := weak.Make(s)
	if b, ok := boards.Load(k); ok {
		return b.(*lease.Board)
	}
	b, loaded := boards.LoadOrStore(k, &lease.Board{Listen: listener(c, s.channel())})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Store]) { boards.Delete(k) }, k)
	}
	return b.(*lease.Board)
}

// listenCheck is how long a listener waits for a message before it asks
// Redis, with a PING, whether its connection is still alive; one more
// without an answer, and it gives up (its Board listens again later). A
// connection that died without a word would otherwise leave the Board
// deaf, and its waiters asking only after their fallback pause.
const listenCheck = 15 * time.Second

// listener returns the Listen of a Board: it subscribes with c to
// channel, and hands the Board each announcement it reads there. Only a
// *redis.Client (a single node, or a Sentinel failover client) and a
// *redis.ClusterClient (whose nodes forward a PUBLISH to every other)
// can hear every announcement: a Ring subscribes on the shard that its
// hash of the channel's name picks, while a script publishes on the
// shard of its keys. Any other client makes Listen fail with an error
// wrapping errors.ErrUnsupported, and the Board's waiters poll.
func listener(c redis.UniversalClient, channel string) func(context.Context, func(), func(string, []byte)) error {
	return func(ctx context.Context, ready func(), announce func(key string, value []byte)) error {
		switch c.(type) {
		case *redis.Client, *redis.ClusterClient:
		default:
			return fmt.Errorf("oauthrt: redisstore: a %T cannot subscribe to the announcements of released leases: %w", c, errors.ErrUnsupported)
		}
		ps := c.Subscribe(ctx) // no channel yet, so that Subscribe's error is ours to see
		defer ps.Close()
		// A read in progress does not watch ctx: closing the
		// subscription ends it.
		defer context.AfterFunc(ctx, func() { ps.Close() })()
		if err := ps.Subscribe(ctx, channel); err != nil {
			return listenError(ctx, err)
		}
		var lost, pinged bool
		for {
			msg, err := ps.ReceiveTimeout(ctx, listenCheck)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				var rerr redis.Error
				var nerr net.Error
				switch {
				case errors.As(err, &rerr) || lost || pinged:
					// Redis refused (an ACL that allows no channel, say),
					// or the connection failed again, or the PING went
					// unanswered.
					return listenError(ctx, err)
				case errors.As(err, &nerr) && nerr.Timeout():
					pinged = true
					_ = ps.Ping(ctx) // answered by a Pong, which Receive reads; a failure shows there too
				default:
					// The connection failed: go-redis has dialled again
					// and subscribed anew, and its confirmation, read
					// next, makes the Board ask again for what it
					// missed meanwhile.
					lost = true
				}
				continue
			}
			lost, pinged = false, false
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" && m.Channel == channel {
					ready()
				}
			case *redis.Message:
				if m.Channel != channel {
					continue
				}
				if key, value, ok := parseAnnouncement(m.Payload); ok {
					announce(key, value)
				}
			}
		}
	}
}

// listenError is the error of a listener that failed with err.
func listenError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("oauthrt: redisstore: listening for released leases: %w", err)
}
