package oauthrt_test

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The benchmarks compare oauthrt with bare Base and with x/oauth2 on the
// same work; see bench_helpers_test.go for the impl names, and
// scripts/bench to run them all and read them with benchstat.

// newImpl returns the RoundTripper impl over base, holding a valid token
// that is never refreshed: base itself, an oauthrt Transport whose store
// holds the token under its Key (a DPoP-bound one for oauthrt-dpop, whose
// proofs base accepts unchecked, so that the client's cost alone is
// measured), or an x/oauth2 Transport. It sends one request to url
// first, so that the token is loaded (and a connection open) before
// anything is measured.
func newImpl(b *testing.B, impl string, base http.RoundTripper, url string) http.RoundTripper {
	var rt http.RoundTripper
	switch impl {
	case implBase:
		rt = base
	case implOauthrt:
		store := memoryStore(b, []string{"k"}, []*oauth2.Token{validToken(1)})
		rt = newOauthrt(base, store, &issuer{clock: newClock()})
	case implOauthrtDPoP:
		store := memoryStore(b, []string{"k"}, []*oauth2.Token{validDPoPToken(b, 1)})
		rt = newOauthrt(base, store, &issuer{clock: newClock()})
	case implXoauth2:
		rt = newXoauth2(base, unusedConf, nil, validToken(1))
	default:
		b.Fatalf("unknown impl %q", impl)
	}
	if err := send(rt, newGet(b, context.Background(), url)); err != nil {
		b.Fatal(err)
	}
	return rt
}

// newGet returns a GET request for url carrying ctx.
func newGet(b *testing.B, ctx context.Context, url string) *http.Request {
	b.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	return req
}

var allImpls = []string{implBase, implOauthrt, implOauthrtDPoP, implXoauth2}

// BenchmarkHotPath is the cost of authorizing one request with a valid
// token, over a Base that answers at once from memory.
func BenchmarkHotPath(b *testing.B) {
	for _, impl := range allImpls {
		b.Run("impl="+impl, func(b *testing.B) {
			rt := newImpl(b, impl, newCanned(), "https://api.example/")
			req := newGet(b, context.Background(), "https://api.example/")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHotPathParallel is BenchmarkHotPath with requests from
// GOMAXPROCS goroutines at once, all for the same key.
func BenchmarkHotPathParallel(b *testing.B) {
	for _, impl := range allImpls {
		b.Run("impl="+impl, func(b *testing.B) {
			rt := newImpl(b, impl, newCanned(), "https://api.example/")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := newGet(b, context.Background(), "https://api.example/")
				for pb.Next() {
					if _, err := rt.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// loopbackBase starts a loopback API server answering every request with
// a short body, and returns its URL and a keep-alive transport to it.
func loopbackBase(b *testing.B) (string, *http.Transport) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	b.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return srv.URL, tr
}

// BenchmarkLoopback is BenchmarkHotPath end to end: each request goes
// over a kept-alive connection to a loopback server, its body read and
// closed.
func BenchmarkLoopback(b *testing.B) {
	for _, impl := range allImpls {
		b.Run("impl="+impl, func(b *testing.B) {
			url, base := loopbackBase(b)
			rt := newImpl(b, impl, base, url)
			req := newGet(b, context.Background(), url)
			b.ReportAllocs()
			for b.Loop() {
				if err := send(rt, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoopbackParallel is BenchmarkLoopback with requests from
// GOMAXPROCS goroutines at once.
func BenchmarkLoopbackParallel(b *testing.B) {
	for _, impl := range allImpls {
		b.Run("impl="+impl, func(b *testing.B) {
			url, base := loopbackBase(b)
			rt := newImpl(b, impl, base, url)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := newGet(b, context.Background(), url)
				for pb.Next() {
					if err := send(rt, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// manyKeys is how many keys BenchmarkManyKeys spreads its requests over.
const manyKeys = 10_000

// manyTokens returns manyKeys keys and a valid token for each.
func manyTokens() ([]string, []*oauth2.Token) {
	keys := make([]string, manyKeys)
	toks := make([]*oauth2.Token, manyKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%d", i)
		toks[i] = validToken(i)
	}
	return keys, toks
}

// jwtSize is the length of the access tokens of the B/key+jwt figure: a
// JWT access token, such as Microsoft Entra's, runs to one or two
// kilobytes.
const jwtSize = 1500

// jwtTokens returns toks with access tokens jwtSize bytes long.
func jwtTokens(toks []*oauth2.Token) []*oauth2.Token {
	out := make([]*oauth2.Token, len(toks))
	for i, tok := range toks {
		cp := *tok
		cp.AccessToken = tok.AccessToken + strings.Repeat("x", jwtSize-len(tok.AccessToken))
		out[i] = &cp
	}
	return out
}

// BenchmarkManyKeys sends requests cycling over 10,000 keys, each with a
// valid token already in use, and reports the memory each key takes:
// oauthrt keeps them all in one Transport (the key rides in the request's
// context), x/oauth2 needs one Transport, and so one TokenSource, per key,
// which the application looks up by key. The keys, the requests and the
// tokens as stored are made before the memory is measured; what is
// measured is the live heap after the first request of every key, less
// the heap before the Transports were made. Two figures per key:
//
//   - B/key counts no token: for oauthrt, the key's state, its cached
//     token (which points at the token the MemoryStore holds, and carries
//     the Authorization value built from it) and the key's entry in the
//     Transport's map; for x/oauth2, the Transport, its TokenSources
//     (which point at the tokens made beforehand) and the application's
//     map entry.
//   - B/key+token adds one copy of each token, made while measured, as
//     when tokens come from a database: oauthrt's store hands out a new
//     copy at each Load, as sqlstore and redisstore do when they decode
//     one, and the cached token keeps its own copy of it, whose access
//     token shares the bytes of the Authorization value; the application
//     using x/oauth2 loads a copy, with strings of its own, and hands it
//     to the TokenSource, which keeps it.
//   - B/key+jwt is B/key+token with access tokens of jwtSize bytes.
func BenchmarkManyKeys(b *testing.B) {
	b.Run("impl="+implOauthrt, func(b *testing.B) {
		keys, toks := manyTokens()
		store := memoryStore(b, keys, toks)
		reqs := make([]*http.Request, manyKeys)
		for i, k := range keys {
			reqs[i] = newGet(b, oauthrt.WithKey(context.Background(), k), "https://api.example/")
		}
		base := newCanned()

		copies, perKeyToken := oauthrtKeys(b, base, copyingStore{store}, reqs)
		copies.Close()
		jwts, perKeyJWT := oauthrtKeys(b, base, copyingStore{memoryStore(b, keys, jwtTokens(toks))}, reqs)
		jwts.Close()
		tr, perKey := oauthrtKeys(b, base, store, reqs)

		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := tr.RoundTrip(reqs[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == manyKeys {
				i = 0
			}
		}
		// After b.Loop, which resets metrics.
		b.ReportMetric(perKey, "B/key")
		b.ReportMetric(perKeyToken, "B/key+token")
		b.ReportMetric(perKeyJWT, "B/key+jwt")
	})
	b.Run("impl="+implXoauth2, func(b *testing.B) {
		keys, toks := manyTokens()
		req := newGet(b, context.Background(), "https://api.example/")
		base := newCanned()

		_, perKeyToken := xoauth2Keys(b, base, req, keys, toks, true)
		jwt := jwtTokens(toks)
		_, perKeyJWT := xoauth2Keys(b, base, req, keys, jwt, true)
		runtime.KeepAlive(jwt) // the tokens as stored: not the Transports' to count
		trs, perKey := xoauth2Keys(b, base, req, keys, toks, false)

		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := trs[keys[i]].RoundTrip(req); err != nil {
				b.Fatal(err)
			}
			if i++; i == manyKeys {
				i = 0
			}
		}
		b.ReportMetric(perKey, "B/key")
		b.ReportMetric(perKeyToken, "B/key+token")
		b.ReportMetric(perKeyJWT, "B/key+jwt")
	})
}

// oauthrtKeys makes an oauthrt Transport over store, sends each of reqs
// (one per key) through it, and returns it with the heap it took per
// request's key.
func oauthrtKeys(b *testing.B, base http.RoundTripper, store oauthrt.TokenStore, reqs []*http.Request) (*oauthrt.Transport, float64) {
	b.Helper()
	before := heapInUse()
	tr := newOauthrt(base, store, &issuer{clock: newClock()})
	for _, req := range reqs {
		if _, err := tr.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
	return tr, float64(heapInUse()-before) / float64(len(reqs))
}

// xoauth2Keys makes an x/oauth2 Transport for each of keys, holding its
// token in toks (a copy of it when copied), sends req through each, and
// returns them by key, with the heap they took per key. The application
// finds the key's Transport itself: a map, never written once built, is
// the cheapest way it can.
func xoauth2Keys(b *testing.B, base http.RoundTripper, req *http.Request, keys []string, toks []*oauth2.Token, copied bool) (map[string]*oauth2.Transport, float64) {
	b.Helper()
	before := heapInUse()
	trs := make(map[string]*oauth2.Transport, len(keys))
	for i, k := range keys {
		tok := toks[i]
		if copied {
			tok = copyToken(tok)
		}
		trs[k] = newXoauth2(base, unusedConf, nil, tok)
		if _, err := trs[k].RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
	return trs, float64(heapInUse()-before) / float64(len(keys))
}

// stormSize is how many requests arrive at once for an expired token in
// BenchmarkRefreshStorm.
const stormSize = 10_000

// BenchmarkRefreshStorm is the wall time from 10,000 requests arriving at
// once for one expired token until they all have their response, with a
// token endpoint that takes 50 ms; endpoint-calls/op counts the refreshes
// it took. Each iteration has its own endpoint, Transport and goroutines.
func BenchmarkRefreshStorm(b *testing.B) {
	for _, impl := range []string{implOauthrt, implXoauth2} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			var calls int64
			for b.Loop() {
				b.StopTimer()
				calls += refreshStorm(b, impl)
				b.StartTimer()
			}
			b.ReportMetric(float64(calls)/float64(b.N), "endpoint-calls/op")
		})
	}
}

// refreshStorm runs one iteration of BenchmarkRefreshStorm, timing only
// the storm itself, and returns the endpoint's calls. The timer must be
// stopped when it is called.
func refreshStorm(b *testing.B, impl string) int64 {
	e := newSlowEndpoint(50*time.Millisecond, false, stormSize)
	defer e.close()
	base := newCanned()
	var rt http.RoundTripper
	switch impl {
	case implOauthrt:
		rt = newOauthrt(base, memoryStore(b, []string{"k"}, []*oauth2.Token{expiredToken()}), e.refresher())
	case implXoauth2:
		rt = newXoauth2(base, e.conf(), e.client, expiredToken())
	default:
		b.Fatalf("unknown impl %q", impl)
	}
	// Each request has a context of its own, as a server's requests do,
	// all ended after benchBound.
	bound, cancel := context.WithTimeout(context.Background(), benchBound)
	defer cancel()

	start := make(chan struct{}) // closed: the start gun
	var ready, done sync.WaitGroup
	var failures atomic.Int64
	var firstErr atomic.Pointer[error]
	for range stormSize {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ctx, cancel := context.WithCancel(bound)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example/", nil)
			ready.Done()
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			<-start
			if _, err := rt.RoundTrip(req); err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
		}()
	}
	ready.Wait()
	finished := make(chan struct{})
	go func() {
		done.Wait()
		close(finished)
	}()

	b.StartTimer()
	close(start)
	await(b, finished, "the storm's requests")
	b.StopTimer()

	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed, the first with: %v", n, stormSize, *firstErr.Load())
	}
	return e.calls.Load()
}

// stallKeys is how many keys other than the refreshing one
// BenchmarkStall sends requests for.
const stallKeys = 100

// BenchmarkStall measures requests while the token of one key, A, is
// being refreshed against a token endpoint that takes 500 ms:
//
//   - victim=other: requests for other keys, whose tokens are valid. They
//     should cost what the hot path costs. The endpoint holds A's refresh
//     until the timed loop is over (and at least 500 ms), so that every
//     timed request overlaps it however many b.Loop runs.
//   - victim=same: one request for A itself, per iteration, sent once a
//     fresh refresh has reached the endpoint. It waits for that refresh:
//     about 500 ms.
//
// oauthrt serves every key from one Transport. x/oauth2 is used as it
// must be for many keys, with one Transport per key; there, a request for
// the refreshing key blocks on the mutex of its reuseTokenSource, which
// is held through the call to the token endpoint.
func BenchmarkStall(b *testing.B) {
	for _, impl := range []string{implOauthrt, implXoauth2} {
		b.Run("impl="+impl+"/victim=other", func(b *testing.B) { stallOther(b, impl) })
		b.Run("impl="+impl+"/victim=same", func(b *testing.B) { stallSame(b, impl) })
	}
}

func stallOther(b *testing.B, impl string) {
	e := newSlowEndpoint(500*time.Millisecond, true, 4)
	defer e.close()
	base := newCanned()
	ctx, cancel := context.WithTimeout(context.Background(), benchBound)
	defer cancel()

	var victim http.RoundTripper
	victimReq := newGet(b, ctx, "https://api.example/")
	others := make([]http.RoundTripper, stallKeys)
	reqs := make([]*http.Request, stallKeys)
	switch impl {
	case implOauthrt:
		keys := []string{"A"}
		toks := []*oauth2.Token{expiredToken()}
		for i := range stallKeys {
			keys = append(keys, fmt.Sprintf("B%d", i))
			toks = append(toks, validToken(i))
		}
		tr := newOauthrt(base, memoryStore(b, keys, toks), e.refresher())
		victim = tr
		victimReq = newGet(b, oauthrt.WithKey(ctx, "A"), "https://api.example/")
		for i := range others {
			others[i] = tr
			reqs[i] = newGet(b, oauthrt.WithKey(context.Background(), keys[i+1]), "https://api.example/")
		}
	case implXoauth2:
		victim = newXoauth2(base, e.conf(), e.client, expiredToken())
		req := newGet(b, context.Background(), "https://api.example/")
		for i := range others {
			others[i] = newXoauth2(base, unusedConf, nil, validToken(i))
			reqs[i] = req
		}
	default:
		b.Fatalf("unknown impl %q", impl)
	}
	for i, rt := range others { // load every other key's token
		if _, err := rt.RoundTrip(reqs[i]); err != nil {
			b.Fatal(err)
		}
	}

	victimDone := goErr(func() error {
		_, err := victim.RoundTrip(victimReq)
		return err
	})
	e.awaitArrival(b)
	if impl == implOauthrt && oauthrt.FlightWaiters(victim.(*oauthrt.Transport), "A") < 0 {
		b.Fatal("no refresh of A under way")
	}

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := others[i].RoundTrip(reqs[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == stallKeys {
			i = 0
		}
	}

	select {
	case err := <-victimDone:
		b.Fatalf("A's request ended during the measurement: %v", err)
	default:
	}
	e.release()
	awaitErr(b, victimDone, "A's request")
}

func stallSame(b *testing.B, impl string) {
	e := newSlowEndpoint(500*time.Millisecond, false, 4)
	defer e.close()
	base := newCanned()

	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		var rt http.RoundTripper
		switch impl {
		case implOauthrt:
			rt = newOauthrt(base, memoryStore(b, []string{"k"}, []*oauth2.Token{expiredToken()}), e.refresher())
		case implXoauth2:
			rt = newXoauth2(base, e.conf(), e.client, expiredToken())
		default:
			b.Fatalf("unknown impl %q", impl)
		}
		ctx, cancel := context.WithTimeout(context.Background(), benchBound)
		req := newGet(b, ctx, "https://api.example/")
		first := goErr(func() error {
			_, err := rt.RoundTrip(req)
			return err
		})
		e.awaitArrival(b)

		b.StartTimer()
		_, err := rt.RoundTrip(req)
		b.StopTimer()

		if err != nil {
			b.Fatal(err)
		}
		awaitErr(b, first, "the request that started the refresh")
		cancel()
		b.StartTimer()
	}
}

// lookupSizes are the key counts of BenchmarkLookup: up to
// OAUTHRT_BENCH_LOOKUP_MAX (default 100,000, so that CI's single run of
// every benchmark stays short; scripts/bench sets 1,000,000, issue 15's
// figure).
func lookupSizes(b *testing.B) []int {
	most := 100_000
	if v := os.Getenv("OAUTHRT_BENCH_LOOKUP_MAX"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("OAUTHRT_BENCH_LOOKUP_MAX=%q: want a positive number", v)
		}
		most = n
	}
	sizes := []int{1}
	for n := 1000; n <= most; n *= 1000 {
		sizes = append(sizes, n)
	}
	if last := sizes[len(sizes)-1]; last != most && most > 1 {
		sizes = append(sizes, most)
	}
	return sizes
}

// warmLookups is how many requests a Transport of BenchmarkLookup serves
// among n keys before it is timed: enough for its heap to grow to the
// collector's goal (the allocations of as many requests as the live heap
// holds bytes, about one per key; twice that for margin), so that the
// timed requests allocate on pages already faulted in, whichever
// implementation ran before it in the process.
func warmLookups(n int) int { return 2 * n }

// BenchmarkLookup is a request for a key drawn at random among n warm
// keys, each with a valid token: what finding the key's state costs as
// the keys grow, when they no longer fit in the CPU's caches. oauthrt
// finds it in one Transport from the key in the request's context;
// x/oauth2 needs a Transport per key, found in a map; "map" is a plain
// Go map lookup of the key alone, the floor for the growth from 1 key to
// n. Both Transports get a request made for the key (x/oauth2's carries
// no key), so that both reach one that is no longer in the caches. The
// order of keys is drawn once, so that every implementation sees the same
// sequence.
//
// Each Transport serves warmLookups(n) requests before it is timed. In
// one process, the implementation that runs second would otherwise
// allocate on pages the first had already faulted in while its heap grew
// to its goal, which was worth about 7% at a million keys, to whichever
// ran second. scripts/bench also runs each at a million keys in a
// process of its own, alternating which goes first.
func BenchmarkLookup(b *testing.B) {
	for _, n := range lookupSizes(b) {
		keys, order := lookupKeys(n)
		base := newCanned()
		b.Run(fmt.Sprintf("keys=%d/impl=%s", n, implOauthrt), func(b *testing.B) {
			tr := lookupOauthrt(b, base, keys)
			defer tr.Close()
			reqs := make([]*http.Request, n)
			for i, k := range keys {
				reqs[i] = newGet(b, oauthrt.WithKey(context.Background(), k), "https://api.example/")
				if _, err := tr.RoundTrip(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
			for i := range warmLookups(n) {
				if _, err := tr.RoundTrip(reqs[order[i&(len(order)-1)]]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := tr.RoundTrip(reqs[order[i&(len(order)-1)]]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("keys=%d/impl=%s", n, implXoauth2), func(b *testing.B) {
			// A request of its own for each key, as oauthrt has (there
			// the key rides in it): each impl reaches a request that
			// is not in the CPU's caches, and only the lookup differs.
			trs := lookupXoauth2(base, keys)
			reqs := make([]*http.Request, n)
			for i, k := range keys {
				reqs[i] = newGet(b, context.Background(), "https://api.example/")
				if _, err := trs[k].RoundTrip(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
			for i := range warmLookups(n) {
				j := order[i&(len(order)-1)]
				if _, err := trs[keys[j]].RoundTrip(reqs[j]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				j := order[i&(len(order)-1)]
				if _, err := trs[keys[j]].RoundTrip(reqs[j]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("keys=%d/impl=map", n), func(b *testing.B) {
			m := make(map[string]*oauth2.Token, n)
			for i, k := range keys {
				m[k] = validToken(i)
			}
			i := 0
			for b.Loop() {
				if m[keys[order[i&(len(order)-1)]]] == nil {
					b.Fatal("missing key")
				}
				i++
			}
		})
	}
}

// BenchmarkLookupNewRequest is BenchmarkLookup with each request built
// for its call, as a client builds it: only what the Transports keep per
// key is out of the CPU's caches, not the request. oauthrt's request
// carries its key through WithKey; x/oauth2's Transport is found in the
// map by the key. Both pay the same http.NewRequestWithContext.
func BenchmarkLookupNewRequest(b *testing.B) {
	for _, n := range lookupSizes(b) {
		keys, order := lookupKeys(n)
		base := newCanned()
		b.Run(fmt.Sprintf("keys=%d/impl=%s", n, implOauthrt), func(b *testing.B) {
			tr := lookupOauthrt(b, base, keys)
			defer tr.Close()
			timeLookups(b, keys, order, func(k string) {
				if _, err := tr.RoundTrip(newGet(b, oauthrt.WithKey(context.Background(), k), "https://api.example/")); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("keys=%d/impl=%s", n, implXoauth2), func(b *testing.B) {
			trs := lookupXoauth2(base, keys)
			timeLookups(b, keys, order, func(k string) {
				if _, err := trs[k].RoundTrip(newGet(b, context.Background(), "https://api.example/")); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// timeLookups sends a request for each of keys through send, then
// warmLookups(len(keys)) more, then times requests for keys in order.
func timeLookups(b *testing.B, keys []string, order []int32, send func(key string)) {
	for _, k := range keys {
		send(k)
	}
	for i := range warmLookups(len(keys)) {
		send(keys[order[i&(len(order)-1)]])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		send(keys[order[i&(len(order)-1)]])
		i++
	}
}

// lookupKeys returns the n keys of the lookup benchmarks, and the order
// in which they are requested: drawn once, so that every implementation
// sees the same sequence.
func lookupKeys(n int) (keys []string, order []int32) {
	keys = make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%d", i)
	}
	order = make([]int32, 1<<20)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range order {
		order[i] = int32(rng.IntN(n))
	}
	return keys, order
}

// lookupOauthrt returns an oauthrt Transport over base whose MemoryStore
// holds a valid token for each of keys.
func lookupOauthrt(b *testing.B, base http.RoundTripper, keys []string) *oauthrt.Transport {
	toks := make([]*oauth2.Token, len(keys))
	for i := range toks {
		toks[i] = validToken(i)
	}
	return newOauthrt(base, memoryStore(b, keys, toks), &issuer{clock: newClock()})
}

// lookupXoauth2 returns an x/oauth2 Transport over base for each of keys,
// each holding a valid token, by key.
func lookupXoauth2(base http.RoundTripper, keys []string) map[string]*oauth2.Transport {
	trs := make(map[string]*oauth2.Transport, len(keys))
	for i, k := range keys {
		trs[k] = newXoauth2(base, unusedConf, nil, validToken(i))
	}
	return trs
}
