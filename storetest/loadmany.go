package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The batch checks hold an oauthrt.BatchLoader to Load: LoadMany returns,
// for every key it is given and in their order, the token Load returns,
// and nil exactly where Load fails.

func batchLoader(t *testing.T, b Backend, o Options) oauthrt.BatchLoader {
	t.Helper()
	return openAs[oauthrt.BatchLoader](t, b, o, "reading many keys together")
}

// sameAsLoad checks what LoadMany returned for keys against Load.
func sameAsLoad(t *testing.T, s oauthrt.BatchLoader, keys []string, got []*oauth2.Token, what string) {
	t.Helper()
	if len(got) != len(keys) {
		t.Fatalf("%s: LoadMany returned %d tokens for %d keys", what, len(got), len(keys))
	}
	for i, k := range keys {
		want, err := s.Load(context.Background(), k)
		switch {
		case err != nil && got[i] != nil:
			t.Errorf("%s: LoadMany returned a token (%q) for key %s, whose Load fails: %v", what, got[i].AccessToken, showKey(k), shorten(err))
		case err == nil && got[i] == nil:
			t.Errorf("%s: LoadMany returned nil for key %s, whose Load returns %q", what, showKey(k), want.AccessToken)
		case err == nil:
			sameToken(t, got[i], want)
		}
	}
}

// loadMany calls LoadMany, and fails the test on an error.
func loadMany(t *testing.T, s oauthrt.BatchLoader, keys []string) []*oauth2.Token {
	t.Helper()
	toks, err := s.LoadMany(context.Background(), keys)
	if err != nil {
		t.Fatalf("LoadMany of %d keys: %v", len(keys), shorten(err))
	}
	return toks
}

// testLoadMany reads keys with tokens, without, twice, odd ones and more
// than one statement's worth, and checks each against Load.
func testLoadMany(t *testing.T, b Backend) {
	s := batchLoader(t, b, Options{})
	if got := loadMany(t, s, nil); len(got) != 0 {
		t.Errorf("LoadMany of no keys returned %d tokens", len(got))
	}
	save(t, s, "a", fullToken())
	save(t, s, "b", minimalToken())
	keys := []string{"b", "missing", "a", "b", "A"}
	got := loadMany(t, s, keys)
	sameAsLoad(t, s, keys, got, "tokens, a missing key and a repeated one")
	if got[0] == nil || got[2] == nil || got[1] != nil || got[4] != nil {
		t.Fatalf("LoadMany(%q) = %v; want tokens for b, a and b, nil for the others", keys, got)
	}

	var odd []string
	for _, g := range oddKeyGroups() {
		for i, k := range g {
			if s.Save(context.Background(), k, &oauth2.Token{AccessToken: fmt.Sprintf("at-odd-%d", i)}) == nil {
				odd = append(odd, k)
			}
			keys = append(keys, k)
		}
	}
	sameAsLoad(t, s, keys, loadMany(t, s, keys), "odd keys")
	if len(odd) == 0 {
		t.Error("the store took none of the odd keys")
	}

	var many []string
	for i := range 300 {
		k := fmt.Sprintf("many-%d", i)
		if i%3 != 0 {
			save(t, s, k, &oauth2.Token{AccessToken: "at-" + k})
		}
		many = append(many, k)
	}
	got = loadMany(t, s, many)
	sameAsLoad(t, s, many, got, "300 keys, a third of them missing")
	for i, tok := range got {
		if i%3 != 0 && tok != nil && tok.AccessToken != "at-"+many[i] {
			t.Errorf("LoadMany: key %q got the token of another key (%q)", many[i], tok.AccessToken)
		}
	}
}

// testLoadManyUnreadable reads a corrupt key, and one sealed with another
// AEAD, among good ones: they are nil, the others are read.
func testLoadManyUnreadable(t *testing.T, b Backend) {
	s := batchLoader(t, b, Options{})
	save(t, s, "good", fullToken())
	keys := []string{"good"}
	if b.Put != nil {
		if err := b.Put("corrupt", []byte(`{"access_token":"at-secret","refresh`)); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, "corrupt")
	}
	if !b.NoEncryption {
		save(t, b.Open(Options{AEAD: newAEAD(t, 7)}), "sealed", fullToken())
		keys = append(keys, "sealed")
	}
	got := loadMany(t, s, keys)
	sameAsLoad(t, s, keys, got, "unreadable keys")
	for i, tok := range got[1:] {
		if tok != nil {
			t.Errorf("LoadMany returned a token for key %q, which cannot be read", keys[i+1])
		}
	}
}

// testLoadManyEncrypted reads tokens sealed with the store's AEAD.
func testLoadManyEncrypted(t *testing.T, b Backend) {
	if b.NoEncryption {
		t.Skip("the store has no encryption at rest")
	}
	s := batchLoader(t, b, Options{AEAD: newAEAD(t, 5)})
	save(t, s, "x", fullToken())
	save(t, s, "y", minimalToken())
	keys := []string{"y", "x"}
	sameAsLoad(t, s, keys, loadMany(t, s, keys), "sealed tokens")
}

// testLoadManyCancelledContext asks with a context that has ended: an
// error that wraps its cause.
func testLoadManyCancelledContext(t *testing.T, b Backend) {
	s := batchLoader(t, b, Options{})
	save(t, s, "k", minimalToken())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	toks, err := s.LoadMany(ctx, []string{"k"})
	if err == nil {
		t.Fatalf("LoadMany with a cancelled context returned %d tokens and no error", len(toks))
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("LoadMany with a cancelled context: %v; want an error wrapping context.Canceled", err)
	}
}
