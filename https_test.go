package oauthrt_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauthrt/oauthrt"
)

// recordingBase answers 200 and records the Authorization header of each
// request it is handed.
type recordingBase struct{ auths []string }

func (b *recordingBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.auths = append(b.auths, r.Header.Get("Authorization"))
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

func TestPlainHTTPGetsNoTokenExceptOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool // Transport.AllowInsecureHTTP
		sent     bool
	}{
		{"https://api.example.com/x", false, true},
		{"http://api.example.com/x?secret=q-secret", false, false},
		{"http://10.1.2.3/x", false, false},
		{"http://127.0.0.1:8080/x", false, true},
		{"http://[::1]:8080/x", false, true},
		{"http://localhost/x", false, true},
		{"http://api.example.com/x", true, true},
	} {
		f := newFixture(t)
		base := &recordingBase{}
		f.tr.Base = base
		f.tr.AllowInsecureHTTP = tc.insecure
		req, _ := http.NewRequest("GET", tc.url, nil)
		resp, err := f.tr.RoundTrip(req)
		if !tc.sent {
			if !errors.Is(err, oauthrt.ErrInsecureURL) {
				t.Errorf("%s: err = %v, want ErrInsecureURL", tc.url, err)
			} else if strings.Contains(err.Error(), "q-secret") || !strings.Contains(err.Error(), "api.example.com") && !strings.Contains(err.Error(), "10.1.2.3") {
				t.Errorf("%s: error %q should name the host and nothing of the path or query", tc.url, err)
			}
			if len(base.auths) != 0 || f.store.loads.Load() != 0 {
				t.Errorf("%s: %d requests sent and %d store reads, want none", tc.url, len(base.auths), f.store.loads.Load())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s (AllowInsecureHTTP %t): %v", tc.url, tc.insecure, err)
			continue
		}
		resp.Body.Close()
		if len(base.auths) != 1 || base.auths[0] != "Bearer at-1" {
			t.Errorf("%s: Base saw %q, want one request with the token", tc.url, base.auths)
		}
	}
}

// A redirect from https to plain http on the same host must not carry
// the token either.
func TestRedirectToPlainHTTPGetsNoToken(t *testing.T) {
	f := newFixture(t)
	var sent atomic.Int32
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		h := http.Header{"Location": {"http://api.example.com/downgraded"}}
		return &http.Response{StatusCode: http.StatusFound, Header: h, Body: http.NoBody, Request: r}, nil
	})
	_, err := f.client.Get("https://api.example.com/start")
	if !errors.Is(err, oauthrt.ErrInsecureURL) {
		t.Fatalf("err = %v, want ErrInsecureURL", err)
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("%d requests sent, want only the first, over https", n)
	}
}
