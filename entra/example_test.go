package entra_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/entra"
	"golang.org/x/oauth2"
)

func ExampleRefresher() {
	// A stand-in for login.microsoftonline.com: it rotates refresh-1 and
	// asks for multifactor authentication on any other.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.URL.Path, "scope:", r.PostFormValue("scope"))
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("refresh_token") != "refresh-1" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"interaction_required","error_description":"AADSTS50076: multifactor authentication required.","error_codes":[50076]}`)
			return
		}
		io.WriteString(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"access-2","refresh_token":"refresh-2"}`)
	}))
	defer srv.Close()

	r := &entra.Refresher{
		Tenant:       "contoso.onmicrosoft.com",
		ClientID:     "6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7b1c60",
		ClientSecret: "app-secret",
		Authority:    srv.URL, // leave empty for login.microsoftonline.com
	}
	tok, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: "refresh-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken, tok.RefreshToken)

	_, err = r.Refresh(context.Background(), &oauth2.Token{RefreshToken: "refresh-0"})
	fmt.Println("reauthorize:", errors.Is(err, oauthrt.ErrReauthRequired))
	fmt.Println(err)
	// Output:
	// /contoso.onmicrosoft.com/oauth2/v2.0/token scope: 499b84ac-1321-427f-aa17-267ca6975798/.default offline_access
	// access-2 refresh-2
	// /contoso.onmicrosoft.com/oauth2/v2.0/token scope: 499b84ac-1321-427f-aa17-267ca6975798/.default offline_access
	// reauthorize: true
	// entra: refresh: oauthrt: the grant is dead; the user must authorize again: oauthrt: token endpoint answered 400 Bad Request: interaction_required: AADSTS50076: multifactor authentication required.
}

func ExampleRefresher_TokenEndpoint() {
	for _, r := range []*entra.Refresher{
		{Tenant: "contoso.onmicrosoft.com"},
		{Tenant: "organizations"},
		{Tenant: "contoso.onmicrosoft.us", Authority: "https://login.microsoftonline.us"},
	} {
		fmt.Println(r.TokenEndpoint())
	}
	// Output:
	// https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token
	// https://login.microsoftonline.com/organizations/oauth2/v2.0/token
	// https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token
}
