package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// The lifecycle checks hold a store to the capabilities that serve a
// grant's whole life rather than one refresh: oauthrt.KeyLister,
// oauthrt.Deleter and oauthrt.GrantStateLister. A walk is compared as a
// set: the contracts let a key be listed more than once, and say nothing
// of the order.

// keyLister opens a store and returns it as a KeyLister, or skips the
// subtest, naming the capability, when the store is not one.
func keyLister(t *testing.T, b Backend, o Options) oauthrt.KeyLister {
	t.Helper()
	return openAs[oauthrt.KeyLister](t, b, o, "key listing")
}

// deleter opens a store and returns it as a Deleter, or skips.
func deleter(t *testing.T, b Backend, o Options) oauthrt.Deleter {
	t.Helper()
	return openAs[oauthrt.Deleter](t, b, o, "deletion")
}

// grantStateLister opens a store and returns it as a GrantStateLister,
// or skips.
func grantStateLister(t *testing.T, b Backend, o Options) oauthrt.GrantStateLister {
	t.Helper()
	return openAs[oauthrt.GrantStateLister](t, b, o, "grant state listing")
}

// maxPages bounds a walk, so that a cursor that never ends fails the
// test instead of hanging it. The suite's walks need far fewer pages,
// even on a Redis whose other keys give empty pages.
const maxPages = 20000

// walkKeys lists the keys under prefix from the first page to the last,
// limit keys a page, and returns how often each was listed.
func walkKeys(t *testing.T, l oauthrt.KeyLister, prefix string, limit int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	cursor := ""
	for page := range maxPages {
		keys, next, err := l.ListKeys(context.Background(), prefix, cursor, limit)
		if err != nil {
			t.Fatalf("ListKeys(prefix %s, limit %d), page %d: %v", showKey(prefix), limit, page, shorten(err))
		}
		for _, k := range keys {
			seen[k]++
		}
		if next == "" {
			return seen
		}
		cursor = next
	}
	t.Fatalf("ListKeys(prefix %s, limit %d): the walk did not end after %d pages", showKey(prefix), limit, maxPages)
	return nil
}

// walkStates lists the grant states under prefix as walkKeys lists keys.
func walkStates(t *testing.T, g oauthrt.GrantStateLister, prefix string, limit int) map[string]oauthrt.GrantState {
	t.Helper()
	seen := map[string]oauthrt.GrantState{}
	cursor := ""
	for page := range maxPages {
		states, next, err := g.ListGrantStates(context.Background(), prefix, cursor, limit)
		if err != nil {
			t.Fatalf("ListGrantStates(prefix %s, limit %d), page %d: %v", showKey(prefix), limit, page, shorten(err))
		}
		for _, ks := range states {
			seen[ks.Key] = ks.State
		}
		if next == "" {
			return seen
		}
		cursor = next
	}
	t.Fatalf("ListGrantStates(prefix %s, limit %d): the walk did not end after %d pages", showKey(prefix), limit, maxPages)
	return nil
}

// sameKeys reports the keys a walk missed and those it listed and should
// not have.
func sameKeys[V any](t *testing.T, got map[string]V, want map[string]bool, what string) {
	t.Helper()
	var missing, extra []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	for i, k := range missing {
		if i == 10 {
			t.Errorf("%s: … and %d more keys missing", what, len(missing)-i)
			break
		}
		t.Errorf("%s: key %s missing", what, showKey(k))
	}
	for i, k := range extra {
		if i == 10 {
			t.Errorf("%s: … and %d more keys that should not be listed", what, len(extra)-i)
			break
		}
		t.Errorf("%s: key %s listed, and should not be", what, showKey(k))
	}
}

// saveAccepted saves a distinct token under each key and returns the
// keys Save accepted.
func saveAccepted(t *testing.T, s oauthrt.TokenStore, keys []string) map[string]bool {
	t.Helper()
	accepted := map[string]bool{}
	for i, k := range keys {
		if err := s.Save(context.Background(), k, pair(fmt.Sprintf("at-%d", i), fmt.Sprintf("rt-%d", i))); err == nil {
			accepted[k] = true
		}
	}
	return accepted
}

func oddKeys() []string {
	var keys []string
	for _, g := range oddKeyGroups() {
		keys = append(keys, g...)
	}
	return keys
}

// testListKeysWalk walks a store of some hundreds of keys, the odd keys
// among them, a few keys a page: every key Save accepted is listed, and
// no key that holds no token (a key with only a grant state, a lease, or
// a deleted token), whatever else the store keeps for it.
func testListKeysWalk(t *testing.T, b Backend) {
	l := keyLister(t, b, Options{LeaseTTL: time.Minute})
	ctx := context.Background()
	// The odd keys last: some stores rewrite everything they hold on each
	// Save, and the longest keys are 100 KB.
	var keys []string
	for i := range 250 {
		keys = append(keys, fmt.Sprintf("walk-%03d", i))
	}
	want := saveAccepted(t, l, append(keys, oddKeys()...))
	if !want["walk-000"] {
		t.Fatal("Save refused the key \"walk-000\"")
	}
	// Keys that hold something, but no token.
	if g, ok := l.(oauthrt.GrantStateStore); ok {
		saveState(t, g, "state-only", backoffState(1))
	}
	if ll, ok := l.(oauthrt.LeaseLocker); ok {
		take(t, ll, "lease-only").Release()
		defer take(t, ll, "lease-held").Release()
	}
	if d, ok := l.(oauthrt.Deleter); ok {
		save(t, l, "deleted", pair("at-deleted", "rt-deleted"))
		if err := d.Delete(ctx, "deleted"); err != nil {
			t.Fatalf("Delete(\"deleted\"): %v", err)
		}
	}
	for _, limit := range []int{10, 0} {
		got := walkKeys(t, l, "", limit)
		sameKeys(t, got, want, fmt.Sprintf("a walk %d keys a page", limit))
	}
	sameKeys(t, walkKeys(t, l, "walk-1", 20), prefixed(want, "walk-1"), "a walk under \"walk-1\"")
}

// prefixed returns the keys of set that start with prefix.
func prefixed(set map[string]bool, prefix string) map[string]bool {
	out := map[string]bool{}
	for k := range set {
		if strings.HasPrefix(k, prefix) {
			out[k] = true
		}
	}
	return out
}

// metaPrefix holds the characters that glob patterns (Redis' MATCH) and
// LIKE give a meaning: a store that passes them on unescaped lists
// decoys, or fails.
const metaPrefix = "x*?[%_\\"

// prefixKeys returns the keys testListKeysPrefix saves: keys a lossy
// prefix match would confuse (case, NUL, invalid UTF-8, a character whose
// encoding starts like another's), and decoys that a pattern made of
// metaPrefix matches unless it is escaped.
func prefixKeys() []string {
	keys := []string{
		"", "a", "a\x00", "a\x00b", "a\xff", "ab", "b", "A", "\u00e1", "\u00e9t\u00e9", "\u00e8", "\xc3",
		metaPrefix, metaPrefix + "y", metaPrefix + "\x00", metaPrefix + metaPrefix,
		"x", "xy", "x*", "x*?[",
	}
	for i := range len(metaPrefix) {
		// A wildcard matches another character, or none.
		keys = append(keys, metaPrefix[:i]+"Q"+metaPrefix[i+1:], metaPrefix[:i]+metaPrefix[i+1:])
	}
	for _, c := range []string{"*", "?", "%", "_", "Q"} {
		// An unescaped backslash escapes what follows it in the pattern.
		keys = append(keys, metaPrefix[:len(metaPrefix)-1]+c)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// testListKeysPrefix lists keys under prefixes: exactly the keys that
// start with the prefix's bytes are listed.
func testListKeysPrefix(t *testing.T, b Backend) {
	l := keyLister(t, b, Options{})
	accepted := saveAccepted(t, l, prefixKeys())
	for _, prefix := range []string{
		"", "a", "a\x00", "a\xff", "A", "b", "\xff", "\xc3", "\u00e9", "x", "x*", "x*?", "x*?[",
		metaPrefix, metaPrefix[:len(metaPrefix)-1], metaPrefix + "y", "no such key",
	} {
		want := prefixed(accepted, prefix)
		got := walkKeys(t, l, prefix, 2)
		sameKeys(t, got, want, fmt.Sprintf("a walk under %s", showKey(prefix)))
	}
}

// testListKeysEmpty walks an empty store: it lists nothing, and ends.
func testListKeysEmpty(t *testing.T, b Backend) {
	l := keyLister(t, b, Options{})
	for _, limit := range []int{0, 1} {
		for _, prefix := range []string{"", "a"} {
			if got := walkKeys(t, l, prefix, limit); len(got) > 0 {
				sameKeys(t, got, nil, fmt.Sprintf("a walk of an empty store under %s", showKey(prefix)))
			}
		}
	}
	if g, ok := l.(oauthrt.GrantStateLister); ok {
		if got := walkStates(t, g, "", 0); len(got) > 0 {
			sameKeys(t, got, nil, "a walk of the grant states of an empty store")
		}
	}
}

// bogusCursors are cursors that no page returned; each must be refused.
var bogusCursors = []string{"-1", " ", "%%%", "\x00\xff not a cursor", "0.0.0", strings.Repeat("\xff", 300)}

// testListBadCursor pages from cursors no page returned: each is an
// error, not a panic and not a page.
func testListBadCursor(t *testing.T, b Backend) {
	s := b.Open(Options{})
	l, isLister := s.(oauthrt.KeyLister)
	g, isStateLister := s.(oauthrt.GrantStateLister)
	if !isLister && !isStateLister {
		t.Skip("the store implements neither oauthrt.KeyLister nor oauthrt.GrantStateLister: cursors not checked")
	}
	save(t, s, "k", pair("at", "rt"))
	if gs, ok := s.(oauthrt.GrantStateStore); ok {
		saveState(t, gs, "k", backoffState(1))
	}
	ctx := context.Background()
	check := func(method, cursor string, list func() (int, string, error)) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s(cursor %s) panicked: %v", method, showKey(cursor), r)
			}
		}()
		n, next, err := list()
		switch {
		case err == nil:
			t.Errorf("%s(cursor %s) of a cursor no page returned: %d results, next %q, and no error", method, showKey(cursor), n, next)
		case n > 0 || next != "":
			t.Errorf("%s(cursor %s) returned %d results and next %q with its error", method, showKey(cursor), n, next)
		case !strings.HasPrefix(err.Error(), "oauthrt"):
			t.Errorf("%s(cursor %s): error %q lacks the package prefix", method, showKey(cursor), shorten(err))
		}
	}
	for _, c := range bogusCursors {
		if isLister {
			check("ListKeys", c, func() (int, string, error) {
				keys, next, err := l.ListKeys(ctx, "", c, 0)
				return len(keys), next, err
			})
		}
		if isStateLister {
			check("ListGrantStates", c, func() (int, string, error) {
				states, next, err := g.ListGrantStates(ctx, "", c, 0)
				return len(states), next, err
			})
		}
	}
}

// testListCancelledContext lists with a cancelled context.
func testListCancelledContext(t *testing.T, b Backend) {
	s := b.Open(Options{})
	l, isLister := s.(oauthrt.KeyLister)
	g, isStateLister := s.(oauthrt.GrantStateLister)
	if !isLister && !isStateLister {
		t.Skip("the store implements neither oauthrt.KeyLister nor oauthrt.GrantStateLister: nothing to list")
	}
	save(t, s, "k", pair("at", "rt"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if isLister {
		if keys, _, err := l.ListKeys(ctx, "", "", 0); !errors.Is(err, context.Canceled) {
			t.Errorf("ListKeys with a cancelled context: %d keys, err = %v; want context.Canceled", len(keys), err)
		}
	}
	if isStateLister {
		saveState(t, g, "k", backoffState(1))
		if states, _, err := g.ListGrantStates(ctx, "", "", 0); !errors.Is(err, context.Canceled) {
			t.Errorf("ListGrantStates with a cancelled context: %d states, err = %v; want context.Canceled", len(states), err)
		}
	}
}

// testDelete deletes a key that holds a token, a grant state and a lease
// epoch: the token and the state are gone, through every handle, and
// from every listing; a Commit over the deleted token conflicts; the
// lease epochs go on growing; and the neighbours keep what they hold.
func testDelete(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	d := deleter(t, b, o)
	other := b.Open(o)
	ctx := context.Background()
	old, neighbour := pair("at-old", "rt-old"), pair("at-neighbour", "rt-neighbour")
	save(t, d, "k", old)
	for _, k := range []string{"neighbour", "k ", "kk", "K"} {
		save(t, d, k, neighbour)
	}
	g, hasState := d.(oauthrt.GrantStateStore)
	if hasState {
		saveState(t, g, "k", backoffState(2))
		saveState(t, g, "neighbour", deadState(neighbour))
	}
	var epoch uint64
	if l, ok := d.(oauthrt.LeaseLocker); ok {
		lease := take(t, l, "k")
		if f, ok := lease.(oauthrt.FencedLease); ok {
			epoch = f.Epoch()
		}
		lease.Release()
	}

	if err := d.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete(\"k\"): %v", err)
	}
	for i, s := range []oauthrt.TokenStore{d, other} {
		if tok, err := s.Load(ctx, "k"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("Load of a deleted key through handle %d: token %v, err = %v; want ErrNoToken", i+1, tok != nil, err)
		}
	}
	for _, k := range []string{"neighbour", "k ", "kk", "K"} {
		sameToken(t, load(t, d, k), neighbour)
	}
	if hasState {
		wantState(t, g, "k", oauthrt.GrantState{}, "after Delete")
		wantState(t, g, "neighbour", deadState(neighbour), "after a neighbour was deleted")
	}
	if l, ok := d.(oauthrt.KeyLister); ok {
		if got := walkKeys(t, l, "", 0); got["k"] > 0 || got["neighbour"] == 0 {
			t.Errorf("a walk after Delete(\"k\") lists \"k\" %d times and \"neighbour\" %d times; want 0 and 1", got["k"], got["neighbour"])
		}
	}
	if gl, ok := d.(oauthrt.GrantStateLister); ok {
		if got := walkStates(t, gl, "", 0); len(got) != 1 || got["neighbour"].IsZero() {
			sameKeys(t, got, map[string]bool{"neighbour": true}, "the grant states after Delete(\"k\")")
		}
	}
	if c, ok := d.(oauthrt.Committer); ok {
		wantConflict(t, c.Commit(ctx, "k", old, pair("at-late", "rt-late")), "Commit over the deleted token", old)
		if _, err := d.Load(ctx, "k"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("Load after a Commit over the deleted token: err = %v, want ErrNoToken", err)
		}
		fresh := pair("at-fresh", "rt-fresh")
		commit(t, c, "k", nil, fresh)
		sameToken(t, load(t, d, "k"), fresh)
		if err := d.Delete(ctx, "k"); err != nil {
			t.Fatalf("Delete(\"k\") of a committed token: %v", err)
		}
	}
	for _, k := range []string{"k", "never saved"} {
		if err := d.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) of a key that holds nothing: %v", k, err)
		}
	}
	if l, ok := d.(oauthrt.LeaseLocker); ok && epoch > 0 {
		lease := take(t, l, "k")
		if f, ok := lease.(oauthrt.FencedLease); ok && f.Epoch() <= epoch {
			t.Errorf("the first lease after Delete has epoch %d, not above the %d of the lease before it: Delete reset the epoch", f.Epoch(), epoch)
		}
		lease.Release()
	}
	// The key is as good as new.
	save(t, d, "k", old)
	sameToken(t, load(t, other, "k"), old)
	if hasState {
		wantState(t, g, "k", oauthrt.GrantState{}, "after a Save that followed Delete")
	}
}

// testDeleteKeys deletes the first of each group of odd keys: a key
// Save accepts is deleted alone, a key it refuses is refused by Delete
// too, and no neighbour loses its token.
func testDeleteKeys(t *testing.T, b Backend) {
	d := deleter(t, b, Options{})
	ctx := context.Background()
	keys := oddKeys()
	accepted := saveAccepted(t, d, keys)
	deleted := map[string]bool{}
	for _, grp := range oddKeyGroups() {
		k := grp[0]
		err := d.Delete(ctx, k)
		switch {
		case err == nil && !accepted[k]:
			t.Errorf("Delete(%s) accepted a key Save refuses", showKey(k))
		case err != nil && accepted[k]:
			t.Errorf("Delete(%s): %v", showKey(k), shorten(err))
		case err != nil:
			refusedKey(t, "Delete", k, err)
		default:
			deleted[k] = true
		}
	}
	for i, k := range keys {
		if !accepted[k] {
			continue
		}
		got, err := d.Load(ctx, k)
		switch {
		case deleted[k] && !errors.Is(err, oauthrt.ErrNoToken):
			t.Errorf("Load(%s) after Delete: token %v, err = %v; want ErrNoToken", showKey(k), got != nil, err)
		case deleted[k]:
		case err != nil:
			t.Errorf("Load(%s) after a neighbour was deleted: %v", showKey(k), shorten(err))
		case got.AccessToken != fmt.Sprintf("at-%d", i):
			t.Errorf("Load(%s) = %q after a neighbour was deleted, want the token saved under it", showKey(k), got.AccessToken)
		}
	}
}

// testDeleteCancelledContext deletes with a cancelled context: an error,
// and the token is still there.
func testDeleteCancelledContext(t *testing.T, b Backend) {
	d := deleter(t, b, Options{})
	save(t, d, "k", pair("at", "rt"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Delete(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context: err = %v, want context.Canceled", err)
	}
	if got := load(t, d, "k"); got.AccessToken != "at" {
		t.Errorf("after a Delete with a cancelled context, Load = %q", got.AccessToken)
	}
}

// testListGrantStates lists the grant states of keys degraded, dead,
// healthy and cleared in each way the store clears a state: exactly the
// keys whose state is not zero are listed, with that state, whether or
// not they hold a token.
func testListGrantStates(t *testing.T, b Backend) {
	g := grantStateLister(t, b, Options{})
	ctx := context.Background()
	dead := pair("at-dead", "rt-dead")
	want := map[string]oauthrt.GrantState{
		"degraded":           backoffState(2),
		"degraded-alone":     backoffState(5), // no token
		"dead":               deadState(dead),
		"dead-" + metaPrefix: deadState(dead),
	}
	for k, st := range want {
		if k != "degraded-alone" {
			save(t, g, k, dead)
		}
		saveState(t, g, k, st)
	}
	save(t, g, "healthy", pair("at-healthy", "rt-healthy"))
	saveState(t, g, "cleared-by-save", backoffState(1))
	save(t, g, "cleared-by-save", pair("at-new", "rt-new"))
	save(t, g, "cleared", pair("at-cleared", "rt-cleared"))
	saveState(t, g, "cleared", deadState(dead))
	saveState(t, g, "cleared", oauthrt.GrantState{})
	if c, ok := g.(oauthrt.Committer); ok {
		saveState(t, g, "healthy", backoffState(3))
		commit(t, c, "healthy", pair("at-healthy", "rt-healthy"), pair("at-next", "rt-next"))
	}
	if d, ok := g.(oauthrt.Deleter); ok {
		save(t, g, "deleted", dead)
		saveState(t, g, "deleted", deadState(dead))
		if err := d.Delete(ctx, "deleted"); err != nil {
			t.Fatalf("Delete(\"deleted\"): %v", err)
		}
	}
	// The odd keys each get a state of their own.
	for i, k := range oddKeys() {
		st := backoffState(100 + i)
		if err := g.SaveGrantState(ctx, k, st); err == nil {
			want[k] = st
		}
	}

	check := func(prefix string, limit int) {
		t.Helper()
		got := walkStates(t, g, prefix, limit)
		wantKeys := map[string]bool{}
		for k := range want {
			if strings.HasPrefix(k, prefix) {
				wantKeys[k] = true
			}
		}
		sameKeys(t, got, wantKeys, fmt.Sprintf("the grant states under %s, %d a page", showKey(prefix), limit))
		for k, st := range got {
			if !wantKeys[k] {
				continue
			}
			if diff := sameState(st, want[k]); diff != "" {
				t.Errorf("ListGrantStates lists %s with another state than was saved:%s", showKey(k), diff)
			}
		}
	}
	check("", 3)
	check("", 0)
	check("degraded", 1)
	check("dead-"+metaPrefix, 1)
	check("dead-"+metaPrefix[:len(metaPrefix)-1], 2)
	check("a", 2)
	check("healthy", 0)
}
