package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The commit checks hold a store that implements oauthrt.Committer to
// its contract: Commit writes only over the token it was given as prev
// (compared by oauthrt.Fingerprint), or only into an empty key when prev
// is nil, in one step that no other handle can split.

// committer opens a store and returns it as a Committer, or skips the
// subtest, naming the capability, when the store is not one.
func committer(t *testing.T, b Backend, o Options) oauthrt.Committer {
	t.Helper()
	return openAs[oauthrt.Committer](t, b, o, "conditional commit")
}

func commit(t *testing.T, c oauthrt.Committer, key string, prev, tok *oauth2.Token) {
	t.Helper()
	if err := c.Commit(context.Background(), key, prev, tok); err != nil {
		t.Fatalf("Commit(%s, prev %s): %v", showKey(key), showPrev(prev), shorten(err))
	}
}

// wantConflict checks that err is a commit conflict, reported like any
// other error of the store, without the tokens involved.
func wantConflict(t *testing.T, err error, what string, toks ...*oauth2.Token) {
	t.Helper()
	if !errors.Is(err, oauthrt.ErrCommitConflict) {
		t.Errorf("%s: err = %v, want one wrapping oauthrt.ErrCommitConflict", what, err)
		return
	}
	if !strings.HasPrefix(err.Error(), "oauthrt") {
		t.Errorf("%s: error %q lacks the package prefix", what, err)
	}
	for _, tok := range toks {
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken} {
			if secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q holds a token", what, err)
			}
		}
	}
}

// showPrev names a prev token in a message by its access token, which
// the suite's tokens make up and can show.
func showPrev(prev *oauth2.Token) string {
	if prev == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", prev.AccessToken)
}

// pair returns a token with just an access token and a refresh token.
func pair(access, refresh string) *oauth2.Token {
	return &oauth2.Token{AccessToken: access, RefreshToken: refresh}
}

// testCommitFirst commits into an empty key: the first Commit with a nil
// prev stores its token, the second finds the key taken.
func testCommitFirst(t *testing.T, b Backend) {
	c := committer(t, b, Options{})
	ctx := context.Background()
	if err := c.Commit(ctx, "k", nil, nil); err == nil {
		t.Error("Commit of a nil token succeeded")
	}
	if _, err := c.Load(ctx, "k"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Fatalf("after a Commit of a nil token: Load err = %v, want ErrNoToken", err)
	}

	first := fullToken()
	commit(t, c, "k", nil, first)
	sameToken(t, load(t, c, "k"), first)

	second := pair("at-second", "rt-second")
	wantConflict(t, c.Commit(ctx, "k", nil, second), "a second Commit with a nil prev", first, second)
	sameToken(t, load(t, c, "k"), first)

	// A key that holds a token, even one saved rather than committed, is
	// not empty.
	save(t, c, "saved", pair("at-saved", "rt-saved"))
	wantConflict(t, c.Commit(ctx, "saved", nil, second), "Commit with a nil prev over a saved token", pair("at-saved", "rt-saved"), second)
	if got := load(t, c, "saved").AccessToken; got != "at-saved" {
		t.Errorf("a conflicting Commit replaced the saved token with %q", got)
	}
}

// testCommitMatch commits over the token the store holds, and then again
// over the one it no longer holds.
func testCommitMatch(t *testing.T, b Backend) {
	c := committer(t, b, Options{})
	ctx := context.Background()
	a := fullToken()
	save(t, c, "k", a)

	next := fullToken()
	next.AccessToken, next.RefreshToken = "at-full-2", "rt-full-2"
	commit(t, c, "k", a, next)
	sameToken(t, load(t, c, "k"), next)

	late := pair("at-late", "rt-late")
	wantConflict(t, c.Commit(ctx, "k", a, late), "Commit over a token the store no longer holds", a, next, late)
	sameToken(t, load(t, c, "k"), next)

	// prev is compared by its access and refresh tokens only: the other
	// fields may be lost or rounded on the way through the store, as the
	// Transport's prev is what Load returned.
	bare := pair(next.AccessToken, next.RefreshToken)
	third := formToken()
	commit(t, c, "k", bare, third)
	sameToken(t, load(t, c, "k"), third)

	// The token Load returned is a valid prev, as the Transport uses it.
	fourth := minimalToken()
	commit(t, c, "k", load(t, c, "k"), fourth)
	sameToken(t, load(t, c, "k"), fourth)

	// Commit leaves other keys alone.
	if _, err := c.Load(ctx, "other"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("Load of a key nothing was committed to: err = %v, want ErrNoToken", err)
	}
}

// testCommitComparesBothTokens checks that Commit compares the whole
// fingerprint: a prev that shares only the access token or only the
// refresh token with the stored token is not it, so the stored token
// never goes back to an older one.
func testCommitComparesBothTokens(t *testing.T, b Backend) {
	c := committer(t, b, Options{})
	ctx := context.Background()
	a := pair("at-1", "rt-1")
	save(t, c, "k", a)
	x := pair("at-x", "rt-x")
	for _, prev := range []*oauth2.Token{
		pair("at-1", "rt-2"),   // the same access token
		pair("at-2", "rt-1"),   // the same refresh token
		pair("at-1", ""),       // no refresh token
		pair("at-1r", "t-1"),   // the same bytes, split elsewhere
		pair("at-1rt-1", ""),   // all of them in the access token
		pair("", "at-1rt-1"),   // all of them in the refresh token
		pair("AT-1", "RT-1"),   // another case
		pair("at-1 ", "rt-1 "), // trailing spaces
	} {
		wantConflict(t, c.Commit(ctx, "k", prev, x), fmt.Sprintf("Commit with prev {%q, %q} over {at-1, rt-1}", prev.AccessToken, prev.RefreshToken), a, x)
	}
	if got := load(t, c, "k"); got.AccessToken != "at-1" || got.RefreshToken != "rt-1" {
		t.Fatalf("conflicting Commits replaced the stored token with {%q, %q}", got.AccessToken, got.RefreshToken)
	}

	// A provider that does not rotate refresh tokens: the new token
	// keeps the refresh token. The old one must then conflict.
	b2 := pair("at-2", "rt-1")
	commit(t, c, "k", a, b2)
	wantConflict(t, c.Commit(ctx, "k", a, x), "Commit over a token that shares its refresh token with the stored one", a, b2, x)
	// A new refresh token with the same access token.
	b3 := pair("at-2", "rt-3")
	commit(t, c, "k", b2, b3)
	wantConflict(t, c.Commit(ctx, "k", b2, x), "Commit over a token that shares its access token with the stored one", b2, b3, x)
	if got := load(t, c, "k"); got.AccessToken != "at-2" || got.RefreshToken != "rt-3" {
		t.Errorf("Load = {%q, %q}, want the last committed token {at-2, rt-3}", got.AccessToken, got.RefreshToken)
	}
}

// commitRaceHandles is how many store handles race in testCommitRace,
// each as one process of a fleet.
const commitRaceHandles = 16

// testCommitRace lets many handles commit over the same token at once:
// exactly one may win. The first round races into an empty key, the
// others over the last round's winner.
func testCommitRace(t *testing.T, b Backend) {
	handles := make([]oauthrt.Committer, commitRaceHandles)
	for i := range handles {
		handles[i] = committer(t, b, Options{})
	}
	ctx := context.Background()
	var prev *oauth2.Token
	for round := range 3 {
		start := make(chan struct{})
		errs := make([]error, len(handles))
		var wg sync.WaitGroup
		for i, c := range handles {
			wg.Go(func() {
				<-start
				errs[i] = c.Commit(ctx, "k", prev, raceToken(round, i))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("round %d (prev %s): handles %d and %d both committed", round, showPrev(prev), winner, i)
			case err == nil:
				winner = i
			default:
				wantConflict(t, err, fmt.Sprintf("round %d (prev %s): the Commit of handle %d", round, showPrev(prev), i), raceToken(round, i))
			}
		}
		if winner < 0 {
			t.Fatalf("round %d (prev %s): no handle committed", round, showPrev(prev))
		}
		want := raceToken(round, winner)
		for _, i := range []int{0, winner, len(handles) - 1} {
			sameToken(t, load(t, handles[i], "k"), want)
		}
		if t.Failed() {
			return
		}
		prev = want
	}

	// One after another, each with the token the one before committed,
	// every Commit succeeds, whichever handle makes it.
	for i := range len(handles) {
		next := pair(fmt.Sprintf("at-chain-%d", i), fmt.Sprintf("rt-chain-%d", i))
		c := handles[(i*5)%len(handles)]
		commit(t, c, "k", prev, next)
		sameToken(t, load(t, handles[(i*5+1)%len(handles)], "k"), next)
		prev = next
	}
}

func raceToken(round, handle int) *oauth2.Token {
	return pair(fmt.Sprintf("at-race-%d-%d", round, handle), fmt.Sprintf("rt-race-%d-%d", round, handle))
}

// testCommitKeys checks that Commit accepts and refuses keys as Save
// does, and commits under exactly the key given, never a neighbour that
// a lossy store could merge it with.
func testCommitKeys(t *testing.T, b Backend) {
	c := committer(t, b, Options{})
	ctx := context.Background()
	var keys []string
	for _, g := range oddKeyGroups() {
		keys = append(keys, g...)
	}
	first := func(i int) *oauth2.Token { return pair(fmt.Sprintf("at-first-%d", i), fmt.Sprintf("rt-first-%d", i)) }
	saved := func(i int) *oauth2.Token { return pair(fmt.Sprintf("at-saved-%d", i), fmt.Sprintf("rt-saved-%d", i)) }
	last := func(i int) *oauth2.Token { return pair(fmt.Sprintf("at-last-%d", i), fmt.Sprintf("rt-last-%d", i)) }

	// Into empty keys: a conflict means another key's token was found.
	committed := map[string]bool{}
	for i, k := range keys {
		err := c.Commit(ctx, k, nil, first(i))
		switch {
		case err == nil:
			committed[k] = true
		case errors.Is(err, oauthrt.ErrCommitConflict):
			t.Errorf("Commit(%s, prev nil) into an empty key conflicted: the store found another key's token there", showKey(k))
		default:
			refusedKey(t, "Commit", k, err)
		}
	}
	for i, k := range keys {
		if !committed[k] {
			continue
		}
		if got, err := c.Load(ctx, k); err != nil {
			t.Errorf("Load(%s) after Commit: %v", showKey(k), shorten(err))
		} else if got.AccessToken != first(i).AccessToken {
			t.Errorf("Load(%s) = the token committed under another key (%q, want %q)", showKey(k), got.AccessToken, first(i).AccessToken)
		}
	}

	// Save takes the keys Commit took, and no others.
	for i, k := range keys {
		err := c.Save(ctx, k, saved(i))
		switch {
		case err == nil && !committed[k]:
			t.Errorf("Save(%s) accepted a key Commit refused", showKey(k))
		case err != nil && committed[k]:
			t.Errorf("Save(%s) refused a key Commit accepted: %v", showKey(k), shorten(err))
		}
	}

	// Over the saved tokens: a conflict means the key reached another's.
	for i, k := range keys {
		err := c.Commit(ctx, k, saved(i), last(i))
		switch {
		case committed[k] && err != nil:
			t.Errorf("Commit(%s) over the token saved under it: %v", showKey(k), shorten(err))
		case !committed[k] && err == nil:
			t.Errorf("Commit(%s, prev %s) succeeded for a key it refused with a nil prev", showKey(k), showPrev(saved(i)))
		case !committed[k] && errors.Is(err, oauthrt.ErrCommitConflict):
			t.Errorf("Commit(%s) of a key Save refuses: err = %v, want the key refused, not a conflict", showKey(k), shorten(err))
		}
	}
	for i, k := range keys {
		got, err := c.Load(ctx, k)
		switch {
		case !committed[k] && got != nil:
			t.Errorf("Load(%s) of a key Commit refused returned a token (%q)", showKey(k), got.AccessToken)
		case !committed[k]:
		case err != nil:
			t.Errorf("Load(%s) after the last Commit: %v", showKey(k), shorten(err))
		case got.AccessToken != last(i).AccessToken:
			t.Errorf("Load(%s) = %q, want the token last committed under it, %q", showKey(k), got.AccessToken, last(i).AccessToken)
		}
	}
}

// refusedKey checks the error of a method that refused key: it must say
// so, and not as a conflict.
func refusedKey(t *testing.T, method, key string, err error) {
	t.Helper()
	if msg := err.Error(); !strings.HasPrefix(msg, "oauthrt") || !strings.Contains(msg, "key") {
		t.Errorf("%s(%s) refused the key with %q; want an error prefixed with the package that says what is wrong with the key", method, showKey(key), shorten(err))
	}
	t.Logf("%s(%s) refused: %v", method, showKey(key), shorten(err))
}

func testCommitCancelledContext(t *testing.T, b Backend) {
	c := committer(t, b, Options{})
	before := pair("at-before", "rt-before")
	save(t, c, "k", before)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	after := pair("at-after", "rt-after")
	if err := c.Commit(ctx, "k", before, after); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled context: err = %v, want context.Canceled", err)
	}
	if got := load(t, c, "k").AccessToken; got != "at-before" {
		t.Errorf("a Commit with a cancelled context stored %q", got)
	}
	if err := c.Commit(ctx, "empty", nil, after); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit into an empty key with a cancelled context: err = %v, want context.Canceled", err)
	}
	if _, err := c.Load(context.Background(), "empty"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("after a Commit with a cancelled context into an empty key: Load err = %v, want ErrNoToken", err)
	}
}

// testCommitEncrypted commits with an AEAD: Commit must compare what the
// tokens are, not their ciphertexts, which differ on every write, and
// must encrypt what it writes as Save does.
func testCommitEncrypted(t *testing.T, b Backend) {
	if b.NoEncryption {
		t.Skip("the store has no encryption at rest")
	}
	c := committer(t, b, Options{AEAD: newAEAD(t, 3)})
	ctx := context.Background()
	a := fullToken()
	save(t, c, "k", a)
	next := fullToken()
	next.AccessToken, next.RefreshToken = "at-sealed-2", "rt-sealed-2"
	commit(t, c, "k", a, next)
	sameToken(t, load(t, c, "k"), next)
	wantConflict(t, c.Commit(ctx, "k", a, minimalToken()), "Commit over a token the encrypted store no longer holds", a, next)
	sameToken(t, load(t, c, "k"), next)

	commit(t, c, "new", nil, next)
	sameToken(t, load(t, c, "new"), next)
	if b.Raw != nil {
		for _, k := range []string{"k", "new"} {
			raw, err := b.Raw(k)
			if err != nil {
				t.Fatalf("Raw(%s): %v", showKey(k), err)
			}
			for _, s := range []string{next.AccessToken, next.RefreshToken, "eyJ.x.y"} {
				if strings.Contains(string(raw), s) {
					t.Errorf("the token committed under %s is stored with %q in the clear", showKey(k), s)
				}
			}
		}
	}

	// The grant state, which may be kept in the clear, works beside
	// encrypted tokens, and a Commit clears it.
	if g, ok := c.(oauthrt.GrantStateStore); ok {
		dead := deadState(next)
		saveState(t, g, "k", dead)
		wantState(t, g, "k", dead, "beside an encrypted token")
		last := pair("at-sealed-3", "rt-sealed-3")
		commit(t, c, "k", next, last)
		wantState(t, g, "k", oauthrt.GrantState{}, "after a Commit to the encrypted store")
	}
}
