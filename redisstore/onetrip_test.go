package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// tripCounter is a go-redis hook that counts what a client sends: one per
// command, and one per pipeline (a pipeline is one round trip).
type tripCounter struct {
	mu   sync.Mutex
	sent []string
}

func (h *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (h *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		h.add("pipeline(" + strings.Join(names, " ") + ")")
		return next(ctx, cmds)
	}
}

func (h *tripCounter) add(name string) {
	h.mu.Lock()
	h.sent = append(h.sent, name)
	h.mu.Unlock()
}

// trips runs f and returns what the client sent meanwhile.
func (h *tripCounter) trips(f func()) []string {
	h.mu.Lock()
	h.sent = nil
	h.mu.Unlock()
	f()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

// refreshTrips takes a refresh of key through s as the Transport does with
// the one-trip capabilities (LoadSnapshot, TakeLeaseIf, Renew,
// CommitRelease), twice, so that the scripts are loaded on every node the
// second time, and checks the round trips of each call of the second:
// takeTrips for TakeLeaseIf over the stored token, changedTrips over
// another, commitTrips for CommitRelease.
func refreshTrips(t *testing.T, s *redisstore.Store, h *tripCounter, key string, takeTrips, changedTrips, commitTrips int) {
	t.Helper()
	ctx := context.Background()
	check := func(what string, want int, f func()) {
		t.Helper()
		if got := h.trips(f); len(got) != want {
			t.Errorf("%s sent %d commands %q, want %d", what, len(got), got, want)
		}
	}
	for round := range 2 {
		prev := &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", round), RefreshToken: fmt.Sprintf("rt-%d", round)}
		next := &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", round+1), RefreshToken: fmt.Sprintf("rt-%d", round+1)}
		if err := s.Save(ctx, key, prev); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveGrantState(ctx, key, oauthrt.GrantState{Failures: 1}); err != nil {
			t.Fatal(err)
		}
		var (
			snap oauthrt.Snapshot
			l    oauthrt.Lease
			err  error
		)
		trip := func(what string, want int, f func()) {
			t.Helper()
			if round == 0 {
				f()
				return
			}
			check(what, want, f)
		}
		trip("LoadSnapshot", 1, func() { snap, err = s.LoadSnapshot(ctx, key) })
		if err != nil || snap.Token.AccessToken != prev.AccessToken || snap.State.Failures != 1 {
			t.Fatalf("LoadSnapshot = %+v, %v", snap, err)
		}
		trip("TakeLeaseIf over another token", changedTrips, func() { l, snap, err = s.TakeLeaseIf(ctx, key, next) })
		if err != nil || l != nil || snap.Token.AccessToken != prev.AccessToken {
			t.Fatalf("TakeLeaseIf over another token = %v, %+v, %v", l, snap, err)
		}
		trip("TakeLeaseIf over the stored token", takeTrips, func() { l, snap, err = s.TakeLeaseIf(ctx, key, prev) })
		if err != nil || l == nil || snap.Token.AccessToken != prev.AccessToken || snap.State.Failures != 1 {
			t.Fatalf("TakeLeaseIf over the stored token = %v, %+v, %v", l, snap, err)
		}
		trip("Renew", 1, func() { err = l.Renew(ctx) })
		if err != nil {
			t.Fatalf("Renew: %v", err)
		}
		cr, ok := l.(oauthrt.CommitReleaser)
		if !ok {
			t.Fatalf("the lease is a %T, not an oauthrt.CommitReleaser", l)
		}
		trip("CommitRelease", commitTrips, func() { err = cr.CommitRelease(ctx, prev, next) })
		if err != nil {
			t.Fatalf("CommitRelease: %v", err)
		}
		trip("Release after CommitRelease", 0, l.Release)
		if got, err := s.Load(ctx, key); err != nil || got.AccessToken != next.AccessToken {
			t.Fatalf("after CommitRelease: Load = %v, %v", got, err)
		}
		if _, err := s.TakeLease(ctx, key); err != nil { // released: free
			t.Fatalf("TakeLease after CommitRelease: %v", err)
		}
		// Let it go at once, rather than in the next round's count.
		if err := s.Client.Del(ctx, s.Prefix+"lease:"+key).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRoundTrips counts the commands a refresh sends through the one-trip
// capabilities, on a single Redis: one each for LoadSnapshot,
// TakeLeaseIf, Renew and CommitRelease.
func TestRoundTrips(t *testing.T) {
	c := newClient(t)
	h := &tripCounter{}
	c.AddHook(h)
	s := &redisstore.Store{Client: c, Prefix: newPrefix(t, c), LeaseTTL: 10 * time.Second}
	refreshTrips(t, s, h, "k", 1, 1, 1)
}

// TestClusterRoundTrips counts the same commands on Redis Cluster: one
// each where a key's token and lease share a slot (a Prefix with a hash
// tag), and two for TakeLeaseIf and CommitRelease where they do not (the
// key names of the previous release), as the package documentation says;
// three for a TakeLeaseIf that finds another token there, as it takes the
// free lease before it reads the token, and then lets it go.
func TestClusterRoundTrips(t *testing.T) {
	c := newClusterClient(t)
	h := &tripCounter{}
	c.AddHook(h)
	base := newPrefix(t, c)
	ctx := context.Background()
	t.Run("one slot", func(t *testing.T) {
		prefix := base + "{slot}:"
		s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
		refreshTrips(t, s, h, "k", 1, 1, 1)
	})
	t.Run("two slots", func(t *testing.T) {
		s := &redisstore.Store{Client: c, Prefix: base, LeaseTTL: 10 * time.Second}
		for _, key := range spreadKeys(t, c, base) {
			ts, ls := c.ClusterKeySlot(ctx, base+"token:"+key).Val(), c.ClusterKeySlot(ctx, base+"lease:"+key).Val()
			if ts == ls {
				continue
			}
			refreshTrips(t, s, h, key, 2, 3, 2)
		}
	})
}

// TestTakeLeaseIfOldRelease covers tokens and leases of the previous
// release: a token without a fingerprint record is opened and compared
// by the Store (one round trip more), and a lease holding a bare holder id
// is waited for.
func TestTakeLeaseIfOldRelease(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	h := &tripCounter{}
	c.AddHook(h)
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	old := &oauth2.Token{AccessToken: "at-old", RefreshToken: "rt-old"}
	other := &oauth2.Token{AccessToken: "at-other", RefreshToken: "rt-old"}
	next := &oauth2.Token{AccessToken: "at-next", RefreshToken: "rt-next"}
	setOld := func() {
		t.Helper()
		if err := c.Set(ctx, prefix+"token:k", `{"access_token":"at-old","refresh_token":"rt-old"}`, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	setOld()
	// Load the scripts first, so that the counts below hold no EVAL.
	if l, _, err := s.TakeLeaseIf(ctx, "k", old); err != nil || l == nil {
		t.Fatalf("TakeLeaseIf over a token of the previous release = %v, %v", l, err)
	} else {
		l.Release()
	}

	var (
		l    oauthrt.Lease
		snap oauthrt.Snapshot
		err  error
	)
	if got := h.trips(func() { l, snap, err = s.TakeLeaseIf(ctx, "k", other) }); len(got) != 1 {
		t.Errorf("TakeLeaseIf over another token of the previous release sent %q, want one command", got)
	}
	if err != nil || l != nil || snap.Token == nil || snap.Token.AccessToken != "at-old" {
		t.Fatalf("TakeLeaseIf over another token of the previous release = %v, %+v, %v; want no lease and the token", l, snap, err)
	}
	if got := h.trips(func() { l, snap, err = s.TakeLeaseIf(ctx, "k", old) }); len(got) != 2 {
		t.Errorf("TakeLeaseIf over the token of the previous release sent %q, want two commands", got)
	}
	if err != nil || l == nil || snap.Token == nil || snap.Token.AccessToken != "at-old" {
		t.Fatalf("TakeLeaseIf over the token of the previous release = %v, %+v, %v; want the lease and the token", l, snap, err)
	}
	if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, old, next); err != nil {
		t.Fatalf("CommitRelease over the token of the previous release: %v", err)
	}
	if got, err := s.Load(ctx, "k"); err != nil || got.AccessToken != "at-next" {
		t.Errorf("after CommitRelease over the token of the previous release: Load = %v, %v", got, err)
	}
	if n := c.Exists(ctx, prefix+"lease:k").Val(); n != 0 {
		t.Error("CommitRelease over the token of the previous release left the lease")
	}

	// A conflict over a token of the previous release releases the lease
	// too.
	setOld()
	l, _, err = s.TakeLeaseIf(ctx, "k", old)
	if err != nil || l == nil {
		t.Fatalf("TakeLeaseIf over the token of the previous release = %v, %v", l, err)
	}
	// An old process saves another token, without a record.
	if err := c.Set(ctx, prefix+"token:k", `{"access_token":"at-other","refresh_token":"rt-old"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, old, next); !errors.Is(err, oauthrt.ErrCommitConflict) {
		t.Errorf("CommitRelease over another token of the previous release: err = %v, want ErrCommitConflict", err)
	}
	if n := c.Exists(ctx, prefix+"lease:k").Val(); n != 0 {
		t.Error("a CommitRelease that conflicted over a token of the previous release left the lease")
	}

	// A lease of the previous release: a bare holder id, taken with SET NX.
	setOld()
	if err := c.Set(ctx, prefix+"lease:k", "0123456789abcdef0123456789abcdef", 10*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	l, _, err = s.TakeLeaseIf(wait, "k", old)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		if l != nil {
			l.Release()
		}
		t.Errorf("TakeLeaseIf while an old process holds the lease: err = %v, want it to wait until its context ends", err)
	}
	if v := c.Get(ctx, prefix+"lease:k").Val(); v != "0123456789abcdef0123456789abcdef" {
		t.Errorf("the old process's lease holds %q after TakeLeaseIf gave up", v)
	}
}

// TestTakeLeaseIfUnreadable checks that TakeLeaseIf fails as Load does on a
// token that does not open, takes no lease, and leaves none behind.
func TestTakeLeaseIfUnreadable(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	if err := c.Set(ctx, prefix+"token:k", `{"refresh_token":"rt-secret"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, prev := range []*oauth2.Token{nil, {AccessToken: "at", RefreshToken: "rt-secret"}} {
		l, _, err := s.TakeLeaseIf(ctx, "k", prev)
		if l != nil {
			l.Release()
		}
		if !errors.Is(err, oauthrt.ErrCorruptToken) || strings.Contains(err.Error(), "secret") {
			t.Errorf("TakeLeaseIf over a corrupt token: err = %v, want ErrCorruptToken and no token", err)
		}
		if n := c.Exists(ctx, prefix+"lease:k").Val(); n != 0 {
			t.Error("TakeLeaseIf over a corrupt token left a lease")
		}
	}
}

// TestClusterOneTrip runs the one-trip capabilities on Redis Cluster, for
// keys on every master and keys holding braces, under prefixes with braces
// of their own: those that keep a key's token and lease in one slot, and
// those that do not.
func TestClusterOneTrip(t *testing.T) {
	c := newClusterClient(t)
	base := newPrefix(t, c)
	keys := append(spreadKeys(t, c, base), "", "{", "}", "{}", "{a}b", "\xff{\x00}")
	ctx := context.Background()
	for _, variant := range []string{"", "{app}:", "app{", "a{}b:"} {
		prefix := base + variant
		s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
		for i, key := range keys {
			name := fmt.Sprintf("prefix %q, key %d", variant, i)
			prev := &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1"}
			next := &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2"}
			if err := s.Save(ctx, key, prev); err != nil {
				t.Fatalf("%s: Save: %v", name, err)
			}
			l, snap, err := s.TakeLeaseIf(ctx, key, prev)
			if err != nil || l == nil || snap.Token.AccessToken != "at-1" {
				t.Errorf("%s: TakeLeaseIf = %v, %+v, %v", name, l, snap, err)
				continue
			}
			if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, prev, next); err != nil {
				t.Errorf("%s: CommitRelease: %v", name, err)
			}
			l2, snap, err := s.TakeLeaseIf(ctx, key, prev)
			if err != nil || l2 != nil || snap.Token.AccessToken != "at-2" {
				t.Errorf("%s: TakeLeaseIf after the commit = %v, %+v, %v", name, l2, snap, err)
			}
			free, err := s.TakeLease(ctx, key)
			if err != nil {
				t.Errorf("%s: TakeLease after CommitRelease: %v", name, err)
				continue
			}
			if free.(oauthrt.FencedLease).Epoch() <= l.(oauthrt.FencedLease).Epoch() {
				t.Errorf("%s: epoch %d after %d", name, free.(oauthrt.FencedLease).Epoch(), l.(oauthrt.FencedLease).Epoch())
			}
			free.Release()
		}
	}
}
