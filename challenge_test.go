package oauthrt_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
)

func TestBearerError(t *testing.T) {
	tests := []struct {
		headers []string
		want    string
	}{
		{nil, ""},
		{[]string{`Bearer`}, ""},
		{[]string{`Bearer realm="example"`}, ""},
		{[]string{`Bearer error="invalid_token"`}, "invalid_token"},
		{[]string{`Bearer realm="x", error="insufficient_scope", scope="a b"`}, "insufficient_scope"},
		{[]string{`bearer ERROR=invalid_request`}, "invalid_request"},
		{[]string{`Bearer error = "invalid_token"`}, "invalid_token"},
		{[]string{`Basic realm="x", Bearer error="insufficient_scope"`}, "insufficient_scope"},
		{[]string{`Basic realm="x", error="insufficient_scope"`}, ""}, // Basic's param
		{[]string{`Negotiate abc==, Bearer error="invalid_token"`}, "invalid_token"},
		{[]string{`Basic realm="x"`, `Bearer error="insufficient_scope"`}, "insufficient_scope"},
		{[]string{`Bearer error_description="error=\"insufficient_scope\"", error="invalid_token"`}, "invalid_token"},
		{[]string{`Bearer realm="a\"b", error="x\\y"`}, `x\y`},
		{[]string{`Bearer error="unterminated`}, "unterminated"},
		{[]string{`Bearer error=`}, ""},
		{[]string{`Bearer ,,, error="invalid_token"`}, "invalid_token"},
		{[]string{"\x00\xff=\"", `=`, `"`, `Bearer error`}, ""},
	}
	for _, tt := range tests {
		if got := oauthrt.BearerError(tt.headers); got != tt.want {
			t.Errorf("bearerError(%q) = %q, want %q", tt.headers, got, tt.want)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	type ch = oauthrt.Challenge
	type params = map[string]string
	tests := []struct {
		headers []string
		want    []ch
	}{
		{nil, nil},
		{[]string{``, ` , `}, nil},
		{[]string{`Bearer`}, []ch{{Scheme: "Bearer"}}},
		{[]string{`Bearer realm="example", Error="invalid_token", ERROR="second"`},
			[]ch{{Scheme: "Bearer", Params: params{"realm": "example", "error": "invalid_token"}}}},
		{[]string{`Negotiate abc==, Basic YWxhZGRpbjpvcGVuc2VzYW1l, Bearer error=x`},
			[]ch{{Scheme: "Negotiate", Token68: "abc=="}, {Scheme: "Basic", Token68: "YWxhZGRpbjpvcGVuc2VzYW1l"}, {Scheme: "Bearer", Params: params{"error": "x"}}}},
		{[]string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
			[]ch{{Scheme: "Newauth", Params: params{"realm": "apps", "type": "1", "title": `Login to "apps"`}}, {Scheme: "Basic", Params: params{"realm": "simple"}}}},
		{[]string{`DPoP algs="ES256 PS256", error="invalid_token"`, `Bearer scope="a b"`},
			[]ch{{Scheme: "DPoP", Params: params{"algs": "ES256 PS256", "error": "invalid_token"}}, {Scheme: "Bearer", Params: params{"scope": "a b"}}}},
		{[]string{`realm="orphan", Bearer`}, []ch{{Scheme: "Bearer"}}},
		{[]string{`Bearer claims="eyJ9fQ==", error="insufficient_claims"`},
			[]ch{{Scheme: "Bearer", Params: params{"claims": "eyJ9fQ==", "error": "insufficient_claims"}}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, oauthrt.Challenges(tt.headers)); diff != "" {
			t.Errorf("Challenges(%q) (-want +got):\n%s", tt.headers, diff)
		}
	}
}

// chain builds the request a client makes after following redirects
// through urls, the first being the caller's request.
func chain(t *testing.T, urls ...string) *http.Request {
	t.Helper()
	var prev *http.Request
	for _, u := range urls {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		r := &http.Request{URL: parsed}
		if prev != nil {
			r.Response = &http.Response{StatusCode: 302, Request: prev}
		}
		prev = r
	}
	return prev
}

func TestCredentialsAllowedFollowsNetHTTPRedirectRule(t *testing.T) {
	tests := []struct {
		urls []string
		want bool
	}{
		{[]string{"https://api.example.com/"}, true},
		{[]string{"https://api.example.com/", "https://api.example.com/other"}, true},
		{[]string{"https://api.example.com/", "https://api.example.com:8443/"}, true}, // the port does not matter
		{[]string{"https://example.com/", "https://eu.example.com/"}, true},           // a subdomain
		{[]string{"https://API.example.com/", "https://api.EXAMPLE.com/"}, true},
		{[]string{"https://api.example.com/", "https://example.com/"}, false}, // a parent
		{[]string{"https://api.example.com/", "https://evil.com/"}, false},
		{[]string{"https://example.com/", "https://notexample.com/"}, false},
		{[]string{"https://example.com/", "https://example.com.evil.com/"}, false},
		{[]string{"https://api.example.com/", "https://evil.com/", "https://api.example.com/"}, false}, // once off, always off
		{[]string{"http://[::1]:80/", "http://[::1]:81/"}, true},
		{[]string{"http://example.com/", "http://[fe80::1%25.example.com]/"}, false},
	}
	for _, tt := range tests {
		if got := oauthrt.CredentialsAllowed(chain(t, tt.urls...)); got != tt.want {
			t.Errorf("credentialsAllowed(%v) = %v, want %v", tt.urls, got, tt.want)
		}
	}
	orphan := &http.Request{URL: &url.URL{Host: "a"}, Response: &http.Response{}}
	if oauthrt.CredentialsAllowed(orphan) {
		t.Error("a redirect whose first request is unknown may carry the token")
	}
}

// A 401 or 403 whose Bearer or DPoP challenge says
// insufficient_user_authentication (RFC 9470) or insufficient_scope (RFC
// 6750 §3.1) is an error with the challenge's fields: no refresh, no
// resend, the response's body drained and closed, no token in the
// message.
func TestStepUpAndScopeChallengesAreErrors(t *testing.T) {
	tests := []struct {
		status    int
		challenge string
		want      error
	}{
		{401, `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:example:mfa phr", max_age="300"`,
			&oauthrt.StepUpError{Key: "k", ACRValues: "urn:example:mfa phr", MaxAge: 5 * time.Minute, StatusCode: 401}},
		{403, `Basic realm="x", DPoP algs="ES256", error="insufficient_user_authentication", acr_values="myACR"`,
			&oauthrt.StepUpError{Key: "k", ACRValues: "myACR", MaxAge: -1, StatusCode: 403}},
		{401, `Bearer error="insufficient_user_authentication", max_age="soon"`,
			&oauthrt.StepUpError{Key: "k", MaxAge: -1, StatusCode: 401}},
		{401, `Bearer error="insufficient_user_authentication", max_age=0`,
			&oauthrt.StepUpError{Key: "k", MaxAge: 0, StatusCode: 401}},
		{401, `Bearer error="insufficient_user_authentication", max_age="99999999999999999999"`,
			&oauthrt.StepUpError{Key: "k", MaxAge: math.MaxInt64, StatusCode: 401}},
		{403, `Bearer realm="api", error="insufficient_scope", scope="repo admin:org"`,
			&oauthrt.InsufficientScopeError{Key: "k", Scope: "repo admin:org", StatusCode: 403}},
		{401, `Bearer error="insufficient_scope"`,
			&oauthrt.InsufficientScopeError{Key: "k", StatusCode: 401}},
		{403, `DPoP error="insufficient_scope", scope="write"`,
			&oauthrt.InsufficientScopeError{Key: "k", Scope: "write", StatusCode: 403}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, " ", tt.challenge), func(t *testing.T) {
			f := newFixture(t)
			body := newCloseCounter(strings.Repeat("x", 1000))
			var sends atomic.Int32
			f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
				sends.Add(1)
				return &http.Response{StatusCode: tt.status, Header: http.Header{"Www-Authenticate": {tt.challenge}}, Body: body, Request: r}, nil
			})
			resp, err := f.tr.RoundTrip(httptest.NewRequest(http.MethodGet, "https://api.example/", nil))
			if resp != nil {
				t.Errorf("got a response (%d) along with the error", resp.StatusCode)
			}
			switch want := tt.want.(type) {
			case *oauthrt.StepUpError:
				var got *oauthrt.StepUpError
				if !errors.As(err, &got) {
					t.Fatalf("err = %v, want a *StepUpError", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("StepUpError (-want +got):\n%s", diff)
				}
			case *oauthrt.InsufficientScopeError:
				var got *oauthrt.InsufficientScopeError
				if !errors.As(err, &got) {
					t.Fatalf("err = %v, want an *InsufficientScopeError", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("InsufficientScopeError (-want +got):\n%s", diff)
				}
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "oauthrt: ") || strings.Contains(msg, "at-1") || strings.Contains(msg, "rt-1") {
				t.Errorf("message %q: want the oauthrt prefix and no token", msg)
			}
			if n := f.issuer.calls.Load(); n != 0 {
				t.Errorf("%d refreshes, want 0", n)
			}
			if n := sends.Load(); n != 1 {
				t.Errorf("sent %d times, want 1", n)
			}
			if body.closes.Load() != 1 || body.read.Load() != 1000 {
				t.Errorf("body closed %d times after %d bytes read; want drained and closed once", body.closes.Load(), body.read.Load())
			}
		})
	}
}

// A 403 without a step-up or scope challenge is the caller's response,
// like any other status: only those challenge codes make errors, and
// neither a 403 nor its challenge makes the token count as rejected.
func TestPlain403IsTheCallersResponse(t *testing.T) {
	for _, challenge := range []string{
		"",
		`Bearer error="invalid_token"`,
		`Bearer error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte(`{"access_token":{}}`)) + `"`,
		`Basic error="insufficient_scope"`,
	} {
		t.Run(challenge, func(t *testing.T) {
			f := newFixture(t)
			f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
				h := http.Header{}
				if challenge != "" {
					h.Set("WWW-Authenticate", challenge)
				}
				return &http.Response{StatusCode: 403, Header: h, Body: http.NoBody, Request: r}, nil
			})
			resp, err := f.client.Get("https://api.example/")
			if err != nil {
				t.Fatalf("err = %v, want the 403", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 || f.issuer.calls.Load() != 0 {
				t.Errorf("status %d after %d refreshes; want the 403 and none", resp.StatusCode, f.issuer.calls.Load())
			}
		})
	}
}

// The response to the resend after a rejection is returned as it is,
// but a scope challenge on it is an error too, and nothing is sent a
// third time.
func TestScopeChallengeOnTheResend(t *testing.T) {
	f := newFixture(t)
	var sends atomic.Int32
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		sends.Add(1)
		if r.Header.Get("Authorization") == "Bearer at-1" {
			return &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}, Body: http.NoBody, Request: r}, nil
		}
		return &http.Response{StatusCode: 403, Header: http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", scope="admin"`}}, Body: http.NoBody, Request: r}, nil
	})
	_, err := f.client.Get("https://api.example/")
	var se *oauthrt.InsufficientScopeError
	if !errors.As(err, &se) || se.Scope != "admin" || se.StatusCode != 403 {
		t.Fatalf("err = %v, want an InsufficientScopeError for admin", err)
	}
	if sends.Load() != 2 || f.issuer.calls.Load() != 1 {
		t.Errorf("%d sends, %d refreshes; want 2 and 1", sends.Load(), f.issuer.calls.Load())
	}
}
