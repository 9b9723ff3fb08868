package generic_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// request is what a provider server got.
type request struct {
	Path     string
	Form     url.Values
	HasBasic bool
	User     string // of Basic, form-decoded
}

// providerServer is a token and revocation endpoint (/token, /revoke)
// whose answers answer decides.
type providerServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

type reply struct {
	status      int
	contentType string
	body        string
}

func newProviderServer(t *testing.T, answer func(r request) reply) *providerServer {
	t.Helper()
	ps := &providerServer{}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		req := request{Path: r.URL.Path, Form: r.PostForm}
		if u, _, ok := r.BasicAuth(); ok {
			req.HasBasic = true
			req.User, _ = url.QueryUnescape(u)
		}
		ps.mu.Lock()
		ps.reqs = append(ps.reqs, req)
		ps.mu.Unlock()
		a := answer(req)
		if a.contentType == "" {
			a.contentType = "application/json"
		}
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(ps.Close)
	return ps
}

func (ps *providerServer) requests() []request {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]request(nil), ps.reqs...)
}

func answerWith(status int, contentType, body string) func(request) reply {
	return func(request) reply { return reply{status, contentType, body} }
}

// The Dialect's dead codes kill the grant, its code members carry the
// code, and its client codes make AutoDetect try the form.
func TestRefreshDialect(t *testing.T) {
	tests := []struct {
		name    string
		dialect generic.Dialect
		answer  reply
		dead    bool
		code    string
	}{
		{"HubSpot", generic.Dialect{DeadCodes: []string{"BAD_REFRESH_TOKEN"}, CodeMembers: []string{"status"}},
			reply{400, "", `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}`}, true, "BAD_REFRESH_TOKEN"},
		{"HubSpot without its dialect", generic.Dialect{},
			reply{400, "", `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}`}, false, ""},
		{"Slack", generic.Dialect{DeadCodes: []string{"invalid_refresh_token"}},
			reply{200, "", `{"ok":false,"error":"invalid_refresh_token"}`}, true, "invalid_refresh_token"},
		{"Slack without its dialect", generic.Dialect{},
			reply{200, "", `{"ok":false,"error":"invalid_refresh_token"}`}, false, "invalid_refresh_token"},
		{"GitHub's bad_refresh_token needs no dialect", generic.Dialect{},
			reply{200, "", `{"error":"bad_refresh_token"}`}, true, "bad_refresh_token"},
		{"a client code at 401", generic.Dialect{ClientCodes: []string{"incorrect_client_credentials"}},
			reply{401, "", `{"error":"incorrect_client_credentials"}`}, false, "incorrect_client_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newProviderServer(t, func(request) reply { return tt.answer })
			r := &generic.Refresher{TokenURL: ps.URL + "/token", ClientID: "id", ClientSecret: "secret", AuthStyle: oauth2.AuthStyleInParams, Dialect: tt.dialect, HTTPClient: fastClient()}
			_, err := r.Refresh(context.Background(), oldToken())
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			if got := errors.Is(err, oauthrt.ErrReauthRequired); got != tt.dead {
				t.Errorf("ErrReauthRequired = %v, want %v: %v", got, tt.dead, err)
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != tt.code {
				t.Errorf("error %v: code %q, want %q", err, re.ErrorCode, tt.code)
			}
		})
	}

	// AutoDetect tries the form after a client code, once.
	ps := newProviderServer(t, func(r request) reply {
		if r.HasBasic {
			return reply{status: 401, body: `{"error":"incorrect_client_credentials"}`}
		}
		return reply{status: 200, body: tokenBody}
	})
	r := &generic.Refresher{TokenURL: ps.URL + "/token", ClientID: "autodetect-client-code", ClientSecret: "secret",
		Dialect: generic.Dialect{ClientCodes: []string{"incorrect_client_credentials"}}, HTTPClient: fastClient()}
	if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
		t.Fatalf("AutoDetect after a client code: %v", err)
	}
	if reqs := ps.requests(); len(reqs) != 2 || !reqs[0].HasBasic || reqs[1].Form.Get("client_secret") != "secret" {
		t.Errorf("requests %+v, want Basic then the form", reqs)
	}
}

// A refreshed token keeps the scope and the KeepFields members that its
// answer lacks, with their types, from a JSON answer or a form-encoded
// one; the answer's own values win; other members are not kept.
func TestKeepFields(t *testing.T) {
	first := map[string]any{"scope": "read write", "instance_url": "https://na1.example", "realmId": json.Number("4620816365"), "id_token": "OLD-IDT"}
	tests := []struct {
		name   string
		answer reply
		want   map[string]any // Extra of the new token
	}{
		{
			name:   "JSON answer without them",
			answer: reply{200, "application/json", `{"access_token":"NEW-AT","expires_in":3600}`},
			want:   map[string]any{"scope": "read write", "instance_url": "https://na1.example", "realmId": json.Number("4620816365"), "id_token": nil},
		},
		{
			name:   "JSON answer with its own",
			answer: reply{200, "application/json", `{"access_token":"NEW-AT","scope":"read","instance_url":"https://na2.example"}`},
			want:   map[string]any{"scope": "read", "instance_url": "https://na2.example", "realmId": json.Number("4620816365")},
		},
		{
			name:   "form answer",
			answer: reply{200, "application/x-www-form-urlencoded", `access_token=NEW-AT&token_type=bearer&expires_in=60`},
			// The kept members as they were; the answer's as Extra reads a form.
			want: map[string]any{"scope": "read write", "instance_url": "https://na1.example", "realmId": json.Number("4620816365"),
				"token_type": "bearer", "expires_in": int64(60)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newProviderServer(t, func(request) reply { return tt.answer })
			r := &generic.Refresher{TokenURL: ps.URL + "/token", ClientID: "id", ClientSecret: "secret", AuthStyle: oauth2.AuthStyleInParams,
				KeepFields: []string{"instance_url", "realmId"}, HTTPClient: fastClient()}
			old := oldToken().WithExtra(first)
			tok, err := r.Refresh(context.Background(), old)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got := tok.Extra(k); got != v {
					t.Errorf("Extra(%q) = %#v (%T), want %#v (%T)", k, got, got, v, v)
				}
			}
			if old.Extra("scope") != "read write" || old.Extra("oauthrt_token_url") != nil {
				t.Error("Refresh modified the old token")
			}
		})
	}

	// Without KeepFields, only the scope is kept.
	ps := newProviderServer(t, answerWith(200, "", `{"access_token":"NEW-AT"}`))
	r := &generic.Refresher{TokenURL: ps.URL + "/token", HTTPClient: fastClient()}
	tok, err := r.Refresh(context.Background(), oldToken().WithExtra(first))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("scope") != "read write" || tok.Extra("instance_url") != nil {
		t.Errorf("scope %v, instance_url %v; want only the scope kept", tok.Extra("scope"), tok.Extra("instance_url"))
	}
}

// An answer without expires_in gets DefaultLifetime; with it, or without
// a DefaultLifetime, the answer decides.
func TestDefaultLifetime(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		lifetime time.Duration
		want     time.Duration // 0: no Expiry
		secs     int64
	}{
		{"no expires_in, 30m", `{"access_token":"AT"}`, 30 * time.Minute, 30 * time.Minute, 1800},
		{"expires_in 0, 30m", `{"access_token":"AT","expires_in":0}`, 30 * time.Minute, 30 * time.Minute, 1800},
		{"expires_in wins", `{"access_token":"AT","expires_in":60}`, 30 * time.Minute, time.Minute, 60},
		{"no expires_in, none", `{"access_token":"AT"}`, 0, 0, 0},
		{"negative is none", `{"access_token":"AT"}`, -time.Hour, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newProviderServer(t, answerWith(200, "", tt.body))
			r := &generic.Refresher{TokenURL: ps.URL + "/token", DefaultLifetime: tt.lifetime, HTTPClient: fastClient()}
			for op, call := range map[string]func() (*oauth2.Token, error){
				"Refresh":  func() (*oauth2.Token, error) { return r.Refresh(context.Background(), oldToken()) },
				"Exchange": func() (*oauth2.Token, error) { return r.Exchange(context.Background(), "CODE", "", "") },
			} {
				before := time.Now()
				tok, err := call()
				after := time.Now()
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				if tt.want == 0 {
					if !tok.Expiry.IsZero() {
						t.Errorf("%s: Expiry = %v, want none", op, tok.Expiry)
					}
					continue
				}
				if tok.Expiry.Before(before.Add(tt.want)) || tok.Expiry.After(after.Add(tt.want)) {
					t.Errorf("%s: Expiry = %v, want %v from now", op, tok.Expiry, tt.want)
				}
				if tok.ExpiresIn != tt.secs {
					t.Errorf("%s: ExpiresIn = %d, want %d", op, tok.ExpiresIn, tt.secs)
				}
			}
		})
	}
}

// Every token from Refresh and Exchange records the token endpoint that
// issued it, whatever the answer's format, and over a member of that name
// in the answer; without a password in the URL.
func TestTokenURLRecorded(t *testing.T) {
	for name, answer := range map[string]reply{
		"JSON":                {200, "application/json", `{"access_token":"AT","oauthrt_token_url":"https://evil.example/token"}`},
		"form":                {200, "application/x-www-form-urlencoded", `access_token=AT&token_type=bearer`},
		"JSON with no extras": {200, "application/json", `{"access_token":"AT"}`},
	} {
		t.Run(name, func(t *testing.T) {
			ps := newProviderServer(t, func(request) reply { return answer })
			r := &generic.Refresher{TokenURL: ps.URL + "/token", HTTPClient: fastClient()}
			refreshed, err := r.Refresh(context.Background(), oldToken())
			if err != nil {
				t.Fatal(err)
			}
			exchanged, err := r.Exchange(context.Background(), "CODE", "", "")
			if err != nil {
				t.Fatal(err)
			}
			for op, tok := range map[string]*oauth2.Token{"Refresh": refreshed, "Exchange": exchanged} {
				if got := generic.TokenURLOf(tok); got != r.TokenURL {
					t.Errorf("%s: TokenURLOf = %q, want %q", op, got, r.TokenURL)
				}
			}
		})
	}

	tok := generic.WithTokenURL(&oauth2.Token{AccessToken: "AT"}, "https://user:pa55word@idp.example/token")
	if got := generic.TokenURLOf(tok); got != "https://idp.example/token" {
		t.Errorf("WithTokenURL kept %q, want the URL without its user info", got)
	}
	if generic.TokenURLOf(nil) != "" || generic.TokenURLOf(&oauth2.Token{}) != "" {
		t.Error("TokenURLOf of a token without one is not empty")
	}
	if generic.TokenURLMember != "oauthrt_token_url" {
		t.Errorf("TokenURLMember = %q: stored tokens name it oauthrt_token_url", generic.TokenURLMember)
	}
}
