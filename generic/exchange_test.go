package generic_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

func TestExchange(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const code, verifier = "CODE-7f3a-SECRET", "VERIFIER-0b9e-SECRET"
	t.Run("secret", func(t *testing.T) {
		ts := newTokenServer(t, ok)
		r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "app", ClientSecret: "s3cret", AuthStyle: oauth2.AuthStyleInParams, Scopes: []string{"read", "offline_access"}, HTTPClient: fastClient()}
		tok, err := r.Exchange(context.Background(), code, "https://app.example/callback", verifier)
		if err != nil || tok.AccessToken != "NEW-AT" {
			t.Fatalf("Exchange = %+v, %v", tok, err)
		}
		want := url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {code},
			"redirect_uri":  {"https://app.example/callback"},
			"code_verifier": {verifier},
			"scope":         {"read offline_access"},
			"client_id":     {"app"},
			"client_secret": {"s3cret"},
		}
		if diff := cmp.Diff(want, ts.seen()[0].Form); diff != "" {
			t.Errorf("form (-want +got):\n%s", diff)
		}
	})
	t.Run("private_key_jwt, no PKCE, no redirect", func(t *testing.T) {
		ts := newTokenServer(t, ok)
		r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "app", PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}, HTTPClient: fastClient()}
		if _, err := r.Exchange(context.Background(), code, "", ""); err != nil {
			t.Fatal(err)
		}
		f := ts.seen()[0].Form
		if f.Has("redirect_uri") || f.Has("code_verifier") || f.Has("scope") || f.Get("code") != code {
			t.Errorf("form %v", f)
		}
		if _, c := verifyJWT(t, f.Get("client_assertion"), key.Public()); c.Iss != "app" || c.Aud != ts.tokenURL() {
			t.Errorf("assertion claims %+v", c)
		}
	})
	t.Run("refused code", func(t *testing.T) {
		ts := newTokenServer(t, func(s seen) (int, string) {
			return 400, fmt.Sprintf(`{"error":"invalid_grant","error_description":"code %s with %s was already redeemed"}`, s.Form.Get("code"), s.Form.Get("code_verifier"))
		})
		r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "app", ClientSecret: "s3cret", HTTPClient: fastClient()}
		_, err := r.Exchange(context.Background(), code, "https://app.example/callback", verifier)
		if !errors.Is(err, oauthrt.ErrReauthRequired) || !strings.HasPrefix(err.Error(), "generic: exchange: ") {
			t.Errorf("err = %v, want a generic: exchange: error wrapping ErrReauthRequired", err)
		}
		if strings.Contains(err.Error(), code) || strings.Contains(err.Error(), verifier) {
			t.Errorf("the error shows the code or verifier: %v", err)
		}
	})
	t.Run("empty code", func(t *testing.T) {
		ts := newTokenServer(t, ok)
		r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "app", HTTPClient: fastClient()}
		if _, err := r.Exchange(context.Background(), "", "", ""); err == nil || len(ts.seen()) != 0 {
			t.Errorf("empty code: err %v, %d requests; want an error and none", err, len(ts.seen()))
		}
	})
}
