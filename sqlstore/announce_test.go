package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/oauthrt/oauthrt/sqlstore/pglisten"
	"golang.org/x/oauth2"
)

// The tests of this file run a waiter (a TakeLeaseIf on one Store, with
// a Listener) for a lease that a second Store, on a handle of its own as
// another process would be, holds on PostgreSQL, and check how the
// waiter learns of the release: from the notification the releasing
// statement sends, in the count of statements the waiter runs
// (internal/tripcount). They never wait on a timer: each step waits for
// the one before it to be answered by the database.

// waitFor bounds every wait of these tests for something that must
// happen: long enough for any machine, and never reached when the code
// works.
const waitFor = 20 * time.Second

// A pgSite is what the tests of this file share: a PostgreSQL, a table,
// and the Store of the process that holds the lease.
type pgSite struct {
	db     testDB
	table  string
	holder *sqlstore.Store
}

func newPGSite(t *testing.T) *pgSite {
	t.Helper()
	db := openPostgres(t)
	table := newTable(t, db)
	return &pgSite{db: db, table: table, holder: &sqlstore.Store{DB: db.handles(t, 1)[0], Table: table, LeaseTTL: time.Minute}}
}

// newWaitStore returns another process's Store on the site, on a handle
// whose statements count, with a Listener when listen is set.
func (p *pgSite) newWaitStore(t *testing.T, listen bool) *sqlstore.Store {
	t.Helper()
	cdb, _ := openCounted(t, p.db)
	s := &sqlstore.Store{DB: cdb, Table: p.table, LeaseTTL: time.Minute}
	if listen {
		s.Listener = pglisten.New(cdb)
		sqlstore.SetWakeFallback(s, waitFor) // only a notification wakes a waiter while the Board listens
	}
	return s
}

// take takes key's lease with the holder's TakeLeaseIf over prev.
func (p *pgSite) take(t *testing.T, key string, prev *oauth2.Token) oauthrt.CommitReleaser {
	t.Helper()
	l, _, err := p.holder.TakeLeaseIf(context.Background(), key, prev)
	if err != nil || l == nil {
		t.Fatalf("the holder's TakeLeaseIf(%q) = %v, %v", key, l, err)
	}
	t.Cleanup(l.Release)
	return l.(oauthrt.CommitReleaser)
}

// notify sends payload on the site's channel, as anyone who may connect
// to the database may.
func (p *pgSite) notify(t *testing.T, payload string) {
	t.Helper()
	if _, err := p.db.Exec(`SELECT pg_notify($1, $2)`, sqlstore.Channel(p.table), payload); err != nil {
		t.Fatal(err)
	}
}

// A rawListener is the test's own LISTEN on the site's channel.
type rawListener struct{ c *pgx.Conn }

func (p *pgSite) listen(t *testing.T) *rawListener {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, p.db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{sqlstore.Channel(p.table)}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return &rawListener{c}
}

// next returns the payload of the next notification.
func (r *rawListener) next(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	n, err := r.c.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n.Payload
}

// A waiter is one TakeLeaseIf running in a goroutine of its own.
type waiter struct {
	sent   tripcount.Counter // the statements it ran, counted once answered
	cancel context.CancelFunc
	done   chan waited
	out    *waited // once taken from done
}

// waited is what a TakeLeaseIf returned.
type waited struct {
	l    oauthrt.Lease
	snap oauthrt.Snapshot
	err  error
}

// startWait starts s.TakeLeaseIf(key, prev), on a Store of newWaitStore.
// When the test ends, the call is cancelled, waited for, and its lease
// released.
func startWait(t *testing.T, s *sqlstore.Store, key string, prev *oauth2.Token) *waiter {
	t.Helper()
	return start(t, func(ctx context.Context) waited {
		l, snap, err := s.TakeLeaseIf(ctx, key, prev)
		return waited{l, snap, err}
	})
}

func start(t *testing.T, call func(context.Context) waited) *waiter {
	t.Helper()
	w := &waiter{done: make(chan waited, 1)}
	w.sent.Signal() // from now on
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	w.cancel = cancel
	ctx = tripcount.WithCounter(ctx, &w.sent)
	go func() { w.done <- call(ctx) }()
	t.Cleanup(func() {
		w.cancel()
		if r := w.result(t); r.l != nil {
			r.l.Release()
		}
	})
	return w
}

// answered waits until the database has answered n of w's statements.
func (w *waiter) answered(t *testing.T, n int64) {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	for w.sent.Trips() < n {
		select {
		case <-w.sent.Signal():
		case <-timeout.C:
			t.Fatalf("the waiter had %d statements answered, want %d", w.sent.Trips(), n)
		}
	}
}

// result waits for w's call to return, and returns what it returned.
func (w *waiter) result(t *testing.T) waited {
	t.Helper()
	if w.out == nil {
		r := <-w.done // bounded by the call's context
		w.out = &r
	}
	return *w.out
}

// listening makes s's Board listen, and keeps it listening until the
// test ends: a waiter of s on a key no one releases keeps it on, and a
// second one, on another key, proves that it hears notifications: it
// can only end by taking the token from one, sent by hand again after
// each of its statements until it does. A waiter that starts after this
// returns then asks once, and is woken by the first notification about
// its key, rather than by the Board becoming ready (which makes every
// waiter ask again, for what it may have missed).
func (p *pgSite) listening(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	listening(t, p.holder, s, func(payload string) { p.notify(t, payload) })
}

// listening is pgSite.listening for any database, whose holder Store is
// holder: notify sends a payload as the database's releases are
// announced.
func listening(t *testing.T, holder, s *sqlstore.Store, notify func(payload string)) {
	t.Helper()
	ctx := context.Background()
	held := func(key string, tok *oauth2.Token) {
		t.Helper()
		if err := holder.Save(ctx, key, tok); err != nil {
			t.Fatal(err)
		}
		l, err := holder.TakeLease(ctx, key)
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
	b, err := tokencodec.Encode(&oauth2.Token{AccessToken: "at-probe-2", RefreshToken: "rt-probe-2"}, s.AEAD, "probe")
	if err != nil {
		t.Fatal(err)
	}
	payload := sqlstore.Announcement("probe", probePrev, b)
	probe := startWait(t, s, "probe", probePrev)
	for {
		select {
		case <-probe.sent.Signal():
			notify(payload)
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

// TestAnnounceWakeByCommit checks that a waiter learns the token the
// holder committed from the notification of the commit: it runs one
// statement, the TakeLeaseIf that finds the lease held, and returns the
// holder's token with the zero grant state (the commit cleared it), as a
// try that read them would, sealed at rest or not.
func TestAnnounceWakeByCommit(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		name := "plain"
		if sealed {
			name = "sealed"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			site := newPGSite(t)
			s := site.newWaitStore(t, true)
			if sealed {
				aead := newAEAD(t)
				site.holder.AEAD, s.AEAD = aead, aead
			}
			prev, next := tokenN(1), tokenN(2)
			if err := s.Save(ctx, "k", prev); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err != nil {
				t.Fatal(err)
			}
			l := site.take(t, "k", prev)
			site.listening(t, s)

			w := startWait(t, s, "k", prev)
			w.answered(t, 1)
			if err := l.CommitRelease(ctx, prev, next); err != nil {
				t.Fatalf("CommitRelease: %v", err)
			}
			r := w.result(t)
			if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken || !r.snap.State.IsZero() {
				t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want no lease, the holder's token and no grant state", r.l, r.snap, r.err)
			}
			if n := w.sent.Trips(); n != 1 {
				t.Errorf("the waiter ran %d statements, want 1", n)
			}
			if st, err := s.LoadGrantState(ctx, "k"); err != nil || !st.IsZero() {
				t.Errorf("the stored grant state = %+v, %v; want none, as the waiter reported", st, err)
			}

			// The waiter's Store remembers the token it heard of: once the
			// holder has replaced that one too, a TakeLeaseIf over it reads
			// the new token in one statement, and takes no lease over it
			// only to release it.
			last := tokenN(3)
			if err := site.take(t, "k", next).CommitRelease(ctx, next, last); err != nil {
				t.Fatalf("the second CommitRelease: %v", err)
			}
			epoch := func() (e int64) {
				t.Helper()
				if err := site.db.QueryRow(fmt.Sprintf(`SELECT lease_epoch FROM %s WHERE token_key = 'k'`, site.table)).Scan(&e); err != nil {
					t.Fatal(err)
				}
				return e
			}
			before := epoch()
			w = startWait(t, s, "k", next)
			r = w.result(t)
			if after := epoch(); after != before {
				t.Errorf("TakeLeaseIf over the token heard of moved lease_epoch from %d to %d: it took a lease over the new token", before, after)
			}
			if r.err != nil || r.l != nil || accessOf(r.snap.Token) != last.AccessToken {
				t.Fatalf("TakeLeaseIf over the token heard of = %v, %s, %v; want no lease and the holder's new token", r.l, accessOf(r.snap.Token), r.err)
			}
			if n := w.sent.Trips(); n != 1 {
				t.Errorf("TakeLeaseIf over the token heard of ran %d statements, want 1 (a release runs apart, and counts only in lease_epoch)", n)
			}
		})
	}
}

// TestAnnounceWakeByRelease checks that a release without a commit is
// announced with the key's hash alone, and wakes the waiter, which asks
// again and takes the lease: two statements.
func TestAnnounceWakeByRelease(t *testing.T) {
	ctx := context.Background()
	site := newPGSite(t)
	s := site.newWaitStore(t, true)
	prev := tokenN(1)
	if err := s.Save(ctx, "k", prev); err != nil {
		t.Fatal(err)
	}
	l := site.take(t, "k", prev)
	site.listening(t, s)
	raw := site.listen(t)

	w := startWait(t, s, "k", prev)
	w.answered(t, 1)
	l.Release()
	if p, want := raw.next(t), sqlstore.Announcement("k", nil, nil); p != want {
		t.Errorf("the release was announced as %q, want the key's hash alone, %q", p, want)
	}
	r := w.result(t)
	if r.err != nil || r.l == nil || r.snap.Token == nil || r.snap.Token.AccessToken != prev.AccessToken {
		t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want the lease", r.l, r.snap, r.err)
	}
	if e, held := r.l.(oauthrt.FencedLease).Epoch(), l.(oauthrt.FencedLease).Epoch(); e <= held {
		t.Errorf("the waiter's lease has epoch %d, after %d", e, held)
	}
	if n := w.sent.Trips(); n != 2 {
		t.Errorf("the waiter ran %d statements, want 2", n)
	}
}

// TestAnnounceWakesTakeLease checks that a TakeLease waiting for a held
// lease is woken by its release: its first try (the INSERT that makes
// sure of the row, the UPDATE that finds the lease held), then the
// UPDATE that takes it and the SELECT of its epoch.
func TestAnnounceWakesTakeLease(t *testing.T) {
	ctx := context.Background()
	site := newPGSite(t)
	s := site.newWaitStore(t, true)
	prev := tokenN(1)
	if err := s.Save(ctx, "k", prev); err != nil {
		t.Fatal(err)
	}
	l := site.take(t, "k", prev)
	site.listening(t, s)

	w := start(t, func(ctx context.Context) waited {
		l, err := s.TakeLease(ctx, "k")
		return waited{l: l, err: err}
	})
	w.answered(t, 2)
	l.Release()
	r := w.result(t)
	if r.err != nil || r.l == nil {
		t.Fatalf("the waiter's TakeLease = %v, %v; want the lease", r.l, r.err)
	}
	if n := w.sent.Trips(); n != 4 {
		t.Errorf("the waiter ran %d statements, want 4", n)
	}
}

// TestAnnounceStrangers sends by hand, on the Store's channel, payloads
// that anyone who may connect could send: ones that name no key, or
// another key, the waiter ignores (it runs no statement); ones that name
// its key with a record that does not open (sealed under another token,
// not base64, not sealed at all) make it ask again, as a release does,
// and never make it return what they hold. Its holder's commit then
// ends its wait, with the holder's token.
func TestAnnounceStrangers(t *testing.T) {
	ctx := context.Background()
	site := newPGSite(t)
	s := site.newWaitStore(t, true)
	prev, next := tokenN(1), tokenN(2)
	evil := &oauth2.Token{AccessToken: "at-evil", RefreshToken: "rt-evil"}
	if err := s.Save(ctx, "k", prev); err != nil {
		t.Fatal(err)
	}
	l := site.take(t, "k", prev)
	site.listening(t, s)
	evilBytes, err := tokencodec.Encode(evil, nil, "k")
	if err != nil {
		t.Fatal(err)
	}
	hash := sqlstore.Announcement("k", nil, nil)

	w := startWait(t, s, "k", prev)
	w.answered(t, 1)
	for _, p := range []string{
		"", " ", "k", "x " + base64.StdEncoding.EncodeToString(evilBytes),
		strings.Repeat("g", 32), strings.ToUpper(hash), hash[:31], hash + "x", hash + "\t", " " + hash,
		sqlstore.Announcement("other", nil, nil),
		sqlstore.Announcement("other", prev, evilBytes), // another key's, sealed under prev
	} {
		site.notify(t, p)
	}
	var random [64]byte
	rand.Read(random[:])
	for i, p := range []string{
		sqlstore.Announcement("k", tokenN(9), evilBytes), // sealed under a token the waiter does not hold
		hash + " not base64!",
		hash + " " + base64.StdEncoding.EncodeToString(random[:]),
		hash + " " + base64.StdEncoding.EncodeToString(evilBytes), // not sealed
		hash + " ",
	} {
		site.notify(t, p)
		w.answered(t, int64(2+i)) // asked again
	}
	if err := l.CommitRelease(ctx, prev, next); err != nil {
		t.Fatalf("CommitRelease: %v", err)
	}
	r := w.result(t)
	if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken {
		t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want no lease and the holder's token", r.l, r.snap, r.err)
	}
	if n := w.sent.Trips(); n != 6 {
		t.Errorf("the waiter ran %d statements, want 6: one at first, one after each payload that named its key", n)
	}
}

// TestAnnounceOtherPrev replays the real announcement of a commit over
// one token to a waiter for a later one: the record does not open under
// the waiter's token, and the waiter asks again rather than return it.
func TestAnnounceOtherPrev(t *testing.T) {
	ctx := context.Background()
	site := newPGSite(t)
	s := site.newWaitStore(t, true)
	t1, t2, t3 := tokenN(1), tokenN(2), tokenN(3)
	if err := s.Save(ctx, "k", t1); err != nil {
		t.Fatal(err)
	}
	raw := site.listen(t)
	l := site.take(t, "k", t1)
	if err := l.CommitRelease(ctx, t1, t2); err != nil {
		t.Fatal(err)
	}
	first := raw.next(t)
	if hash := sqlstore.Announcement("k", nil, nil); !strings.HasPrefix(first, hash+" ") {
		t.Fatalf("the commit was announced as %d bytes, want the key's hash and a record", len(first))
	}
	if strings.Contains(first, "at-2") {
		t.Error("the announcement shows the committed access token")
	}

	l = site.take(t, "k", t2)
	site.listening(t, s)
	w := startWait(t, s, "k", t2)
	w.answered(t, 1)
	site.notify(t, first) // t2 sealed under t1: the waiter holds t2
	w.answered(t, 2)
	if err := l.CommitRelease(ctx, t2, t3); err != nil {
		t.Fatal(err)
	}
	r := w.result(t)
	if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != t3.AccessToken {
		t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want no lease and t3", r.l, r.snap, r.err)
	}
	if n := w.sent.Trips(); n != 2 {
		t.Errorf("the waiter ran %d statements, want 2", n)
	}
}

// TestAnnounceLargeToken checks that a token too long for a notification
// is announced without its record: the waiter asks again, and reads it.
func TestAnnounceLargeToken(t *testing.T) {
	ctx := context.Background()
	site := newPGSite(t)
	s := site.newWaitStore(t, true)
	prev, next := tokenN(1), tokenN(2)
	next.AccessToken = strings.Repeat("a", 8000)
	if err := s.Save(ctx, "k", prev); err != nil {
		t.Fatal(err)
	}
	l := site.take(t, "k", prev)
	site.listening(t, s)
	raw := site.listen(t)

	w := startWait(t, s, "k", prev)
	w.answered(t, 1)
	if err := l.CommitRelease(ctx, prev, next); err != nil {
		t.Fatalf("CommitRelease: %v", err)
	}
	if p, want := raw.next(t), sqlstore.Announcement("k", nil, nil); p != want {
		t.Errorf("the commit of a large token was announced with %d bytes, want the key's hash alone", len(p))
	}
	r := w.result(t)
	if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken {
		t.Fatalf("the waiter's TakeLeaseIf = %v, %v; want no lease and the holder's token", r.l, r.err)
	}
	if n := w.sent.Trips(); n != 2 {
		t.Errorf("the waiter ran %d statements, want 2", n)
	}
}

// TestAnnounceConflict checks that a CommitRelease whose UPDATE matches
// nothing announces no record, and that its release is announced alone:
// the next notification after it is the test's own.
func TestAnnounceConflict(t *testing.T) {
	ctx := context.Background()
	site := newPGSite(t)
	prev, next, other := tokenN(1), tokenN(2), tokenN(3)
	if err := site.holder.Save(ctx, "k", prev); err != nil {
		t.Fatal(err)
	}
	l := site.take(t, "k", prev)
	if err := site.holder.Save(ctx, "k", other); err != nil {
		t.Fatal(err)
	}
	raw := site.listen(t)
	if err := l.CommitRelease(ctx, prev, next); err == nil {
		t.Fatal("CommitRelease over a replaced token succeeded")
	}
	site.notify(t, "end")
	if p, want := raw.next(t), sqlstore.Announcement("k", nil, nil); p != want {
		t.Errorf("the conflict was announced as %q, want the release alone, %q", p, want)
	}
	if p := raw.next(t); p != "end" {
		t.Errorf("after the release, %q was announced, want nothing", p)
	}
}

// TestAnnounceWithoutListener checks that a Store without a Listener
// polls: its waiter reads the row again to find the holder's token.
func TestAnnounceWithoutListener(t *testing.T) {
	ctx := context.Background()
	site := newPGSite(t)
	s := site.newWaitStore(t, false)
	prev, next := tokenN(1), tokenN(2)
	if err := s.Save(ctx, "k", prev); err != nil {
		t.Fatal(err)
	}
	l := site.take(t, "k", prev)
	w := startWait(t, s, "k", prev)
	w.answered(t, 1)
	if err := l.CommitRelease(ctx, prev, next); err != nil {
		t.Fatal(err)
	}
	r := w.result(t)
	if r.err != nil || r.l != nil || r.snap.Token == nil || r.snap.Token.AccessToken != next.AccessToken {
		t.Fatalf("the waiter's TakeLeaseIf = %v, %+v, %v; want no lease and the holder's token", r.l, r.snap, r.err)
	}
	if n := w.sent.Trips(); n < 2 {
		t.Errorf("the waiter ran %d statements, want at least 2: it must have read the token", n)
	}
}
