package vsts_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

const (
	clientSecret = "APP-CLIENT-SECRET-JWT"
	redirectURL  = "https://app.example/callback"
)

// seen is what the token endpoint got in one request.
type seen struct {
	Form          url.Values
	Authorization string
	ContentType   string
}

// tokenServer is an Azure DevOps token endpoint answering status and body.
type tokenServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []seen
}

func newTokenServer(t *testing.T, status int, body string) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		ts.mu.Lock()
		ts.calls = append(ts.calls, seen{Form: r.PostForm, Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")})
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) seen() []seen {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]seen(nil), ts.calls...)
}

func (ts *tokenServer) refresher() *vsts.Refresher {
	return &vsts.Refresher{
		ClientSecret: clientSecret,
		RedirectURL:  redirectURL,
		TokenURL:     ts.URL,
		HTTPClient:   endpoint.NewRetryClient(1, time.Millisecond, 5*time.Millisecond),
	}
}

// azureToken is how Azure DevOps answers: expires_in as a string, token
// type jwt-bearer.
const azureToken = `{"access_token":"NEW-AT","token_type":"jwt-bearer","expires_in":"3599","refresh_token":"NEW-RT","scope":"vso.code"}`

func TestRefreshRequest(t *testing.T) {
	ts := newTokenServer(t, 200, azureToken)
	before := time.Now()
	tok, err := ts.refresher().Refresh(context.Background(), &oauth2.Token{AccessToken: "OLD-AT", RefreshToken: "OLD-RT"})
	after := time.Now()
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	want := []seen{{
		Form: url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {clientSecret},
			"grant_type":            {"refresh_token"},
			"assertion":             {"OLD-RT"},
			"redirect_uri":          {redirectURL},
		},
		ContentType: "application/x-www-form-urlencoded",
	}}
	if diff := cmp.Diff(want, ts.seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if tok.AccessToken != "NEW-AT" || tok.RefreshToken != "NEW-RT" || tok.Type() != "Bearer" {
		t.Errorf("token %q/%q type %q, want NEW-AT/NEW-RT type Bearer", tok.AccessToken, tok.RefreshToken, tok.Type())
	}
	if tok.Extra("token_type") != "jwt-bearer" || tok.Extra("scope") != "vso.code" {
		t.Errorf("Extra: token_type %v, scope %v", tok.Extra("token_type"), tok.Extra("scope"))
	}
	if lo, hi := before.Add(3599*time.Second), after.Add(3599*time.Second); tok.Expiry.Before(lo) || tok.Expiry.After(hi) {
		t.Errorf("Expiry = %v, want within [%v, %v]", tok.Expiry, lo, hi)
	}
}

func TestRefreshKeepsRefreshToken(t *testing.T) {
	ts := newTokenServer(t, 200, `{"access_token":"NEW-AT","token_type":"jwt-bearer","expires_in":"3599"}`)
	old := &oauth2.Token{AccessToken: "OLD-AT", RefreshToken: "OLD-RT"}
	tok, err := ts.refresher().Refresh(context.Background(), old)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if tok.RefreshToken != "OLD-RT" || tok.AccessToken != "NEW-AT" {
		t.Errorf("token %q/%q, want NEW-AT/OLD-RT", tok.AccessToken, tok.RefreshToken)
	}
	if old.AccessToken != "OLD-AT" || old.TokenType != "" {
		t.Errorf("Refresh modified its argument: %+v", old)
	}
}

func TestDeadGrant(t *testing.T) {
	ts := newTokenServer(t, 400, `{"Error":"invalid_grant","ErrorDescription":"Refresh token OLD-RT-12345 has expired"}`)
	_, err := ts.refresher().Refresh(context.Background(), &oauth2.Token{RefreshToken: "OLD-RT-12345"})
	if !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("Refresh = %v, want ErrReauthRequired", err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
		t.Fatalf("Refresh = %v, want a RetrieveError invalid_grant 400", err)
	}
	if want := "vsts: refresh: oauthrt: token endpoint answered 400 Bad Request: invalid_grant: Refresh token [redacted] has expired"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestOtherError(t *testing.T) {
	ts := newTokenServer(t, 400, `{"Error":"invalid_client","ErrorDescription":"bad assertion"}`)
	_, err := ts.refresher().Refresh(context.Background(), &oauth2.Token{RefreshToken: "RT"})
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("Refresh = %v, want a RetrieveError invalid_client", err)
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("%v wraps ErrReauthRequired", err)
	}
}

func TestNoNetworkCall(t *testing.T) {
	ts := newTokenServer(t, 200, azureToken)
	good := &oauth2.Token{RefreshToken: "RT"}
	tests := []struct {
		name   string
		edit   func(r *vsts.Refresher)
		tok    *oauth2.Token
		reauth bool
		msg    string
	}{
		{"no RedirectURL", func(r *vsts.Refresher) { r.RedirectURL = "" }, good, false, "RedirectURL"},
		{"no ClientSecret", func(r *vsts.Refresher) { r.ClientSecret = "" }, good, false, "ClientSecret"},
		{"nil token", func(*vsts.Refresher) {}, nil, true, "refresh token"},
		{"no refresh token", func(*vsts.Refresher) {}, &oauth2.Token{AccessToken: "AT"}, true, "refresh token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.refresher()
			tt.edit(r)
			_, err := r.Refresh(context.Background(), tt.tok)
			if err == nil || !strings.HasPrefix(err.Error(), "vsts: ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Refresh = %v, want a vsts: error about %s", err, tt.msg)
			}
			if got := errors.Is(err, oauthrt.ErrReauthRequired); got != tt.reauth {
				t.Errorf("errors.Is(err, ErrReauthRequired) = %v, want %v", got, tt.reauth)
			}
		})
	}
	t.Run("Exchange without RedirectURL", func(t *testing.T) {
		r := ts.refresher()
		r.RedirectURL = ""
		if _, err := r.Exchange(context.Background(), "CODE"); err == nil || !strings.Contains(err.Error(), "RedirectURL") {
			t.Errorf("Exchange = %v, want an error about RedirectURL", err)
		}
	})
	t.Run("Exchange with an empty code", func(t *testing.T) {
		if _, err := ts.refresher().Exchange(context.Background(), ""); err == nil || !strings.HasPrefix(err.Error(), "vsts: ") {
			t.Errorf("Exchange = %v, want a vsts: error", err)
		}
	})
	if n := len(ts.seen()); n != 0 {
		t.Errorf("the token endpoint got %d requests, want 0", n)
	}
}

func TestExchange(t *testing.T) {
	ts := newTokenServer(t, 200, azureToken)
	tok, err := ts.refresher().Exchange(context.Background(), "AUTH-CODE")
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	want := []seen{{
		Form: url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {clientSecret},
			"grant_type":            {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
			"assertion":             {"AUTH-CODE"},
			"redirect_uri":          {redirectURL},
		},
		ContentType: "application/x-www-form-urlencoded",
	}}
	if diff := cmp.Diff(want, ts.seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if tok.AccessToken != "NEW-AT" || tok.RefreshToken != "NEW-RT" {
		t.Errorf("token %q/%q", tok.AccessToken, tok.RefreshToken)
	}
}

func TestDefaultTokenURL(t *testing.T) {
	var got string
	client := &http.Client{Transport: roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		got = req.URL.String()
		return nil, errors.New("offline")
	})}
	r := &vsts.Refresher{ClientSecret: clientSecret, RedirectURL: redirectURL, HTTPClient: client}
	if _, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: "RT"}); err == nil {
		t.Fatal("Refresh succeeded offline")
	}
	if got != vsts.TokenURL {
		t.Errorf("posted to %q, want %q", got, vsts.TokenURL)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestAuthCodeURL(t *testing.T) {
	tests := []struct {
		name    string
		authURL string
		base    string
		extra   url.Values
	}{
		{"default", "", vsts.AuthURL, nil},
		{"custom with a query", "https://example.test/authorize?tenant=x", "https://example.test/authorize", url.Values{"tenant": {"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &vsts.Refresher{AppID: "APP-ID", RedirectURL: redirectURL, ClientSecret: clientSecret, AuthURL: tt.authURL}
			s := r.AuthCodeURL("st&te", "vso.code", "vso.work_write")
			u, err := url.Parse(s)
			if err != nil {
				t.Fatalf("url.Parse(%q): %v", s, err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != tt.base {
				t.Errorf("URL %q, want it at %q", s, tt.base)
			}
			want := url.Values{
				"client_id":     {"APP-ID"},
				"response_type": {"Assertion"},
				"state":         {"st&te"},
				"scope":         {"vso.code vso.work_write"},
				"redirect_uri":  {redirectURL},
			}
			for k, v := range tt.extra {
				want[k] = v
			}
			if diff := cmp.Diff(want, u.Query()); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if strings.Contains(s, clientSecret) {
				t.Errorf("AuthCodeURL contains the client secret: %s", s)
			}
			if strings.Contains(u.RawQuery, "+") {
				t.Errorf("query %q encodes spaces as +, want %%20", u.RawQuery)
			}
		})
	}
}

func TestPrepareRequest(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://dev.azure.com/org/_apis/projects", nil)
	new(vsts.Refresher).PrepareRequest(req)
	if got := req.Header.Get("X-TFS-FedAuthRedirect"); got != "Suppress" {
		t.Errorf("X-TFS-FedAuthRedirect = %q, want Suppress", got)
	}
	bare := &http.Request{}
	new(vsts.Refresher).PrepareRequest(bare)
	if got := bare.Header.Get("X-TFS-FedAuthRedirect"); got != "Suppress" {
		t.Errorf("with nil Header: X-TFS-FedAuthRedirect = %q, want Suppress", got)
	}
}

func TestTokenRejected(t *testing.T) {
	for status, want := range map[int]bool{203: true, 200: false, 401: false, 302: false} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			resp := &http.Response{StatusCode: status, Body: http.NoBody}
			if got := new(vsts.Refresher).TokenRejected(resp); got != want {
				t.Errorf("TokenRejected(%d) = %v, want %v", status, got, want)
			}
		})
	}
	if new(vsts.Refresher).TokenRejected(nil) {
		t.Error("TokenRejected(nil) = true")
	}
}

func TestSecretsHidden(t *testing.T) {
	const rt, at = "REFRESH-TOKEN-JWT-1", "ACCESS-TOKEN-JWT-2"
	echo := fmt.Sprintf("assertion %s client_assertion %s access %s", rt, clientSecret, at)
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"pascal", 400, fmt.Sprintf(`{"Error":"invalid_request","ErrorDescription":%q}`, echo)},
		{"html", 500, "<html>" + echo + "</html>"},
		{"new tokens beside an error", 200, `{"Error":"x","access_token":"NEW-ACCESS-SECRET","refresh_token":"NEW-REFRESH-SECRET"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t, tt.status, tt.body)
			r := ts.refresher()
			_, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: at, RefreshToken: rt})
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			texts := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err), fmt.Sprintf("%v %+v %#v %s", r, r, r, r)}
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				texts = append(texts, string(re.Body), re.Error(), re.ErrorDescription)
			} else {
				t.Errorf("%v wraps no RetrieveError", err)
			}
			for _, s := range texts {
				for _, v := range []string{rt, clientSecret, at, "NEW-ACCESS-SECRET", "NEW-REFRESH-SECRET"} {
					if strings.Contains(s, v) {
						t.Errorf("%q leaks %q", s, v)
					}
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	r := &vsts.Refresher{AppID: "APP-ID", ClientSecret: clientSecret, RedirectURL: redirectURL}
	for _, s := range []string{r.String(), r.GoString(), fmt.Sprintf("%v %+v %#v", r, r, r)} {
		if strings.Contains(s, clientSecret) {
			t.Errorf("%q contains the client secret", s)
		}
		if !strings.Contains(s, "APP-ID") || !strings.Contains(s, redirectURL) || !strings.Contains(s, vsts.TokenURL) {
			t.Errorf("%q lacks AppID, RedirectURL or TokenURL", s)
		}
	}
}
