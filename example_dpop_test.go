package oauthrt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/dpop"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// A DPoP-bound grant (RFC 9449): the code exchange binds the first token
// to a key of the grant's own, the store keeps the key with the token,
// and every request carries a fresh proof signed with it. The servers
// here ask for a nonce first, as many do; the Refresher and the Transport
// answer with one more request each.
func Example_dPoP() {
	authServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("DPoP-Nonce", "token-nonce")
		w.Header().Set("Content-Type", "application/json")
		if exampleProof(r)["nonce"] != "token-nonce" {
			fmt.Println("token endpoint: asks for a nonce")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"use_dpop_nonce"}`)
			return
		}
		fmt.Println("token endpoint:", r.PostFormValue("grant_type"), "with a proof")
		io.WriteString(w, `{"access_token":"at-1","token_type":"DPoP","expires_in":3600,"refresh_token":"rt-1"}`)
	}))
	defer authServer.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("DPoP-Nonce", "api-nonce")
		if exampleProof(r)["nonce"] != "api-nonce" {
			fmt.Println("API: asks for a nonce")
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		fmt.Println("API got:", scheme, "token, proof for", exampleProof(r)["htm"], exampleProof(r)["htu"] == "http://"+r.Host+"/me")
	}))
	defer api.Close()
	ctx := context.Background()

	// README: dpop
	refresher := &generic.Refresher{
		TokenURL: authServer.URL + "/token",
		ClientID: "my-app",
		DPoP:     &generic.DPoP{}, // ES256 keys, one per grant
	}

	// The grant's key, whose thumbprint goes in the authorization request.
	key, err := dpop.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	jkt, _ := dpop.Thumbprint(key.Public())
	_ = oauth2.SetAuthURLParam("dpop_jkt", jkt) // an option of oauth2.Config.AuthCodeURL

	// Back from the authorization: the first token is bound to the key and
	// carries it, so the store keeps both (encrypted under its AEAD, if set).
	tok, err := refresher.ExchangeBound(ctx, "the-code", "https://app.example/callback", "", key)
	if err != nil {
		log.Fatal(err)
	}
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "user-7", tok)

	client := &http.Client{Transport: &oauthrt.Transport{Store: store, Key: "user-7", Refresher: refresher}}
	resp, err := client.Get(api.URL + "/me?fields=name")
	// END README
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("status:", resp.Status)
	// Output:
	// token endpoint: asks for a nonce
	// token endpoint: authorization_code with a proof
	// API: asks for a nonce
	// API got: DPoP token, proof for GET true
	// status: 200 OK
}

// exampleProof returns the claims of r's DPoP proof, unverified: enough
// for an example.
func exampleProof(r *http.Request) map[string]any {
	parts := strings.Split(r.Header.Get("DPoP"), ".")
	if len(parts) != 3 {
		return nil
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(b, &claims)
	return claims
}
