package oauthrt_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keepalive"
	"github.com/oauthrt/oauthrt/providers"
	"golang.org/x/oauth2"
)

// fakeProvider is a loopback token endpoint and API in a provider's
// dialect: dead answers one refresh token with dead (status and JSON body),
// and refreshes the others, rotating them.
func fakeProvider(dead string, deadStatus int, deadBody string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var refreshed []string
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			return // the API takes every token
		}
		w.Header().Set("Content-Type", "application/json")
		rt := r.PostFormValue("refresh_token")
		if rt == dead {
			w.WriteHeader(deadStatus)
			io.WriteString(w, deadBody)
			return
		}
		mu.Lock()
		refreshed = append(refreshed, rt)
		mu.Unlock()
		fmt.Fprintf(w, `{"access_token":"at-%s","refresh_token":"%s+","token_type":"bearer","expires_in":28800}`, rt, rt)
	})), &refreshed
}

// A service connected to GitHub and HubSpot for many organizations, with
// one store for all of them: the catalog builds each provider's Refresher
// (its client authentication, its dead-grant dialect, its rotation grace),
// one Transport per provider serves every organization through WithKey,
// a keep-alive sweep refreshes the GitHub grants idle for nearly the
// catalog's idle lifetime, and health events and ListStatuses tell the
// operators which organizations must connect again.
func Example_multiTenant() {
	github, githubRefreshed := fakeProvider("", 0, "")
	defer github.Close()
	hubspot, _ := fakeProvider("rt-acme", http.StatusBadRequest, `{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}`)
	defer hubspot.Close()

	ctx := context.Background()
	now := time.Now()
	store := oauthrt.NewMemoryStore() // or filestore, sqlstore, redisstore: all list their keys
	seed := func(key, rt string, refreshedAgo time.Duration) {
		const life = 8 * time.Hour
		store.Save(ctx, key, &oauth2.Token{AccessToken: "at-" + rt, RefreshToken: rt,
			Expiry: now.Add(-refreshedAgo + life), ExpiresIn: int64(life / time.Second)})
	}
	seed("github:globex", "rt-globex", 170*24*time.Hour) // idle since the spring
	seed("github:initech", "rt-initech", 3*24*time.Hour)
	seed("hubspot:acme", "rt-acme", 30*24*time.Hour) // its access token has expired

	alerts := make(chan oauthrt.HealthEvent, 10)
	// README: multitenant
	onHealth := func(ev oauthrt.HealthEvent) { alerts <- ev } // once per change, for the whole fleet
	transports := map[string]*oauthrt.Transport{}
	for _, p := range []struct{ id, tokenURL string }{{"github-app", github.URL + "/token"}, {"hubspot", hubspot.URL + "/token"}} {
		provider, _ := providers.Lookup(p.id)
		refresher, err := provider.Refresher(providers.Config{
			ClientID:     "our-app",
			ClientSecret: "our-secret",
			TokenURL:     p.tokenURL, // the catalog's endpoint, but for this example's loopback server
		})
		if err != nil {
			log.Fatal(err)
		}
		transports[p.id] = &oauthrt.Transport{Store: store, Refresher: refresher, OnHealth: onHealth}
		defer transports[p.id].Close()
	}

	// Requests act for an organization through its key.
	hubspotClient := &http.Client{Transport: transports["hubspot"]}
	req, _ := http.NewRequestWithContext(oauthrt.WithKey(ctx, "hubspot:acme"), "GET", hubspot.URL+"/crm/v3/objects/contacts", nil)
	if _, err := hubspotClient.Do(req); err != nil {
		fmt.Println("hubspot:acme must connect again:", strings.Contains(err.Error(), "BAD_REFRESH_TOKEN"))
	}
	ev := <-alerts
	fmt.Printf("alert: %s went %s -> %s (%s)\n", ev.Key, ev.From, ev.To, ev.Status.Code)

	// Grants left unused die: sweep them ahead of the catalog's lifetime.
	provider, _ := providers.Lookup("github-app")
	sweeper := &keepalive.Sweeper{
		Transport:    transports["github-app"],
		Prefix:       "github:",
		IdleLifetime: provider.IdleLifetime.Value, // 183 days, from GitHub's documentation
	}
	counts, err := sweeper.Sweep(ctx) // or go sweeper.Run(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("keep-alive: %d keys, %d refreshed, %d not due\n", counts.Scanned, counts.Refreshed, counts.NotDue)

	// The operators' view, without reading a token.
	dead, _, err := oauthrt.ListStatuses(ctx, store, "", "", 100, oauthrt.HealthDead)
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range dead {
		fmt.Printf("dead: %s (%s)\n", st.Key, st.Code)
	}
	// END README
	fmt.Println("GitHub refresh tokens presented:", slices.Clone(*githubRefreshed))
	// Output:
	// hubspot:acme must connect again: true
	// alert: hubspot:acme went healthy -> dead (BAD_REFRESH_TOKEN)
	// keep-alive: 2 keys, 1 refreshed, 1 not due
	// dead: hubspot:acme (BAD_REFRESH_TOKEN)
	// GitHub refresh tokens presented: [rt-globex]
}
