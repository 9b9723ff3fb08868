package generic_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

func ExampleRefresher() {
	// A token endpoint that accepts one refresh token and rotates it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case id != "my-app" || secret != "app-secret":
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
		case r.PostFormValue("refresh_token") != "refresh-1":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"unknown refresh token"}`)
		default:
			io.WriteString(w, `{"access_token":"access-2","token_type":"Bearer","expires_in":3600,"refresh_token":"refresh-2"}`)
		}
	}))
	defer srv.Close()

	r := generic.FromConfig(&oauth2.Config{
		ClientID:     "my-app",
		ClientSecret: "app-secret",
		Endpoint:     oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader},
	})

	tok, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: "access-1", RefreshToken: "refresh-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("access token:", tok.AccessToken)
	fmt.Println("refresh token:", tok.RefreshToken)
	fmt.Println("expires within the hour:", time.Until(tok.Expiry) <= time.Hour)

	// A refresh token the endpoint does not know: the grant is dead.
	_, err = r.Refresh(context.Background(), &oauth2.Token{RefreshToken: "refresh-0"})
	fmt.Println("reauthorize:", errors.Is(err, oauthrt.ErrReauthRequired))
	fmt.Println(err)
	// Output:
	// access token: access-2
	// refresh token: refresh-2
	// expires within the hour: true
	// reauthorize: true
	// generic: refresh: oauthrt: token endpoint answered 400 Bad Request: invalid_grant: unknown refresh token
}

// A confidential client that proves itself with its private key instead
// of a secret (private_key_jwt). The token endpoint here checks the
// assertion's signature against the key registered for the client.
func ExamplePrivateKeyJWT() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // in production: loaded, or a KMS-backed crypto.Signer
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("client_id:", r.PostFormValue("client_id"))
		fmt.Println("assertion signed by the registered key:", signedBy(r.PostFormValue("client_assertion"), &key.PublicKey))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"access-2","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()

	r := &generic.Refresher{
		TokenURL:      srv.URL,
		ClientID:      "my-app",
		PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key, KeyID: "2026-11"},
	}
	tok, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: "refresh-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("access token:", tok.AccessToken)
	// Output:
	// client_id: my-app
	// assertion signed by the registered key: true
	// access token: access-2
}

// signedBy reports whether jwt carries a valid ES256 signature by pub.
func signedBy(jwt string, pub *ecdsa.PublicKey) bool {
	i := strings.LastIndexByte(jwt, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jwt[i+1:])
	if i < 0 || err != nil || len(sig) != 64 {
		return false
	}
	digest := sha256.Sum256([]byte(jwt[:i]))
	return ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}
