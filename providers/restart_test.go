package providers_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/providers"
)

// salesforceOrg is one customer's Salesforce org, on its own My Domain
// host, as the Salesforce REST API documents it: a token endpoint whose
// answers carry instance_url and scope but no expires_in, and never a new
// refresh token on refresh; and an API under instance_url that takes the
// last access token issued.
type salesforceOrg struct {
	*httptest.Server
	host string

	mu       sync.Mutex
	access   string   // the access token the API takes
	issued   int      // access tokens issued
	refresh  []string // the hosts refreshes were asked at
	apiCalls int
}

func newSalesforceOrg(t *testing.T, host string) *salesforceOrg {
	o := &salesforceOrg{host: host}
	o.Server = httptest.NewTLSServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

func (o *salesforceOrg) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/services/data/") {
		o.apiCalls++
		if r.Header.Get("Authorization") != "Bearer "+o.access {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
			return
		}
		io.WriteString(w, `{"ok":true}`)
		return
	}
	if r.URL.Path != "/services/oauth2/token" || r.PostFormValue("client_secret") != "org-secret" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	switch {
	case r.PostFormValue("grant_type") == "authorization_code" && r.PostFormValue("code") == "code-1":
	case r.PostFormValue("grant_type") == "refresh_token" && r.PostFormValue("refresh_token") == "sf-rt":
		o.refresh = append(o.refresh, r.Host)
	default:
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`)
		return
	}
	o.issued++
	o.access = fmt.Sprintf("sf-at-%d", o.issued)
	w.Header().Set("Content-Type", "application/json")
	rt := ""
	if r.PostFormValue("grant_type") == "authorization_code" {
		rt = `"refresh_token":"sf-rt",`
	}
	fmt.Fprintf(w, `{"access_token":%q,%s"instance_url":"https://%s","id":"https://%s/id/00D/005","token_type":"Bearer","issued_at":"1764500000000","scope":"api refresh_token"}`,
		o.access, rt, o.host, o.host)
}

// expireSession ends the org's session, as Salesforce does after the
// org's timeout: the stored access token stops working.
func (o *salesforceOrg) expireSession() {
	o.mu.Lock()
	o.access = "expired"
	o.mu.Unlock()
}

// client reaches the org at its own host name, over TLS: every
// connection goes to the test server, whose certificate names
// *.example.com.
func (o *salesforceOrg) client() *http.Client {
	tr := o.Client().Transport.(*http.Transport).Clone()
	addr := o.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, ServerName: o.host}
	return &http.Client{Transport: tr}
}

// A process restarted with nothing but the store, and the catalog's
// Refresher for every Salesforce org, refreshes a customer's token at the
// org's own token endpoint, and calls the API at the org's instance_url:
// the token endpoint that issued the token, the extra fields and the
// scope are all in the store.
func TestRestartFromTheStoreAlone(t *testing.T) {
	ctx := context.Background()
	org := newSalesforceOrg(t, "acme.example.com")
	path := filepath.Join(t.TempDir(), "tokens.json")

	// The first process runs the authorization flow for the acme org.
	{
		r, err := providers.Salesforce.Refresher(providers.Config{
			ClientID:     "org-app",
			ClientSecret: "org-secret",
			Vars:         map[string]string{"domain": org.host},
			HTTPClient:   org.client(),
		})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := r.(*generic.Refresher).Exchange(ctx, "code-1", "https://app.example.com/callback", "")
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		if err := (&filestore.Store{Path: path}).Save(ctx, "sf:acme", tok); err != nil {
			t.Fatal(err)
		}
	}
	org.expireSession()

	// The restarted process knows the app's credentials, not the org.
	store := &filestore.Store{Path: path}
	r, err := providers.Salesforce.Refresher(providers.Config{
		ClientID:     "org-app",
		ClientSecret: "org-secret",
		HTTPClient:   org.client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := &oauthrt.Transport{Store: store, Key: "sf:acme", Refresher: r, Base: org.client().Transport}
	defer tr.Close()
	stored, err := store.Load(ctx, "sf:acme")
	if err != nil {
		t.Fatal(err)
	}
	instance, _ := stored.Extra("instance_url").(string)
	if instance != "https://"+org.host {
		t.Fatalf("stored instance_url %q, want the org's", instance)
	}
	resp, err := (&http.Client{Transport: tr}).Get(instance + "/services/data/v60.0/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API answered %s after the restart", resp.Status)
	}

	org.mu.Lock()
	refreshedAt, calls := org.refresh, org.apiCalls
	org.mu.Unlock()
	if len(refreshedAt) != 1 || refreshedAt[0] != org.host {
		t.Errorf("refreshes asked at %q, want one at %s", refreshedAt, org.host)
	}
	if calls != 2 {
		t.Errorf("%d API calls, want 2: the 401 of the expired session, and the call again", calls)
	}
	now, err := store.Load(ctx, "sf:acme")
	if err != nil {
		t.Fatal(err)
	}
	for member, want := range map[string]string{
		"instance_url": "https://" + org.host,
		"scope":        "api refresh_token",
	} {
		if got, _ := now.Extra(member).(string); got != want {
			t.Errorf("refreshed token's %s = %q, want %q", member, got, want)
		}
	}
	if got, want := generic.TokenURLOf(now), "https://"+org.host+"/services/oauth2/token"; got != want {
		t.Errorf("refreshed token records token URL %q, want %q", got, want)
	}
	if now.AccessToken != "sf-at-2" || now.RefreshToken != "sf-rt" {
		t.Errorf("store holds %s/%s, want sf-at-2/sf-rt", now.AccessToken, now.RefreshToken)
	}
}
