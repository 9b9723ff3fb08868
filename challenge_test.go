package oauthrt_test

import (
	"net/http"
	"net/url"
	"testing"

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
