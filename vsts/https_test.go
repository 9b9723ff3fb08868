package vsts_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

func TestPlainHTTPTokenURLRefused(t *testing.T) {
	sent := 0
	client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		sent++
		return nil, errors.New("must not be sent")
	})}
	r := &vsts.Refresher{ClientSecret: "assertion-secret", RedirectURL: "https://app.example/cb",
		TokenURL: "http://vssps.example.com/oauth2/token", HTTPClient: client}
	_, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: "at", RefreshToken: "rt"})
	if !errors.Is(err, oauthrt.ErrInsecureURL) || sent != 0 {
		t.Errorf("err = %v and %d requests, want ErrInsecureURL and none", err, sent)
	}
	if _, err := r.Exchange(context.Background(), "code"); !errors.Is(err, oauthrt.ErrInsecureURL) || sent != 0 {
		t.Errorf("Exchange: err = %v and %d requests, want ErrInsecureURL and none", err, sent)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
