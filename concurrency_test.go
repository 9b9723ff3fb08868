package oauthrt_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Item 5: one refresh at a time per key, shared by every request that
// needs it; and item 2: the hot path takes no lock shared by requests.

const concurrentRequests = 100

// holdRefresh makes f's issuer block until every one of n requests waits
// on the refresh of key "k", so that the test sees them all share it.
func holdRefresh(t *testing.T, f *fixture, n int32, result error) {
	t.Helper()
	f.issuer.before = func(context.Context, *oauth2.Token) error {
		deadline := time.Now().Add(20 * time.Second)
		for oauthrt.FlightWaiters(f.tr, "k") < n {
			if time.Now().After(deadline) {
				t.Errorf("only %d of %d requests joined the refresh", oauthrt.FlightWaiters(f.tr, "k"), n)
				break
			}
			runtime.Gosched()
		}
		return result
	}
}

// getAll sends n concurrent GETs and returns their errors and statuses.
func getAll(f *fixture, n int) (errs []error, codes []int) {
	errs, codes = make([]error, n), make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := f.client.Get(f.api.URL)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	return errs, codes
}

// getAllOK sends n concurrent GETs, all of which must succeed.
func getAllOK(t *testing.T, f *fixture, n int) {
	t.Helper()
	errs, codes := getAll(f, n)
	for i := range errs {
		if errs[i] != nil || codes[i] != 200 {
			t.Fatalf("request %d: %v %d", i, errs[i], codes[i])
		}
	}
}

func TestConcurrentExpiredRequestsShareOneRefresh(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(time.Hour)
	holdRefresh(t, f, concurrentRequests, nil)
	getAllOK(t, f, concurrentRequests)
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("%d requests caused %d refreshes, want 1", concurrentRequests, n)
	}
	if n := f.store.saves.Load(); n != 1 {
		t.Errorf("saved %d times, want 1", n)
	}
}

func TestConcurrentRequestsShareTheRefreshError(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(time.Hour)
	holdRefresh(t, f, concurrentRequests, errBoom)
	errs, _ := getAll(f, concurrentRequests)
	for i, err := range errs {
		if !errors.Is(err, errBoom) {
			t.Fatalf("request %d: %v, want the shared refresh error", i, err)
		}
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("%d requests caused %d refreshes, want 1", concurrentRequests, n)
	}
}

func TestConcurrent401sShareOneRefresh(t *testing.T) {
	f := newFixture(t)
	f.get(t) // cache at-1
	f.api.reject("at-1")
	holdRefresh(t, f, concurrentRequests, nil)
	getAllOK(t, f, concurrentRequests)
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("%d rejected requests caused %d refreshes, want 1", concurrentRequests, n)
	}
}

func TestHotPathTakesNoLockSharedWithRefresh(t *testing.T) {
	f := newFixture(t)
	f.get(t) // cache at-1
	unlock := oauthrt.LockKey(f.tr, "k")
	defer unlock()
	done := make(chan int, 1)
	go func() {
		resp, err := f.client.Get(f.api.URL)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		if code != 200 {
			t.Errorf("status %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a request with a valid cached token blocked on the key's lock")
	}
}

func TestManyGoroutinesManyKeys(t *testing.T) {
	f := newFixture(t)
	keys := []string{"a", "b", "c", "d"}
	for _, k := range keys {
		f.store.put(t, k, &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-" + k, Expiry: f.clock.Now()})
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			ctx := oauthrt.WithKey(context.Background(), keys[i%len(keys)])
			req, _ := http.NewRequestWithContext(ctx, "GET", f.api.URL, nil)
			resp, err := f.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	if n := f.issuer.calls.Load(); n != int32(len(keys)) {
		t.Errorf("%d refreshes for %d expired keys, want one each", n, len(keys))
	}
}
