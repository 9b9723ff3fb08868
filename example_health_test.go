package oauthrt_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// A grant's health through an outage of its provider and a revoked
// refresh token: degraded while the token endpoint fails (never dead, how
// long it may last), healthy again once it answers, dead when the
// provider refuses the refresh token. Status reads it from the store, for
// every process sharing it; OnHealth hears of each change once.
func ExampleTransport_Status() {
	var answer atomic.Value
	answer.Store("down")
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch answer.Load() {
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "dead":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant"}`)
		default:
			io.WriteString(w, `{"access_token":"fresh","token_type":"Bearer","expires_in":1,"refresh_token":"r2"}`)
		}
	}))
	defer tokenEndpoint.Close()
	api := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer api.Close()

	ctx := context.Background()
	now := time.Now()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "org-42", &oauth2.Token{AccessToken: "stale", RefreshToken: "r1", Expiry: now.Add(-time.Minute)})
	changes := make(chan oauthrt.HealthEvent, 3)
	tr := &oauthrt.Transport{
		Store:     store,
		Key:       "org-42",
		Refresher: &generic.Refresher{TokenURL: tokenEndpoint.URL, ClientID: "my-app", ClientSecret: "my-secret"},
		Now:       func() time.Time { return now },
		// OnHealth may run after the request that saw the change has
		// returned, so the example hands each change over to print it in
		// order.
		OnHealth: func(ev oauthrt.HealthEvent) { changes <- ev },
	}
	defer tr.Close()
	get := func() {
		if resp, err := (&http.Client{Transport: tr}).Get(api.URL); err == nil {
			resp.Body.Close()
		}
	}
	status := func() {
		ev := <-changes
		fmt.Printf("health of %s: %s -> %s\n", ev.Key, ev.From, ev.To)
		st, _ := tr.Status(ctx, "org-42")
		fmt.Printf("status: %s, attempts %d, code %q\n", st.Health, st.Attempts, st.Code)
	}

	get() // the provider is down
	status()
	now = now.Add(time.Minute) // past the backoff
	answer.Store("up")
	get()
	status()
	now = now.Add(time.Minute) // the new token has expired
	answer.Store("dead")
	get()
	status()
	// Output:
	// health of org-42: healthy -> degraded
	// status: degraded, attempts 1, code ""
	// health of org-42: degraded -> healthy
	// status: healthy, attempts 0, code ""
	// health of org-42: healthy -> dead
	// status: dead, attempts 0, code "invalid_grant"
}
