package redisstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"golang.org/x/oauth2"
)

// TestTransport is Example run for real: several Transports, standing for
// the processes of a fleet, each with its own Store on one Redis, find one
// key's token expired at once. Exactly one of them refreshes, and every
// request is sent with the refreshed token.
func TestTransport(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()

	var mu sync.Mutex
	seen := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Authorization")]++
		mu.Unlock()
	}))
	defer api.Close()

	seed := &redisstore.Store{Client: c, Prefix: prefix}
	err := seed.Save(ctx, "org-42", &oauth2.Token{AccessToken: "stale", RefreshToken: "r1", Expiry: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}

	var refreshes atomic.Int32
	refresher := oauthrt.RefresherFunc(func(_ context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
		refreshes.Add(1)
		if tok.RefreshToken != "r1" {
			t.Errorf("refreshed with %q, want r1", tok.RefreshToken)
		}
		time.Sleep(50 * time.Millisecond) // a token endpoint's round trip: the others must wait
		return &oauth2.Token{AccessToken: "fresh", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
	})

	const processes, requests = 4, 25
	var wg sync.WaitGroup
	for range processes {
		client := &http.Client{Transport: &oauthrt.Transport{
			Store:     &redisstore.Store{Client: c, Prefix: prefix},
			Key:       "org-42",
			Refresher: refresher,
		}}
		for range requests {
			wg.Go(func() {
				resp, err := client.Get(api.URL)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %s", resp.Status)
				}
			})
		}
	}
	wg.Wait()

	if n := refreshes.Load(); n != 1 {
		t.Errorf("%d requests in %d processes caused %d refreshes, want 1", processes*requests, processes, n)
	}
	if n := seen["Bearer fresh"]; n != processes*requests || len(seen) != 1 {
		t.Errorf("the API saw %v, want %d requests with Bearer fresh", seen, processes*requests)
	}
	tok, err := seed.Load(ctx, "org-42")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "fresh" || tok.RefreshToken != "r2" {
		t.Errorf("stored token: %q %q, want fresh r2", tok.AccessToken, tok.RefreshToken)
	}
}
