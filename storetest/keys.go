package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// oddKeyGroups returns the keys testOddKeys saves, in groups of keys
// that a lossy store could merge: invalid UTF-8 and its U+FFFD
// spelling, case, surrounding spaces, Unicode normalization, truncation
// at a NUL byte or a length, path cleaning. Every key appears once.
func oddKeyGroups() [][]string {
	long := longKey(100 << 10)
	return [][]string{
		{"", "\x00", " "},
		{"\xff\xfe", "\ufffd\ufffd", "\xfe\xff", "\xff"},
		{"a\xffb", "a\ufffdb", "a?b"},
		// A UTF-16 surrogate encoded in UTF-8, and an overlong NUL.
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd", "\ufffd", "\xed\xa0\x81"},
		{"\xc0\x80", "\xc0"},
		{"a\x00b", "a", "a\x00c", "a\x00"},
		{"a/../b", "b", "a/b", "/", "a:b", ":", "..", "."},
		{"\n", "\r\n", "\r", "a\nb"},
		{" org ", "org", " org", "org ", "Org", "ORG"},
		{"\u00e9", "e\u0301", "\u00c9"}, // é in NFC and NFD, and É
		{long, long[:len(long)-1], long[:10<<10], long[:10<<10-1], long[:512], long[:511]},
	}
}

// longKey returns a key of n bytes that does not compress well, so that
// a store cannot keep it whole by compressing it. The keys it returns
// for different n share their prefixes, as a truncating store would
// make them.
func longKey(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%x.", uint32(i)*2654435761) // Knuth's multiplicative hash
	}
	return b.String()[:n]
}

// showKey quotes key for a message, shortened when it is long.
func showKey(key string) string {
	if len(key) <= 64 {
		return fmt.Sprintf("%q", key)
	}
	return fmt.Sprintf("%q… (%d bytes)", key[:32], len(key))
}

// testOddKeys checks that every key either round-trips exactly or is
// refused, clearly, by Save and the lease alike; and that no key ever
// reaches another's token or lease.
func testOddKeys(t *testing.T, b Backend) {
	s := b.Open(Options{LeaseTTL: time.Minute})
	ctx := context.Background()
	groups := oddKeyGroups()
	token := map[string]string{} // the access token saved under each key
	var keys []string
	for _, g := range groups {
		for _, k := range g {
			if _, dup := token[k]; dup {
				t.Fatalf("storetest: key %s listed twice", showKey(k))
			}
			token[k] = fmt.Sprintf("at-odd-%d", len(keys))
			keys = append(keys, k)
		}
	}

	accepted := map[string]bool{}
	for _, k := range keys {
		err := s.Save(ctx, k, &oauth2.Token{AccessToken: token[k]})
		if err == nil {
			accepted[k] = true
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "oauthrt") || !strings.Contains(msg, "key") {
			t.Errorf("Save(%s) refused the key with %q; want an error prefixed with the package that says what is wrong with the key", showKey(k), msg)
		}
		t.Logf("Save(%s) refused: %v", showKey(k), shorten(err))
	}
	for _, k := range keys {
		got, err := s.Load(ctx, k)
		switch {
		case !accepted[k] && got != nil:
			t.Errorf("Load(%s) of a key Save refused returned a token (%q)", showKey(k), got.AccessToken)
		case !accepted[k] && err == nil:
			t.Errorf("Load(%s) of a key Save refused returned neither a token nor an error", showKey(k))
		case !accepted[k]:
		case err != nil:
			t.Errorf("Load(%s) after Save: %v", showKey(k), shorten(err))
		case got.AccessToken != token[k]:
			t.Errorf("Load(%s) = the token saved under another key (%q, want %q)", showKey(k), got.AccessToken, token[k])
		}
	}

	l, ok := s.(oauthrt.Locker)
	if !ok {
		return
	}
	ll, _ := s.(oauthrt.LeaseLocker)
	for _, k := range keys {
		if accepted[k] {
			continue
		}
		lctx, cancel := ctxWithin(longWait)
		unlock, err := l.Lock(lctx, k)
		if err == nil {
			unlock()
			t.Errorf("Lock(%s) succeeded for a key Save refused", showKey(k))
		}
		if ll != nil {
			lease, err := ll.TakeLease(lctx, k)
			if err == nil {
				lease.Release()
				t.Errorf("TakeLease(%s) succeeded for a key Save refused", showKey(k))
			}
		}
		cancel()
	}

	// Every other accepted key of each group is locked, and then the
	// others; each time, the locked keys must be held and their
	// neighbours free.
	for phase := range 2 {
		var mine, near []string
		for _, g := range groups {
			i := 0
			for _, k := range g {
				if !accepted[k] {
					continue
				}
				if i%2 == phase {
					mine = append(mine, k)
				} else {
					near = append(near, k)
				}
				i++
			}
		}
		var unlocks []func()
		for _, k := range mine {
			if ll != nil && len(unlocks)%2 == 1 {
				unlocks = append(unlocks, take(t, ll, k).Release)
			} else {
				unlocks = append(unlocks, lock(t, l, k))
			}
		}
		for _, err := range concurrently(l, mine, near, oddFreeWait) {
			t.Error(err)
		}
		for _, unlock := range unlocks {
			unlock()
		}
	}
	var all []string
	for _, k := range keys {
		if accepted[k] {
			all = append(all, k)
		}
	}
	for _, err := range concurrently(l, nil, all, oddFreeWait) {
		t.Errorf("after release: %v", err)
	}
}

// oddFreeWait bounds a Lock of testOddKeys that should find the lease
// free. The many Locks at once can be slow (SQLite writes one at a time),
// and a lease held by mistake would last testOddKeys' TTL of a minute.
const oddFreeWait = 20 * time.Second

// concurrently checks, at once, that each key of held is held by
// someone else and that each key of free is free: a Lock bounded by
// freeWait takes it.
func concurrently(l oauthrt.Locker, held, free []string, freeWait time.Duration) []error {
	var mu sync.Mutex
	var errs []error
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for _, k := range held {
		wg.Go(func() {
			ctx, cancel := ctxWithin(shortWait)
			defer cancel()
			unlock, err := l.Lock(ctx, k)
			if err == nil {
				unlock()
				report(fmt.Errorf("Lock(%s) succeeded while the key's lease was held", showKey(k)))
			} else if !errors.Is(err, context.DeadlineExceeded) {
				report(fmt.Errorf("Lock(%s) while the key's lease was held: err = %v, want context.DeadlineExceeded", showKey(k), shorten(err)))
			}
		})
	}
	for _, k := range free {
		wg.Go(func() {
			ctx, cancel := ctxWithin(freeWait)
			defer cancel()
			unlock, err := l.Lock(ctx, k)
			if err != nil {
				report(fmt.Errorf("Lock(%s) of a key whose lease nobody holds: %v", showKey(k), shorten(err)))
				return
			}
			unlock()
		})
	}
	wg.Wait()
	return errs
}

// shorten keeps an error that quotes a long key readable.
func shorten(err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		return msg[:150] + fmt.Sprintf(" … (%d bytes) … ", len(msg)) + msg[len(msg)-150:]
	}
	return msg
}
