package generic_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// refusedOnce returns an address that refuses the first connection and
// serves h from then on, and a context whose trace starts the server in
// the dialer's ConnectDone hook, before the refused dial returns, so that
// the next attempt finds it. refused counts the refused connections.
func refusedOnce(t *testing.T, h http.HandlerFunc) (ctx context.Context, addr string, refused *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close() // nothing listens there: a connection is refused
	refused = new(atomic.Int32)
	srv := httptest.NewUnstartedServer(h)
	t.Cleanup(srv.Close)
	ctx = httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil || refused.Add(1) > 1 {
				return
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("listening on %s again: %v", addr, err)
				return
			}
			srv.Listener.Close()
			srv.Listener = l
			srv.Start()
		},
	})
	return ctx, addr, refused
}

// Refresh returns a failure that may pass at once, as a TransientError
// the Transport can back off from, and leaves a dead grant dead.
func TestTransientFailures(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter time.Duration // want; -1: not transient
		dead       bool
	}{
		{"429", 429, `{"error":"slow_down"}`, 30 * time.Second, false},
		{"503", 503, `{"error":"temporarily_unavailable"}`, 30 * time.Second, false},
		{"500", 500, `{"error":"server_error"}`, 30 * time.Second, false},
		{"400 temporarily_unavailable", 400, `{"error":"temporarily_unavailable"}`, 30 * time.Second, false},
		{"501", 501, `{}`, -1, false},
		{"500 invalid_grant", 500, `{"error":"invalid_grant"}`, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Retry-After", "30")
				writeJSONAnswer(w, tt.status, tt.body)
			}))
			defer srv.Close()
			for _, client := range []*http.Client{nil, fastClient()} {
				calls.Store(0)
				r := &generic.Refresher{TokenURL: srv.URL + "/token", ClientID: "id", ClientSecret: "CLIENT-SECRET", AuthStyle: oauth2.AuthStyleInParams, HTTPClient: client}
				_, err := r.Refresh(context.Background(), oldToken())
				if n := calls.Load(); n != 1 {
					t.Errorf("%d requests, want 1", n)
				}
				var te *oauthrt.TransientError
				if got := errors.As(err, &te); got != (tt.retryAfter >= 0) {
					t.Fatalf("Refresh = %v: TransientError %v, want %v", err, got, tt.retryAfter >= 0)
				}
				if te != nil && te.RetryAfter != tt.retryAfter {
					t.Errorf("RetryAfter = %v, want %v", te.RetryAfter, tt.retryAfter)
				}
				if got := errors.Is(err, oauthrt.ErrReauthRequired); got != tt.dead {
					t.Errorf("Refresh = %v: ErrReauthRequired %v, want %v", err, got, tt.dead)
				}
			}
		})
	}
}

func writeJSONAnswer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func TestRotationGrace(t *testing.T) {
	for field, want := range map[time.Duration]time.Duration{
		0:                0,
		-1:               0,
		-time.Hour:       0,
		time.Millisecond: time.Millisecond,
		30 * time.Second: 30 * time.Second,
	} {
		if field == 0 {
			want = oauthrt.DefaultRotationGrace
		}
		var g oauthrt.RotationGracer = &generic.Refresher{TokenURL: "https://token.example/", RotationGraceWindow: field}
		if got := g.RotationGrace(); got != want {
			t.Errorf("RotationGraceWindow %v: RotationGrace() = %v, want %v", field, got, want)
		}
	}
}
