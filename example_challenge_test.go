package oauthrt_test

import (
	"context"
	"encoding/base64"
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

// An API asks for a stronger authentication than the token carries (RFC
// 9470): the request fails with a StepUpError saying what to ask of the
// user, and nothing is refreshed.
func ExampleStepUpError() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", `+
			`error_description="A more recent authentication is required", acr_values="urn:example:mfa", max_age="300"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer api.Close()

	store := oauthrt.NewMemoryStore()
	store.Save(context.Background(), "user-7", &oauth2.Token{AccessToken: "valid", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour)})
	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Key:   "user-7",
		Refresher: oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			return nil, errors.New("no refresh can answer a step-up challenge")
		}),
	}}

	_, err := client.Post(api.URL+"/payments", "application/json", nil)
	var su *oauthrt.StepUpError
	if errors.As(err, &su) {
		// Send the user through the authorization endpoint again with
		// acr_values and max_age, and save the token it gives.
		fmt.Printf("key %s: sign in again with acr_values=%q, max_age=%v\n", su.Key, su.ACRValues, su.MaxAge)
	}
	// Output:
	// key user-7: sign in again with acr_values="urn:example:mfa", max_age=5m0s
}

// An API revokes a token before its expiry with a claims challenge, as
// Microsoft Entra ID's Continuous Access Evaluation does: the Transport
// refreshes once with the challenge's claims, and sends the request
// again.
func ExampleClaimsChallenge() {
	const claims = `{"access_token":{"nbf":{"essential":true,"value":"1764460800"}}}`
	tokenEndpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("token endpoint: claims", r.PostFormValue("claims"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"for-claims","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}`)
	}))
	defer tokenEndpoint.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API got:", r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer for-claims" {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_claims", claims="`+
				base64.StdEncoding.EncodeToString([]byte(claims))+`"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer api.Close()

	store := oauthrt.NewMemoryStore()
	store.Save(context.Background(), "user-7", &oauth2.Token{AccessToken: "revoked", RefreshToken: "r1", Expiry: time.Now().Add(20 * time.Hour)})
	client := &http.Client{Transport: &oauthrt.Transport{
		Store:     store,
		Key:       "user-7",
		Refresher: &generic.Refresher{TokenURL: tokenEndpoint.URL, ClientID: "my-app"},
	}}
	resp, err := client.Get(api.URL + "/me")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("status:", resp.Status)
	// Output:
	// API got: Bearer revoked
	// token endpoint: claims {"access_token":{"nbf":{"essential":true,"value":"1764460800"}}}
	// API got: Bearer for-claims
	// status: 200 OK
}
