package vsts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

// A 503 comes back at once as a TransientError with its Retry-After, from
// the default client too; a dead grant stays dead whatever the status.
func TestTransientFailure(t *testing.T) {
	for _, tt := range []struct {
		status    int
		body      string
		transient bool
		dead      bool
	}{
		{503, `{"Error":"ServiceUnavailable"}`, true, false},
		{429, `{}`, true, false},
		{500, `{"Error":"invalid_grant","ErrorDescription":"the refresh token was revoked"}`, false, true},
		{400, `{"Error":"invalid_request"}`, false, false},
	} {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Retry-After", "45")
			w.WriteHeader(tt.status)
			io.WriteString(w, tt.body)
		}))
		defer srv.Close()
		for _, client := range []*http.Client{nil, endpoint.NewRetryClient(1, time.Millisecond, 5*time.Millisecond)} {
			calls.Store(0)
			r := &vsts.Refresher{ClientSecret: clientSecret, RedirectURL: redirectURL, TokenURL: srv.URL, HTTPClient: client}
			_, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: "OLD-AT", RefreshToken: "OLD-RT"})
			if n := calls.Load(); n != 1 {
				t.Errorf("%d: %d requests, want 1", tt.status, n)
			}
			var te *oauthrt.TransientError
			if got := errors.As(err, &te); got != tt.transient {
				t.Fatalf("%d: Refresh = %v, TransientError %v, want %v", tt.status, err, got, tt.transient)
			}
			if te != nil && te.RetryAfter != 45*time.Second {
				t.Errorf("%d: RetryAfter = %v, want 45s", tt.status, te.RetryAfter)
			}
			if got := errors.Is(err, oauthrt.ErrReauthRequired); got != tt.dead {
				t.Errorf("%d: Refresh = %v, ErrReauthRequired %v, want %v", tt.status, err, got, tt.dead)
			}
		}
	}
}

func TestRotationGrace(t *testing.T) {
	for field, want := range map[time.Duration]time.Duration{
		0:                oauthrt.DefaultRotationGrace,
		-time.Second:     0,
		10 * time.Second: 10 * time.Second,
	} {
		var g oauthrt.RotationGracer = &vsts.Refresher{RotationGraceWindow: field}
		if got := g.RotationGrace(); got != want {
			t.Errorf("RotationGraceWindow %v: RotationGrace() = %v, want %v", field, got, want)
		}
	}
}
