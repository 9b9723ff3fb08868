package generic_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// answering is an HTTP client transport that records what it is sent and
// answers with a token.
type answering struct{ urls []string }

func (a *answering) RoundTrip(r *http.Request) (*http.Response, error) {
	a.urls = append(a.urls, r.URL.String())
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"access_token":"at-2","token_type":"Bearer","expires_in":60}`)),
		Request:    r,
	}, nil
}

func TestPlainHTTPTokenURLRefused(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		sent     bool
	}{
		{"http://login.example.com/token", false, false},
		{"http://login.example.com/token", true, true},
		{"http://127.0.0.1:9/token", false, true},
		{"https://login.example.com/token", false, true},
	} {
		a := &answering{}
		r := &generic.Refresher{
			TokenURL: tc.url, ClientID: "id", ClientSecret: "client-secret-value",
			HTTPClient: &http.Client{Transport: a}, AllowInsecureHTTP: tc.insecure,
		}
		tok, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-secret"})
		if !tc.sent {
			if !errors.Is(err, oauthrt.ErrInsecureURL) || len(a.urls) != 0 {
				t.Errorf("%s: err = %v and %d requests, want ErrInsecureURL and none", tc.url, err, len(a.urls))
			}
			if err != nil && (strings.Contains(err.Error(), "rt-secret") || strings.Contains(err.Error(), "client-secret-value")) {
				t.Errorf("error %q holds a secret", err)
			}
			continue
		}
		if err != nil || tok.AccessToken != "at-2" || len(a.urls) != 1 {
			t.Errorf("%s (AllowInsecureHTTP %t): %v, %d requests", tc.url, tc.insecure, err, len(a.urls))
		}
	}
}

// A client that follows redirects inside its Transport (go-retryablehttp's
// StandardClient with its default inner client) is out of reach of
// CheckRedirect; the answer of the host it was sent to is refused.
func TestRedirectFollowedInsideTheClientIsRefused(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at-from-elsewhere","token_type":"Bearer"}`)
	}))
	defer other.Close()
	elsewhere := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere+"/token", http.StatusFound)
	}))
	defer endpoint.Close()

	rc := retryablehttp.NewClient()
	rc.Logger = nil
	r := &generic.Refresher{TokenURL: endpoint.URL, ClientID: "id", ClientSecret: "client-secret-value",
		HTTPClient: rc.StandardClient()}
	tok, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-secret"})
	if err == nil || !strings.Contains(err.Error(), "followed a redirect") {
		t.Fatalf("got %v, %v; want the redirected answer refused", tok, err)
	}
	if strings.Contains(err.Error(), "rt-secret") || strings.Contains(err.Error(), "client-secret-value") {
		t.Errorf("error %q holds a secret", err)
	}
	rc.HTTPClient.CloseIdleConnections()
}
