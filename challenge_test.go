package oauthrt_test

import (
	"net/http"
	"net/url"
	"testing"

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
