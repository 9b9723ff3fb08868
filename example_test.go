package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// A client whose token has expired: the Transport refreshes it through
// the token endpoint, saves the rotated refresh token, then sends the
// request.
func ExampleTransport() {
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("token endpoint:", r.PostFormValue("grant_type"), r.PostFormValue("refresh_token"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"fresh","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}`)
	}))
	defer tokenEndpoint.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API got:", r.Header.Get("Authorization"))
	}))
	defer api.Close()

	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "org-42", &oauth2.Token{
		AccessToken:  "stale",
		RefreshToken: "r1",
		Expiry:       time.Now().Add(-time.Minute),
	})

	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Key:   "org-42",
		Refresher: &generic.Refresher{
			TokenURL:     tokenEndpoint.URL,
			ClientID:     "my-app",
			ClientSecret: "my-secret",
		},
	}}
	resp, err := client.Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	tok, _ := store.Load(ctx, "org-42")
	fmt.Println("status:", resp.Status, "stored refresh token:", tok.RefreshToken)
	// Output:
	// token endpoint: refresh_token r1
	// API got: Bearer fresh
	// status: 200 OK stored refresh token: r2
}

// One client serving many tenants: the request's context says whose
// token to use.
func ExampleWithKey() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API got:", r.Header.Get("Authorization"))
	}))
	defer api.Close()

	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "org-1", &oauth2.Token{AccessToken: "token-of-org-1"})
	store.Save(ctx, "org-2", &oauth2.Token{AccessToken: "token-of-org-2"})
	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Refresher: oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			return nil, errors.New("not needed here")
		}),
	}}

	for _, org := range []string{"org-2", "org-1"} {
		req, _ := http.NewRequestWithContext(oauthrt.WithKey(ctx, org), "GET", api.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	// Output:
	// API got: Bearer token-of-org-2
	// API got: Bearer token-of-org-1
}

// A dead grant: the token endpoint answers invalid_grant. The request is
// not sent, and the error says a person must authorize again.
func ExampleErrReauthRequired() {
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"the refresh token was revoked"}`)
	}))
	defer tokenEndpoint.Close()

	store := oauthrt.NewMemoryStore()
	store.Save(context.Background(), "org-42", &oauth2.Token{
		AccessToken:  "old",
		RefreshToken: "r1",
		Expiry:       time.Now().Add(-time.Minute),
	})
	client := &http.Client{Transport: &oauthrt.Transport{
		Store:     store,
		Key:       "org-42",
		Refresher: &generic.Refresher{TokenURL: tokenEndpoint.URL, ClientID: "my-app", ClientSecret: "my-secret"},
	}}

	_, err := client.Get("http://127.0.0.1:1/never-sent")
	var re *oauth2.RetrieveError
	if errors.Is(err, oauthrt.ErrReauthRequired) && errors.As(err, &re) {
		fmt.Println("ask the user to connect again:", re.ErrorCode, "-", re.ErrorDescription)
	}
	// Output:
	// ask the user to connect again: invalid_grant - the refresh token was revoked
}

// failingStore is a store whose Save fails, as a database that is down
// would. It holds a TokenStore, not a *MemoryStore, so that it is no
// Locker: with one, the Transport would also keep the lease and retry the
// save under it.
type failingStore struct{ oauthrt.TokenStore }

func (failingStore) Save(context.Context, string, *oauth2.Token) error {
	return errors.New("database is down")
}

// When the store cannot take a refreshed token, the request still
// succeeds with it, and OnError hears of it; later requests save it
// again.
func ExampleSaveError() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer api.Close()
	mem := oauthrt.NewMemoryStore()
	mem.Save(context.Background(), "org-42", &oauth2.Token{AccessToken: "old", RefreshToken: "r1", Expiry: time.Now()})

	client := &http.Client{Transport: &oauthrt.Transport{
		Store: failingStore{mem},
		Key:   "org-42",
		Refresher: oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			return &oauth2.Token{AccessToken: "new", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
		}),
		OnError: func(key string, err error) {
			var se *oauthrt.SaveError
			if errors.As(err, &se) {
				fmt.Printf("alert: %s: attempt %d: %v\n", key, se.Attempt, se.Err)
			}
		},
	}}
	resp, err := client.Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("request:", resp.Status)
	// Output:
	// alert: org-42: attempt 1: database is down
	// request: 200 OK
}

// While the token endpoint is down, a request that needs a refresh fails
// at once with a BackoffError saying when the next attempt will be,
// instead of waiting; no process sharing the store calls the endpoint
// before then.
func ExampleBackoffError() {
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer tokenEndpoint.Close()

	store := oauthrt.NewMemoryStore()
	store.Save(context.Background(), "org-42", &oauth2.Token{AccessToken: "old", RefreshToken: "r1", Expiry: time.Now()})
	client := &http.Client{Transport: &oauthrt.Transport{
		Store:     store,
		Key:       "org-42",
		Refresher: &generic.Refresher{TokenURL: tokenEndpoint.URL, ClientID: "my-app", ClientSecret: "my-secret"},
	}}

	for range 2 {
		_, err := client.Get("http://127.0.0.1:1/never-sent")
		var be *oauthrt.BackoffError
		if errors.As(err, &be) {
			fmt.Printf("%s: try again in about %v\n", be.Key, time.Until(be.Next).Round(time.Minute))
		}
	}
	state, _ := store.LoadGrantState(context.Background(), "org-42")
	fmt.Println("failures the fleet has seen:", state.Failures)
	// Output:
	// org-42: try again in about 2m0s
	// org-42: try again in about 2m0s
	// failures the fleet has seen: 1
}
