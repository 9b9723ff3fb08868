package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The inspection checks hold an oauthrt.Inspector to its contract: a
// walk returns every key that holds a token, and only those, each page
// in key order, with the key's token, grant state and lease read
// together; a token that does not decode fails its record, not the page.

// inspector opens a store and returns it as an Inspector, or skips.
func inspector(t *testing.T, b Backend, o Options) oauthrt.Inspector {
	t.Helper()
	return openAs[oauthrt.Inspector](t, b, o, "inspection")
}

// walkRecords inspects the keys under prefix from the first page to the
// last, limit records a page, checking that each page is in ascending key
// order and holds only keys under prefix. It returns the last record seen
// of each key.
func walkRecords(t *testing.T, in oauthrt.Inspector, prefix string, limit int) map[string]oauthrt.Record {
	t.Helper()
	seen := map[string]oauthrt.Record{}
	cursor := ""
	for page := range maxPages {
		recs, next, err := in.Inspect(context.Background(), prefix, cursor, limit)
		if err != nil {
			t.Fatalf("Inspect(prefix %s, limit %d), page %d: %v", showKey(prefix), limit, page, shorten(err))
		}
		for i, r := range recs {
			if i > 0 && recs[i-1].Key >= r.Key {
				t.Errorf("Inspect(prefix %s, limit %d), page %d: key %s follows %s; want ascending byte order", showKey(prefix), limit, page, showKey(r.Key), showKey(recs[i-1].Key))
			}
			if !strings.HasPrefix(r.Key, prefix) {
				t.Errorf("Inspect(prefix %s) returned key %s", showKey(prefix), showKey(r.Key))
			}
			seen[r.Key] = r
		}
		if next == "" {
			return seen
		}
		cursor = next
	}
	t.Fatalf("Inspect(prefix %s, limit %d): the walk did not end after %d pages", showKey(prefix), limit, maxPages)
	return nil
}

// inspectKey returns the record of key, which must hold a token.
func inspectKey(t *testing.T, in oauthrt.Inspector, key string) oauthrt.Record {
	t.Helper()
	r, ok := walkRecords(t, in, key, 3)[key]
	if !ok {
		t.Fatalf("Inspect does not list key %s, which holds a token", showKey(key))
	}
	return r
}

// inspectToken returns the i-th token testInspectWalk saves: a full, a
// form-encoded or a minimal one, each with an access token of its own.
func inspectToken(i int) *oauth2.Token {
	tok := [](func() *oauth2.Token){fullToken, formToken, minimalToken}[i%3]()
	tok.AccessToken = fmt.Sprintf("at-in-%d", i)
	return tok
}

// sameRecord reports how r differs from a record of a readable token
// want, stored in the clear, with the grant state st and no lease.
func sameRecord(t *testing.T, r oauthrt.Record, want *oauth2.Token, st oauthrt.GrantState) {
	t.Helper()
	switch {
	case r.Err != nil:
		t.Errorf("Inspect: key %s: Err = %v, want nil", showKey(r.Key), shorten(r.Err))
		return
	case r.Token == nil:
		t.Errorf("Inspect: key %s: nil Token and nil Err", showKey(r.Key))
		return
	}
	if diff := cmp.Diff(viewOf(want), viewOf(r.Token)); diff != "" {
		t.Errorf("Inspect: key %s: the token differs from the saved one (-saved +inspected):\n%s", showKey(r.Key), diff)
	}
	if diff := sameState(r.State, st); diff != "" {
		t.Errorf("Inspect: key %s: the grant state differs from the saved one:%s", showKey(r.Key), diff)
	}
	if r.Sealed || r.KeyID != "" {
		t.Errorf("Inspect: key %s of a store without an AEAD: Sealed %t, KeyID %q; want false and \"\"", showKey(r.Key), r.Sealed, r.KeyID)
	}
	if r.Lease != (oauthrt.LeaseInfo{}) {
		t.Errorf("Inspect: key %s, whose lease was never taken: Lease %+v, want the zero LeaseInfo", showKey(r.Key), r.Lease)
	}
}

// testInspectWalk walks a store of some twenty keys, odd ones among them,
// three records a page: every key that holds a token is listed, with its
// token and grant state, and no key that holds only a grant state, a
// lease or a deleted token.
func testInspectWalk(t *testing.T, b Backend) {
	in := inspector(t, b, Options{LeaseTTL: time.Minute})
	ctx := context.Background()
	keys := []string{"in-", "in-\x00", "in-\xff", "in-\u00e9", "in-" + metaPrefix, "in-a b", "", "in", "iN-x", "out"}
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("in-%02d", i))
	}
	want := map[string]*oauth2.Token{}
	states := map[string]oauthrt.GrantState{}
	g, hasState := in.(oauthrt.GrantStateStore)
	for i, k := range keys {
		if err := in.Save(ctx, k, inspectToken(i)); err != nil {
			continue // a key the store refuses; testOddKeys checks that
		}
		want[k] = inspectToken(i)
		if hasState && i%3 == 1 {
			states[k] = backoffState(i + 1)
			saveState(t, g, k, states[k])
		}
	}
	if hasState {
		saveState(t, g, "in-state-only", backoffState(1))
	}
	if ll, ok := in.(oauthrt.LeaseLocker); ok {
		take(t, ll, "in-lease-only").Release()
		defer take(t, ll, "in-lease-held").Release()
	}
	d, canDelete := in.(oauthrt.Deleter)
	if canDelete {
		save(t, in, "in-deleted", pair("at-deleted", "rt-deleted"))
		if err := d.Delete(ctx, "in-deleted"); err != nil {
			t.Fatalf("Delete(\"in-deleted\"): %v", err)
		}
	}

	check := func(prefix string, limit int) {
		t.Helper()
		got := walkRecords(t, in, prefix, limit)
		wantKeys := map[string]bool{}
		for k := range want {
			if strings.HasPrefix(k, prefix) {
				wantKeys[k] = true
			}
		}
		sameKeys(t, got, wantKeys, fmt.Sprintf("Inspect under %s, %d a page", showKey(prefix), limit))
		for k, r := range got {
			if wantKeys[k] {
				sameRecord(t, r, want[k], states[k])
			}
		}
	}
	check("", 3)
	check("in-", 3)
	check("in-0", 2)
	check("in-\x00", 1)
	check("in-"+metaPrefix[:3], 1)
	check("", 0)
	check("no such key", 3)

	if canDelete {
		if err := d.Delete(ctx, "in-05"); err != nil {
			t.Fatalf("Delete(\"in-05\"): %v", err)
		}
		delete(want, "in-05")
		check("in-0", 3)
	}
}

// testInspectUnreadable inspects a page with a token that is not one
// among readable ones: its record has a nil Token and an Err wrapping
// oauthrt.ErrCorruptToken, and the page its neighbours' tokens.
func testInspectUnreadable(t *testing.T, b Backend) {
	if b.Put == nil {
		t.Skip("Backend.Put is nil")
	}
	in := inspector(t, b, Options{})
	save(t, in, "a", inspectToken(0))
	if err := b.Put("b", []byte(`{"refresh_token":"rt-secret"}`)); err != nil {
		t.Fatal(err)
	}
	save(t, in, "c", inspectToken(1))
	got := walkRecords(t, in, "", 10)
	sameKeys(t, got, map[string]bool{"a": true, "b": true, "c": true}, "Inspect of a store with a corrupt token")
	sameRecord(t, got["a"], inspectToken(0), oauthrt.GrantState{})
	sameRecord(t, got["c"], inspectToken(1), oauthrt.GrantState{})
	wantUnreadable(t, got["b"], oauthrt.ErrCorruptToken, "a corrupt token")
}

// wantUnreadable checks the record r of a token that does not decode.
func wantUnreadable(t *testing.T, r oauthrt.Record, want error, what string) {
	t.Helper()
	if !errors.Is(r.Err, want) {
		t.Errorf("Inspect: key %s, %s: Err = %v, want one wrapping %v", showKey(r.Key), what, r.Err, want)
		return
	}
	if r.Token != nil {
		t.Errorf("Inspect: key %s, %s: a Token with its Err", showKey(r.Key), what)
	}
	for _, s := range []string{"secret", "rt-", "eyJ"} {
		if strings.Contains(r.Err.Error(), s) {
			t.Errorf("Inspect: key %s, %s: Err %q quotes the stored data", showKey(r.Key), what, r.Err)
		}
	}
}

// testInspectEncrypted inspects tokens sealed with the store's AEAD,
// with another one, and stored in the clear: Sealed tells them apart,
// and only those the store's AEAD opens are read; the others fail their
// records with oauthrt.ErrDecrypt, not the page.
func testInspectEncrypted(t *testing.T, b Backend) {
	if b.NoEncryption {
		t.Skip("the store has no encryption at rest")
	}
	k1, k2 := newAEAD(t, 1), newAEAD(t, 2)
	enc := inspector(t, b, Options{AEAD: k1})
	other, plain := b.Open(Options{AEAD: k2}), b.Open(Options{})
	save(t, enc, "a", inspectToken(0))
	save(t, other, "b", inspectToken(1))
	save(t, enc, "c", inspectToken(2))
	save(t, plain, "d", inspectToken(3))
	all := map[string]bool{"a": true, "b": true, "c": true, "d": true}

	got := walkRecords(t, enc, "", 10)
	sameKeys(t, got, all, "Inspect with the AEAD")
	for i, k := range []string{"a", "c"} {
		r := got[k]
		if !r.Sealed || r.Err != nil || r.KeyID != "" {
			t.Errorf("Inspect with the AEAD: key %q: Sealed %t, Err %v, KeyID %q; want true, nil and \"\"", k, r.Sealed, r.Err, r.KeyID)
		}
		if r.Token != nil {
			if diff := cmp.Diff(viewOf(inspectToken(2*i)), viewOf(r.Token)); diff != "" {
				t.Errorf("Inspect with the AEAD: key %q: the token differs from the saved one (-saved +inspected):\n%s", k, diff)
			}
		}
	}
	wantUnreadable(t, got["b"], oauthrt.ErrDecrypt, "sealed with another AEAD")
	wantUnreadable(t, got["d"], oauthrt.ErrDecrypt, "stored in the clear, inspected with an AEAD")
	if !got["b"].Sealed || got["d"].Sealed {
		t.Errorf("Inspect with the AEAD: Sealed %t for a token sealed with another AEAD and %t for one in the clear; want true and false", got["b"].Sealed, got["d"].Sealed)
	}

	in, ok := plain.(oauthrt.Inspector)
	if !ok {
		t.Fatal("Backend.Open returned an Inspector once and another store the next time")
	}
	got = walkRecords(t, in, "", 10)
	sameKeys(t, got, all, "Inspect without an AEAD")
	wantUnreadable(t, got["a"], oauthrt.ErrDecrypt, "sealed, inspected without an AEAD")
	sameRecord(t, got["d"], inspectToken(3), oauthrt.GrantState{})
	if !got["a"].Sealed {
		t.Errorf("Inspect without an AEAD: key \"a\", sealed: Sealed false")
	}
}

// testInspectLease inspects a key while its lease is held, after it is
// released, and while another handle holds it: Holder names each taking,
// Until is a TTL ahead, and Epoch is the lease's.
func testInspectLease(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	in := inspector(t, b, o)
	ll, ok := in.(oauthrt.LeaseLocker)
	if !ok {
		t.Skip("the store implements oauthrt.Inspector but not oauthrt.LeaseLocker: no lease to inspect")
	}
	save(t, in, "k", pair("at", "rt"))
	save(t, in, "neighbour", pair("at-n", "rt-n"))

	before := time.Now()
	l := take(t, ll, "k")
	first := heldLease(t, in, l, before, o.LeaseTTL)
	if r := inspectKey(t, in, "neighbour"); r.Lease != (oauthrt.LeaseInfo{}) {
		t.Errorf("Inspect of a key next to a held lease: Lease %+v, want the zero LeaseInfo", r.Lease)
	}
	l.Release()
	freed(t, in, first)

	before = time.Now()
	l = take(t, b.Open(o).(oauthrt.LeaseLocker), "k")
	second := heldLease(t, in, l, before, o.LeaseTTL)
	if second.Holder == first.Holder {
		t.Errorf("two takings of the lease have one Holder, %q", first.Holder)
	}
	l.Release()
	freed(t, in, second)
}

// heldLease checks the record of l's key while l, taken at or after
// before, is held, and returns its LeaseInfo.
func heldLease(t *testing.T, in oauthrt.Inspector, l oauthrt.Lease, before time.Time, ttl time.Duration) oauthrt.LeaseInfo {
	t.Helper()
	r := inspectKey(t, in, "k")
	got := r.Lease
	if got.Holder == "" {
		t.Errorf("Inspect of a key whose lease is held: Holder \"\"")
	}
	if now := time.Now(); !got.Until.After(now) || got.Until.After(now.Add(ttl+lapseSlack)) || got.Until.Before(before.Add(ttl-lapseSlack)) {
		t.Errorf("Inspect of a key whose lease of %v was taken just now: Until %v, want about %v", ttl, got.Until, before.Add(ttl))
	}
	if f, ok := l.(oauthrt.FencedLease); ok && got.Epoch != f.Epoch() {
		t.Errorf("Inspect of a key whose lease is held: Epoch %d, want the lease's, %d", got.Epoch, f.Epoch())
	}
	if r.Token == nil {
		t.Errorf("Inspect of a key whose lease is held: no token (Err %v)", r.Err)
	}
	return got
}

// freed checks the record of "k" once the lease held as was released.
func freed(t *testing.T, in oauthrt.Inspector, was oauthrt.LeaseInfo) {
	t.Helper()
	got := inspectKey(t, in, "k").Lease
	if got.Holder != "" || !got.Until.IsZero() || got.Epoch != was.Epoch {
		t.Errorf("Inspect after Release: Lease %+v, want no Holder, no Until, and the released lease's Epoch %d", got, was.Epoch)
	}
}

// testInspectLeaseLapse lets a lease of the shortest TTL lapse: then
// Inspect reports no Holder, though the lease was never released. It
// waits about oauthrt.MinLeaseTTL.
func testInspectLeaseLapse(t *testing.T, b Backend) {
	o := Options{LeaseTTL: oauthrt.MinLeaseTTL}
	in := inspector(t, b, o)
	ll, ok := in.(oauthrt.LeaseLocker)
	if !ok {
		t.Skip("the store implements oauthrt.Inspector but not oauthrt.LeaseLocker: no lease to inspect")
	}
	save(t, in, "k", pair("at", "rt"))
	l := take(t, ll, "k") // a holder that stalls: never renews
	defer l.Release()
	until := inspectKey(t, in, "k").Lease.Until
	if until.IsZero() {
		t.Fatal("Inspect of a key whose lease is held: no Until")
	}
	time.Sleep(time.Until(until) + lapseSlack) // waiting out the TTL
	if got := inspectKey(t, in, "k").Lease; got.Holder != "" || !got.Until.IsZero() {
		t.Errorf("Inspect after the lease's Until %v passed: Lease %+v, want no Holder and no Until", until, got)
	}
}

// testInspectCursor inspects from cursors no page returned, and with a
// cancelled context: each is an error, not a page.
func testInspectCursor(t *testing.T, b Backend) {
	in := inspector(t, b, Options{})
	save(t, in, "k", pair("at", "rt"))
	for _, c := range bogusCursors {
		recs, next, err := in.Inspect(context.Background(), "", c, 0)
		switch {
		case err == nil:
			t.Errorf("Inspect(cursor %s) of a cursor no page returned: %d records, next %q, and no error", showKey(c), len(recs), next)
		case len(recs) > 0 || next != "":
			t.Errorf("Inspect(cursor %s) returned %d records and next %q with its error", showKey(c), len(recs), next)
		case !strings.HasPrefix(err.Error(), "oauthrt"):
			t.Errorf("Inspect(cursor %s): error %q lacks the package prefix", showKey(c), shorten(err))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if recs, _, err := in.Inspect(ctx, "", "", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Inspect with a cancelled context: %d records, err = %v; want context.Canceled", len(recs), err)
	}
}
