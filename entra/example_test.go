package entra_test

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
	"github.com/oauthrt/oauthrt/entra"
	"github.com/oauthrt/oauthrt/vsts"
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

// Moving an Azure DevOps integration from Azure DevOps OAuth (package
// vsts) to Entra ID one organization at a time: both Transports share the
// store, under keys of their own, and each organization's requests go
// through the Entra one once it has authorized the Entra app.
func Example_migratingFromVSTS() {
	// Stand-ins for the organizations' APIs, Azure DevOps OAuth's token
	// endpoint and Entra ID's.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.URL.Path, "with", r.Header.Get("Authorization"))
	}))
	defer api.Close()
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer legacy.Close()
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer login.Close()

	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	hour := time.Now().Add(time.Hour)
	store.Save(ctx, "vsts:fabrikam", &oauth2.Token{AccessToken: "vsts-token-of-fabrikam", RefreshToken: "r", Expiry: hour})
	store.Save(ctx, "vsts:contoso", &oauth2.Token{AccessToken: "vsts-token-of-contoso", RefreshToken: "r", Expiry: hour})
	// Contoso authorized the Entra app; its token was saved under a new key.
	store.Save(ctx, "entra:contoso", &oauth2.Token{AccessToken: "entra-token-of-contoso", RefreshToken: "r", Expiry: hour})

	legacyApp := &vsts.Refresher{ClientSecret: "vsts-app-secret", RedirectURL: "https://app.example/vsts/callback", TokenURL: legacy.URL}
	// README: migration
	entraApp := &entra.Refresher{
		Tenant:       "organizations", // or the tenant's ID, for a single-tenant app
		ClientID:     "entra-app-id",
		ClientSecret: "entra-app-secret", // or PrivateKey and Certificate
		Authority:    login.URL,          // only here: "" is https://login.microsoftonline.com
	}
	viaVSTS := &http.Client{Transport: &oauthrt.Transport{Store: store, Refresher: legacyApp}}
	viaEntra := &http.Client{Transport: &oauthrt.Transport{Store: store, Refresher: entraApp}}
	clientFor := func(ctx context.Context, org string) (*http.Client, context.Context) {
		if _, err := store.Load(ctx, "entra:"+org); err == nil {
			return viaEntra, oauthrt.WithKey(ctx, "entra:"+org)
		}
		return viaVSTS, oauthrt.WithKey(ctx, "vsts:"+org)
	}
	// END README

	for _, org := range []string{"fabrikam", "contoso"} {
		client, ctx := clientFor(ctx, org)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/"+org+"/_apis/projects", nil)
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	// Output:
	// /fabrikam/_apis/projects with Bearer vsts-token-of-fabrikam
	// /contoso/_apis/projects with Bearer entra-token-of-contoso
}
