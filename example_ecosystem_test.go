package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// rotatingProvider is a token endpoint (/token) and an API (/api) like
// many real ones: every refresh rotates the refresh token, and a refresh
// token presented after it was rotated revokes the whole grant (RFC
// 9700). Access tokens are "access-1", "access-2", …; refresh tokens
// "refresh-1", ….
func rotatingProvider() *httptest.Server {
	var (
		mu      sync.Mutex
		n       = 1
		revoked bool
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if revoked || r.PostFormValue("refresh_token") != fmt.Sprint("refresh-", n) {
			revoked = true
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"refresh token reused: grant revoked"}`)
			return
		}
		n++
		fmt.Fprintf(w, `{"access_token":"access-%d","refresh_token":"refresh-%d","token_type":"Bearer","expires_in":3600}`, n, n)
	})
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if revoked || r.Header.Get("Authorization") != fmt.Sprint("Bearer access-", n) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	})
	return httptest.NewServer(mux)
}

// Moving from golang.org/x/oauth2 alone: the Config stays, for the
// authorization flow and as the Refresher's settings. With x/oauth2 the
// refreshed token lives only in the client's memory; the next process
// starts from the saved token, whose refresh token was rotated, and the
// provider revokes the grant. With a Transport the rotated token is saved
// before it is used.
func Example_migratingFromOAuth2() {
	provider := rotatingProvider()
	defer func() { provider.Close() }()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, provider.Client())
	conf := &oauth2.Config{
		ClientID:     "my-app",
		ClientSecret: "my-secret",
		Endpoint:     oauth2.Endpoint{TokenURL: provider.URL + "/token"},
	}
	expired := &oauth2.Token{AccessToken: "access-1", RefreshToken: "refresh-1", Expiry: time.Now().Add(-time.Minute)}
	get := func(client *http.Client) {
		resp, err := client.Get(provider.URL + "/api")
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				fmt.Println("  failed:", re.ErrorCode, "-", re.ErrorDescription)
				return
			}
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println("  ", resp.Status)
	}

	fmt.Println("golang.org/x/oauth2 alone, two processes in turn:")
	saved := expired // what the program saved after the authorization flow
	// README: before
	client := conf.Client(ctx, saved) // saved: the token from conf.Exchange, kept somewhere
	// END README
	get(client)
	client = conf.Client(ctx, saved) // a restart: the rotated refresh token was never saved
	get(client)

	fmt.Println("oauthrt, two processes in turn:")
	provider.Close()
	provider = rotatingProvider()
	conf.Endpoint.TokenURL = provider.URL + "/token"
	store := oauthrt.NewMemoryStore() // filestore, sqlstore or redisstore across restarts
	store.Save(ctx, "user-42", expired)
	for range 2 {
		// README: after
		client = &http.Client{Transport: &oauthrt.Transport{
			Store:     store, // store.Save(ctx, "user-42", tok) after conf.Exchange
			Key:       "user-42",
			Refresher: generic.FromConfig(conf),
		}}
		// END README
		get(client)
	}
	tok, _ := store.Load(ctx, "user-42")
	fmt.Println("stored refresh token:", tok.RefreshToken)
	// Output:
	// golang.org/x/oauth2 alone, two processes in turn:
	//    200 OK
	//   failed: invalid_grant - refresh token reused: grant revoked
	// oauthrt, two processes in turn:
	//    200 OK
	//    200 OK
	// stored refresh token: refresh-2
}

// A library that takes an oauth2.TokenSource gets the tokens of one key
// from the same cache, refresh and store as the Transport's requests, so
// that it never starts a refresh of its own that could race them.
func ExampleTransport_TokenSource() {
	provider := rotatingProvider()
	defer provider.Close()
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "user-42", &oauth2.Token{AccessToken: "access-1", RefreshToken: "refresh-1", Expiry: time.Now().Add(-time.Minute)})

	tr := &oauthrt.Transport{
		Store:     store,
		Key:       "user-42",
		Refresher: &generic.Refresher{TokenURL: provider.URL + "/token", ClientID: "my-app", ClientSecret: "my-secret"},
	}
	defer tr.Close()
	// README: tokensource
	ts := tr.TokenSource(ctx, "user-42") // hand ts to the library
	tok, err := ts.Token()
	// END README
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the library got", tok.AccessToken)

	resp, err := (&http.Client{Transport: tr}).Get(provider.URL + "/api")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("the Transport's request:", resp.Status, "(no second refresh)")
	// Output:
	// the library got access-2
	// the Transport's request: 200 OK (no second refresh)
}

// A provider that already has an oauth2.TokenSource (here the client
// credentials grant, which needs no stored token) gets the Transport's
// store, single refresh per key, and 401 handling.
func ExampleTokenSourceRefresher() {
	var issued atomic.Int32
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"cc-%d","token_type":"Bearer","expires_in":3600}`, issued.Add(1))
	}))
	defer provider.Close()
	ctx := context.Background()
	cc := &clientcredentials.Config{ClientID: "worker", ClientSecret: "worker-secret", TokenURL: provider.URL}

	store := oauthrt.NewMemoryStore()
	tr := &oauthrt.Transport{
		Store:     store,
		Key:       "worker",
		Refresher: oauthrt.TokenSourceRefresher{Source: cc.TokenSource(ctx)},
	}
	defer tr.Close()
	tok, err := tr.TokenSource(ctx, "worker").Token() // nothing stored yet: issued, saved, used
	if err != nil {
		log.Fatal(err)
	}
	saved, _ := store.Load(ctx, "worker")
	fmt.Println(tok.AccessToken, "saved:", saved.AccessToken)
	// Output:
	// cc-1 saved: cc-1
}

// OnRefresh hears of each refresh once, however many requests shared it:
// here eight requests find the token expired, and one refresh serves
// them. The event names the key, why and how; never a token.
func ExampleRefreshEvent() {
	provider := rotatingProvider()
	defer provider.Close()
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "user-42", &oauth2.Token{AccessToken: "access-1", RefreshToken: "refresh-1", Expiry: time.Now().Add(-time.Minute)})

	tr := &oauthrt.Transport{
		Store:     store,
		Key:       "user-42",
		Refresher: &generic.Refresher{TokenURL: provider.URL + "/token", ClientID: "my-app", ClientSecret: "my-secret"},
		OnRefresh: func(ev oauthrt.RefreshEvent) {
			// In a service: a counter by ev.Reason and ev.Outcome, and a
			// histogram of ev.Duration (see examples/metrics).
			fmt.Printf("refresh of %s: %s, %s, error: %v\n", ev.Key, ev.Reason, ev.Outcome, ev.Err)
		},
	}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := client.Get(provider.URL + "/api")
			if err != nil {
				log.Fatal(err)
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	tr.Close() // waits for the OnRefresh calls under way
	// Output:
	// refresh of user-42: expired, refreshed, error: <nil>
}
