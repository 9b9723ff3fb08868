package keepalive_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keepalive"
	"golang.org/x/oauth2"
)

// A sweep over two grants of a provider that ends grants left unused for
// 90 days: the one idle for 80 days is refreshed, the one refreshed
// yesterday is left alone.
func ExampleSweeper() {
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("token endpoint:", r.PostFormValue("grant_type"), r.PostFormValue("refresh_token"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"a2","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}`)
	}))
	defer tokenEndpoint.Close()

	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	// When each grant was last refreshed: its Expiry less its ExpiresIn.
	obtained := func(at time.Time, access, refresh string) *oauth2.Token {
		return &oauth2.Token{AccessToken: access, RefreshToken: refresh, ExpiresIn: 3600, Expiry: at.Add(time.Hour)}
	}
	store.Save(ctx, "tenant-1", obtained(time.Now().Add(-80*24*time.Hour), "a1", "r1"))
	store.Save(ctx, "tenant-2", obtained(time.Now().Add(-24*time.Hour), "b1", "s1"))

	conf := &oauth2.Config{ClientID: "my-app", Endpoint: oauth2.Endpoint{TokenURL: tokenEndpoint.URL, AuthStyle: oauth2.AuthStyleInParams}}
	transport := &oauthrt.Transport{
		Store: store,
		Refresher: oauthrt.RefresherFunc(func(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
			// x/oauth2 refreshes a token that holds only a refresh token.
			return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		}),
	}
	defer transport.Close()

	sweeper := &keepalive.Sweeper{
		Transport:    transport,
		IdleLifetime: 90 * 24 * time.Hour, // the provider's, as the providers catalog records it
		OnEvent: func(ev keepalive.Event) {
			if ev.Kind == keepalive.EventRefreshed {
				fmt.Println("kept alive:", ev.Key)
			}
		},
	}
	counts, err := sweeper.Sweep(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("scanned %d, refreshed %d, not due %d\n", counts.Scanned, counts.Refreshed, counts.NotDue)
	tok, _ := store.Load(ctx, "tenant-1")
	fmt.Println("tenant-1's refresh token:", tok.RefreshToken)
	// Output:
	// token endpoint: refresh_token r1
	// kept alive: tenant-1
	// scanned 2, refreshed 1, not due 1
	// tenant-1's refresh token: r2
}
