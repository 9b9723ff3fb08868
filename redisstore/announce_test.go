package redisstore_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// The tests of this file run a waiter (a TakeLeaseIf on one Store) for a
// lease that a second Store, on a client of its own as another process
// would be, holds, and check how the waiter learns of the release: from
// the announcement the releasing script publishes, in the count of
// commands the waiter sends (internal/tripcount). They never wait on a
// timer: each step waits for the one before it to be answered by Redis
// (see answers).

// waitFor bounds every wait of these tests for something that must
// happen: long enough for any machine, and never reached when the code
// works.
const waitFor = 20 * time.Second

// answersKey is the context key of an answers.
type answersKey struct{}

// answers counts the commands sent under a context that Redis has
// answered, and reports each on a channel: the test learns that a waiter
// has asked, and found the lease held, when its command is answered.
type answers struct {
	n  atomic.Int64
	ch chan struct{} // capacity 1: at least one answer since the last receive
}

// answerHook is a go-redis hook that counts each command's answer in the
// answers its context carries, if any.
type answerHook struct{}

func (answerHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (answerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if a, ok := ctx.Value(answersKey{}).(*answers); ok {
			a.n.Add(1)
			select {
			case a.ch <- struct{}{}:
			default:
			}
		}
		return err
	}
}

func (answerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A waiter is one TakeLeaseIf running in a goroutine of its own.
type waiter struct {
	sent    tripcount.Counter // the commands it sent
	answers answers
	cancel  context.CancelFunc
	done    chan waited
	out     *waited // once taken from done
}

// waited is what a TakeLeaseIf returned.
type waited struct {
	l    oauthrt.Lease
	snap oauthrt.Snapshot
	err  error
}

// startWait starts s.TakeLeaseIf(key, prev). s's client must count with
// tripcount.Hook and answerHook (see newWakeStore). When the test ends,
// the call is cancelled, waited for, and its lease released.
func startWait(t *testing.T, s *redisstore.Store, key string, prev *oauth2.Token) *waiter {
	t.Helper()
	w := &waiter{done: make(chan waited, 1)}
	w.answers.ch = make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	w.cancel = cancel
	ctx = context.WithValue(tripcount.WithCounter(ctx, &w.sent), answersKey{}, &w.answers)
	go func() {
		l, snap, err := s.TakeLeaseIf(ctx, key, prev)
		w.done <- waited{l, snap, err}
	}()
	t.Cleanup(func() {
		w.cancel()
		if r := w.result(t); r.l != nil {
			r.l.Release()
		}
	})
	return w
}

// answered waits until Redis has answered n of w's commands.
func (w *waiter) answered(t *testing.T, n int64) {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	for w.answers.n.Load() < n {
		select {
		case <-w.answers.ch:
		case <-timeout.C:
			t.Fatalf("the waiter had %d commands answered, want %d", w.answers.n.Load(), n)
		}
	}
}

// result waits for w's TakeLeaseIf to return, and returns what it
// returned.
func (w *waiter) result(t *testing.T) waited {
	t.Helper()
	if w.out == nil {
		r := <-w.done // bounded by the call's context
		w.out = &r
	}
	return *w.out
}

// A wakeBackend is a Redis to run the tests of this file on.
type wakeBackend struct {
	name   string
	client func(t *testing.T) redis.UniversalClient
	// prefix follows the test's fresh prefix: "{slot}:" keeps a key's
	// token and lease in one slot of a cluster.
	prefix string
	// split: the token and lease of the key "k" live in different slots,
	// and TakeLeaseIf sends two commands where it sends one elsewhere.
	split bool
}

var wakeBackends = []wakeBackend{
	{name: "node", client: func(t *testing.T) redis.UniversalClient { return newClient(t) }},
	{name: "cluster", client: func(t *testing.T) redis.UniversalClient { return newClusterClient(t) }, prefix: "{slot}:"},
}

// splitBackend is the cluster with the key names of the previous release,
// where "k"'s token and lease live in different slots.
var splitBackend = wakeBackend{name: "cluster, two slots", client: func(t *testing.T) redis.UniversalClient { return newClusterClient(t) }, split: true}

// A wakeSite is what the tests of this file share: a prefix, the test's
// own client, and the Store of the process that holds the lease.
type wakeSite struct {
	be     wakeBackend
	raw    redis.UniversalClient
	prefix string
	holder *redisstore.Store
}

func newWakeSite(t *testing.T, be wakeBackend) *wakeSite {
	t.Helper()
	raw := be.client(t)
	prefix := newPrefix(t, raw) + be.prefix
	if be.split {
		ctx := context.Background()
		if raw.ClusterKeySlot(ctx, prefix+"token:k").Val() == raw.ClusterKeySlot(ctx, prefix+"lease:k").Val() {
			t.Fatalf("the token and lease of k share a slot under %q", prefix)
		}
	}
	return &wakeSite{be: be, raw: raw, prefix: prefix, holder: &redisstore.Store{Client: be.client(t), Prefix: prefix, LeaseTTL: 10 * time.Second}}
}

// newWakeStore returns another process's Store on the site: a client of
// its own, whose commands count (tripcount.Hook, answerHook).
func (w *wakeSite) newWakeStore(t *testing.T) *redisstore.Store {
	t.Helper()
	c := w.be.client(t)
	var all tripcount.Counter
	c.AddHook(tripcount.Hook(&all))
	c.AddHook(answerHook{})
	warm(t, c)
	s := &redisstore.Store{Client: c, Prefix: w.prefix, LeaseTTL: 10 * time.Second}
	redisstore.SetWakeFallback(s, waitFor) // only an announcement wakes a waiter while the Board listens
	return s
}

// warm fills c's pool of connections (each node's, on a cluster) with more
// than the calls of a test use at once: a call that found the pool empty
// would set a connection up, and its setup commands would count among
// the call's.
func warm(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	const conns = 8
	fill := func(ctx context.Context, n *redis.Client) error {
		var held []*redis.Conn
		defer func() {
			for _, cn := range held {
				cn.Close() // back to the pool
			}
		}()
		for range conns {
			cn := n.Conn()
			held = append(held, cn)
			if err := cn.Ping(ctx).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachShard(context.Background(), fill)
	case *redis.Client:
		err = fill(context.Background(), c)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// channel names the site's channel of announcements.
func (w *wakeSite) channel() string { return w.prefix + "released" }

// take takes key's lease with the holder's TakeLeaseIf over prev.
func (w *wakeSite) take(t *testing.T, key string, prev *oauth2.Token) oauthrt.CommitReleaser {
	t.Helper()
	l, _, err := w.holder.TakeLeaseIf(context.Background(), key, prev)
	if err != nil || l == nil {
		t.Fatalf("the holder's TakeLeaseIf(%q) = %v, %v", key, l, err)
	}
	t.Cleanup(l.Release)
	return l.(oauthrt.CommitReleaser)
}

// listening makes s's Board listen, and keeps it listening until the
// test ends: a waiter of s on a key no one releases keeps it on, and a
// second one, on another key, proves that it hears announcements: it can
// only end by taking the token from one, published by hand again after
// each of its tries until it does. A waiter that starts after this
// returns then asks once, and is woken by the first announcement about
// its key, rather than by the Board becoming ready (which makes every
// waiter ask again, for what it may have missed).
func listening(t *testing.T, s *redisstore.Store) {
	t.Helper()
	ctx := context.Background()
	held := func(key string, tok *oauth2.Token) {
		t.Helper()
		if err := s.Save(ctx, key, tok); err != nil {
			t.Fatal(err)
		}
		l, err := s.TakeLease(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Release)
	}
	keepPrev := &oauth2.Token{AccessToken: "at-keep", RefreshToken: "rt-keep"}
	held("keep", keepPrev)
	keep := startWait(t, s, "keep", keepPrev) // cancelled, and waited for, before its lease is released
	keep.answered(t, 1)                       // registered with the Board, which now listens

	probePrev := &oauth2.Token{AccessToken: "at-probe-1", RefreshToken: "rt-probe-1"}
	held("probe", probePrev)
	value, err := tokencodec.Encode(&oauth2.Token{AccessToken: "at-probe-2", RefreshToken: "rt-probe-2"}, s.AEAD, "probe")
	if err != nil {
		t.Fatal(err)
	}
	probe := startWait(t, s, "probe", probePrev)
	for {
		select {
		case <-probe.answers.ch:
			if err := s.Client.Publish(ctx, s.Prefix+"released", "5:probe"+string(value)).Err(); err != nil {
				t.Fatal(err)
			}
			continue
		case r := <-probe.done:
			probe.out = &r
		}
		break
	}
	if r := probe.result(t); r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != "at-probe-2" {
		t.Fatalf("the probe's TakeLeaseIf = %v, %+v, %v; want the announced token", r.l, r.snap, r.err)
	}
}

// wakeTokens are a key's token before and after the holder's refresh.
func wakeTokens(key string) (prev, next *oauth2.Token) {
	return &oauth2.Token{AccessToken: "at-1-" + key, RefreshToken: "rt-1-" + key},
		&oauth2.Token{AccessToken: "at-2-" + key, RefreshToken: "rt-2-" + key}
}

// TestWakeByCommit checks that a waiter learns the token the holder
// committed from the announcement of the commit: it sends one command,
// the TakeLeaseIf that finds the lease held (two where the key's token
// and lease live in different slots of a cluster: there the commit is
// not announced, but the release is, without the token, and the waiter
// reads it, a third), and returns the holder's token with the zero grant
// state, as a try that read them would, sealed or not.
func TestWakeByCommit(t *testing.T) {
	cases := []struct {
		be    wakeBackend
		aead  bool
		first int64 // the waiter's commands before the commit
		sent  int64 // its commands in all
	}{
		{be: wakeBackends[0], first: 1, sent: 1},
		{be: wakeBackends[0], aead: true, first: 1, sent: 1},
		{be: wakeBackends[1], first: 1, sent: 1},
		{be: wakeBackends[1], aead: true, first: 1, sent: 1},
		{be: splitBackend, first: 2, sent: 3},
	}
	for _, tc := range cases {
		name := tc.be.name
		if tc.aead {
			name += ", sealed"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			site := newWakeSite(t, tc.be)
			s := site.newWakeStore(t)
			if tc.aead {
				aead := newAEAD(t)
				site.holder.AEAD, s.AEAD = aead, aead
			}
			prev, next := wakeTokens("k")
			if err := s.Save(ctx, "k", prev); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err != nil {
				t.Fatal(err)
			}
			l := site.take(t, "k", prev)
			// Load the waiter's scripts on the node of k, so that the count
			// holds no EVAL: a TakeLeaseIf over another token takes nothing.
			if l, _, err := s.TakeLeaseIf(ctx, "k", next); err != nil || l != nil {
				t.Fatalf("TakeLeaseIf over another token = %v, %v", l, err)
			}
			listening(t, s)

			w := startWait(t, s, "k", prev)
			w.answered(t, tc.first)
			if err := l.CommitRelease(ctx, prev, next); err != nil {
				t.Fatalf("CommitRelease: %v", err)
			}
			r := w.result(t)
			if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken || !r.snap.State.IsZero() {
				t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want no lease, the holder's token and no grant state", r.l, r.snap, r.err)
			}
			if n := w.sent.Trips(); n != tc.sent {
				t.Errorf("the waiter sent %d commands, want %d", n, tc.sent)
			}
		})
	}
}

// subscribe subscribes the test to the site's channel, and returns once
// Redis has confirmed it.
func (w *wakeSite) subscribe(t *testing.T) *redis.PubSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ps := w.raw.Subscribe(ctx, w.channel())
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.ReceiveTimeout(ctx, waitFor); err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestWakeByRelease checks that a release without a commit is announced
// with the key alone, and wakes the waiter, which asks again and takes
// the lease: two commands.
func TestWakeByRelease(t *testing.T) {
	for _, be := range wakeBackends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			site := newWakeSite(t, be)
			s := site.newWakeStore(t)
			prev, next := wakeTokens("k")
			if err := s.Save(ctx, "k", prev); err != nil {
				t.Fatal(err)
			}
			l := site.take(t, "k", prev)
			if l, _, err := s.TakeLeaseIf(ctx, "k", next); err != nil || l != nil {
				t.Fatalf("TakeLeaseIf over another token = %v, %v", l, err)
			}
			listening(t, s)
			ps := site.subscribe(t)

			w := startWait(t, s, "k", prev)
			w.answered(t, 1)
			l.Release()
			msg, err := ps.ReceiveTimeout(ctx, waitFor)
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := msg.(*redis.Message); !ok || m.Payload != "1:k" {
				t.Errorf("the release was announced as %v, want the payload %q", msg, "1:k")
			}
			r := w.result(t)
			if r.err != nil || r.l == nil || r.snap.Token == nil || r.snap.Token.AccessToken != prev.AccessToken {
				t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want the lease", r.l, r.snap, r.err)
			}
			if e, held := r.l.(oauthrt.FencedLease).Epoch(), l.(oauthrt.FencedLease).Epoch(); e <= held {
				t.Errorf("the waiter's lease has epoch %d, after %d", e, held)
			}
			if n := w.sent.Trips(); n != 2 {
				t.Errorf("the waiter sent %d commands, want 2", n)
			}
		})
	}
}

// TestWakeOtherKey checks that an announcement about one key wakes the
// waiters of that key only: a waiter for another key, parked when it
// comes, is not handed it (it would take the other key's token, or ask
// again), and learns its own key's token from its own announcement in
// one command.
func TestWakeOtherKey(t *testing.T) {
	for _, be := range wakeBackends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			site := newWakeSite(t, be)
			s := site.newWakeStore(t)
			prev, next := wakeTokens("k")
			otherPrev, otherNext := wakeTokens("other")
			for key, tok := range map[string]*oauth2.Token{"k": prev, "other": otherPrev} {
				if err := s.Save(ctx, key, tok); err != nil {
					t.Fatal(err)
				}
			}
			l, lOther := site.take(t, "k", prev), site.take(t, "other", otherPrev)
			if l, _, err := s.TakeLeaseIf(ctx, "k", next); err != nil || l != nil {
				t.Fatalf("TakeLeaseIf over another token = %v, %v", l, err)
			}
			listening(t, s)

			w := startWait(t, s, "k", prev)
			wOther := startWait(t, s, "other", otherPrev)
			w.answered(t, 1)
			wOther.answered(t, 1)
			if err := lOther.CommitRelease(ctx, otherPrev, otherNext); err != nil {
				t.Fatalf("CommitRelease of the other key: %v", err)
			}
			// The Board handed the announcement to the other key's waiters,
			// and would have handed it to w in the same step.
			if r := wOther.result(t); r.err != nil || r.snap.Token == nil || r.snap.Token.AccessToken != otherNext.AccessToken {
				t.Fatalf("the other key's waiter = %v, %+v, %v; want its holder's token", r.l, r.snap, r.err)
			}
			if err := l.CommitRelease(ctx, prev, next); err != nil {
				t.Fatalf("CommitRelease: %v", err)
			}
			r := w.result(t)
			if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken {
				t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want no lease and its holder's token", r.l, r.snap, r.err)
			}
			if n := w.sent.Trips(); n != 1 {
				t.Errorf("the waiter sent %d commands, want 1: the other key's announcement woke it", n)
			}
		})
	}
}

// TestWakeMalformed publishes by hand, on the Store's channel, payloads
// that are not announcements, and an announcement about the waiter's key
// on another Prefix's channel: the waiter ignores them all (it sends no
// command), and nothing panics. An announcement whose token does not open
// makes it ask again, as a hint does; its holder's commit then ends its
// wait.
func TestWakeMalformed(t *testing.T) {
	for _, be := range wakeBackends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			site := newWakeSite(t, be)
			s := site.newWakeStore(t)
			prev, next := wakeTokens("k")
			if err := s.Save(ctx, "k", prev); err != nil {
				t.Fatal(err)
			}
			l := site.take(t, "k", prev)
			if l, _, err := s.TakeLeaseIf(ctx, "k", next); err != nil || l != nil {
				t.Fatalf("TakeLeaseIf over another token = %v, %v", l, err)
			}
			listening(t, s)
			value, err := tokencodec.Encode(next, nil, "k")
			if err != nil {
				t.Fatal(err)
			}

			w := startWait(t, s, "k", prev)
			w.answered(t, 1)
			publish := func(channel, payload string) {
				t.Helper()
				if err := site.raw.Publish(ctx, channel, payload).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []string{
				"", ":", "k", "1", "1:", ":k", "2:k", "x:k", "-1:k", "+1:k", " 1:k",
				"01:k", "00:k", "1.0:k", "1e0:k", "0x1:k", "\uff11:k", "\x00:k",
				"999999999:k", "9999999999:k", "99999999999999999999:k",
				strings.Repeat("1", 1000) + ":k", "1:" + strings.Repeat("\xff", 3),
			} {
				publish(site.channel(), p)
			}
			publish(site.prefix+"x:released", "1:k"+string(value))
			publish(site.prefix+"released:", "1:k"+string(value))
			publish(site.channel(), "1:knot a token")
			w.answered(t, 2) // woken by the last: asked again
			if err := l.CommitRelease(ctx, prev, next); err != nil {
				t.Fatalf("CommitRelease: %v", err)
			}
			r := w.result(t)
			if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken {
				t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want no lease and the holder's token", r.l, r.snap, r.err)
			}
			if n := w.sent.Trips(); n != 2 {
				t.Errorf("the waiter sent %d commands, want 2: one at first, one after the token that does not open", n)
			}
		})
	}
}

// TestAnnounceForbidden runs the holder as a Redis user that may run the
// scripts and touch every key, but may neither publish nor subscribe (an
// ACL with no channel): its commits and releases succeed all the same,
// and the waiters, one of the same user (which cannot listen) and one of
// the default user (which listens, and hears nothing), learn the token by
// asking again.
func TestAnnounceForbidden(t *testing.T) {
	for _, be := range append(wakeBackends, splitBackend) {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			site := newWakeSite(t, be)
			user, password := "oauthrt-test-"+randomHex(t), randomHex(t)
			acl := func(args ...any) error {
				switch c := site.raw.(type) {
				case *redis.ClusterClient:
					return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
						return n.Do(ctx, args...).Err()
					})
				default:
					return c.Do(ctx, args...).Err()
				}
			}
			if err := acl("ACL", "SETUSER", user, "on", ">"+password, "~*", "+@all", "resetchannels"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := acl("ACL", "DELUSER", user); err != nil {
					t.Errorf("deleting the ACL user: %v", err)
				}
			})
			restricted := func() redis.UniversalClient {
				var c redis.UniversalClient
				if _, ok := site.raw.(*redis.ClusterClient); ok {
					c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(os.Getenv("OAUTHRT_TEST_REDIS_CLUSTER"), ","), Username: user, Password: password})
				} else {
					c = redis.NewClient(&redis.Options{Addr: os.Getenv("OAUTHRT_TEST_REDIS"), Username: user, Password: password})
				}
				t.Cleanup(func() { c.Close() })
				var all tripcount.Counter
				c.AddHook(tripcount.Hook(&all))
				c.AddHook(answerHook{})
				warm(t, c)
				return c
			}
			site.holder.Client = restricted()
			if err := site.holder.Client.Publish(ctx, site.channel(), "1:k").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Fatalf("PUBLISH as the restricted user: err = %v, want NOPERM", err)
			}
			deaf := &redisstore.Store{Client: restricted(), Prefix: site.prefix, LeaseTTL: 10 * time.Second}
			listener := site.newWakeStore(t)
			redisstore.SetWakeFallback(listener, 0) // nothing is announced: its fallback pause must end its wait
			listening(t, listener)

			prev, next := wakeTokens("k")
			if err := site.holder.Save(ctx, "k", prev); err != nil {
				t.Fatal(err)
			}
			l := site.take(t, "k", prev)
			first := int64(1)
			if be.split {
				first = 2
			}
			wDeaf, wListener := startWait(t, deaf, "k", prev), startWait(t, listener, "k", prev)
			wDeaf.answered(t, first)
			wListener.answered(t, first)
			if err := l.CommitRelease(ctx, prev, next); err != nil {
				t.Fatalf("CommitRelease as a user that may not publish: %v", err)
			}
			for name, w := range map[string]*waiter{"the restricted user's": wDeaf, "the listening": wListener} {
				r := w.result(t)
				if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken {
					t.Errorf("%s waiter = %v, %+v, %v; want no lease and the holder's token", name, r.l, r.snap, r.err)
				}
				if n := w.sent.Trips(); n <= first {
					t.Errorf("%s waiter sent %d commands, want more than %d: it cannot have heard an announcement", name, n, first)
				}
			}
			if n := site.raw.Exists(ctx, site.prefix+"lease:k").Val(); n != 0 {
				t.Error("CommitRelease as a user that may not publish left the lease")
			}

			// A plain release, and the release of a lease a conditional
			// take found it did not need (on a cluster, with two slots).
			l2, _, err := site.holder.TakeLeaseIf(ctx, "k", next)
			if err != nil || l2 == nil {
				t.Fatalf("TakeLeaseIf after the commit = %v, %v", l2, err)
			}
			l2.Release()
			if n := site.raw.Exists(ctx, site.prefix+"lease:k").Val(); n != 0 {
				t.Error("Release as a user that may not publish left the lease")
			}
			if l3, _, err := site.holder.TakeLeaseIf(ctx, "k", prev); err != nil || l3 != nil {
				t.Fatalf("TakeLeaseIf over another token = %v, %v", l3, err)
			}
			if n := site.raw.Exists(ctx, site.prefix+"lease:k").Val(); n != 0 {
				t.Error("TakeLeaseIf over another token, as a user that may not publish, left a lease")
			}
		})
	}
}

// TestAnnounceLargeValue checks that a token value longer than an
// announcement carries (64 KiB) is announced without it: the waiter asks
// again, and reads it.
func TestAnnounceLargeValue(t *testing.T) {
	ctx := context.Background()
	site := newWakeSite(t, wakeBackends[0])
	s := site.newWakeStore(t)
	prev, next := wakeTokens("k")
	next.AccessToken = strings.Repeat("a", 64<<10)
	if err := s.Save(ctx, "k", prev); err != nil {
		t.Fatal(err)
	}
	l := site.take(t, "k", prev)
	if l, _, err := s.TakeLeaseIf(ctx, "k", next); err != nil || l != nil {
		t.Fatalf("TakeLeaseIf over another token = %v, %v", l, err)
	}
	listening(t, s)
	ps := site.subscribe(t)

	w := startWait(t, s, "k", prev)
	w.answered(t, 1)
	if err := l.CommitRelease(ctx, prev, next); err != nil {
		t.Fatalf("CommitRelease: %v", err)
	}
	msg, err := ps.ReceiveTimeout(ctx, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := msg.(*redis.Message); !ok {
		t.Errorf("the test's subscription read a %T, want a message", msg)
	} else if m.Payload != "1:k" {
		t.Errorf("the commit of a large token was announced with %d bytes, want the payload %q", len(m.Payload), "1:k")
	}
	r := w.result(t)
	if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken {
		t.Fatalf("the waiter's TakeLeaseIf = %v, %v; want no lease and the holder's token", r.l, r.err)
	}
	if n := w.sent.Trips(); n != 2 {
		t.Errorf("the waiter sent %d commands, want 2", n)
	}
}
