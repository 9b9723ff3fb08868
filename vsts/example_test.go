package vsts_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

func ExampleRefresher() {
	// An Azure DevOps token endpoint: the refresh token is the assertion,
	// the app's secret the client assertion.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("client_assertion") != "app-secret" || r.PostFormValue("assertion") != "refresh-1" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"Error":"invalid_grant","ErrorDescription":"Invalid refresh token"}`)
			return
		}
		io.WriteString(w, `{"access_token":"access-2","token_type":"jwt-bearer","expires_in":"3599","refresh_token":"refresh-2"}`)
	}))
	defer srv.Close()

	r := &vsts.Refresher{
		ClientSecret: "app-secret",
		RedirectURL:  "https://app.example/callback",
		TokenURL:     srv.URL, // leave empty for Azure DevOps itself
	}
	tok, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: "refresh-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Type(), tok.AccessToken, tok.RefreshToken)

	_, err = r.Refresh(context.Background(), &oauth2.Token{RefreshToken: "refresh-1x"})
	fmt.Println(err)
	// Output:
	// Bearer access-2 refresh-2
	// vsts: refresh: oauthrt: token endpoint answered 400 Bad Request: invalid_grant: Invalid refresh token
}
