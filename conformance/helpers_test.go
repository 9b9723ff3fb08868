package conformance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// get sends a GET to url through rt and fails the test unless the answer
// is 200. It returns the body.
func get(t testing.TB, rt http.RoundTripper, url string) string {
	t.Helper()
	body, err := tryGet(rt, url)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// tryGet is get returning its failure.
func tryGet(rt http.RoundTripper, url string) (string, error) {
	resp, err := (&http.Client{Transport: rt}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &statusError{resp.Status, resp.Header.Get("WWW-Authenticate")}
	}
	return string(b), nil
}

type statusError struct{ status, challenge string }

func (e *statusError) Error() string {
	return "API answered " + e.status + " (WWW-Authenticate: " + e.challenge + ")"
}

// callAPI sends the access token tok to the API directly, with no
// Transport, and returns the status and the challenge.
func (s *authServer) callAPI(t testing.TB, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.apiURL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// load returns the token stored under key.
func load(t testing.TB, store oauthrt.TokenStore, key string) *oauth2.Token {
	t.Helper()
	tok, err := store.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// save stores tok under key.
func save(t testing.TB, store oauthrt.TokenStore, key string, tok *oauth2.Token) {
	t.Helper()
	if err := store.Save(context.Background(), key, tok); err != nil {
		t.Fatal(err)
	}
}

// errorCode returns the OAuth2 error code err carries from the token
// endpoint, or "".
func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// wantCode fails the test unless err is the token endpoint's answer code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := errorCode(err); got != code {
		t.Fatalf("got error %v (code %q), want the token endpoint's %s", err, got, code)
	}
}

// wantRefreshes fails the test unless calls are n successful
// refresh_token grants authenticated by c as c is registered, and
// returns them.
func wantRefreshes(t testing.TB, calls []tokenCall, c client, n int) []tokenCall {
	t.Helper()
	if len(calls) != n {
		t.Fatalf("the token endpoint got %d calls, want %d: %+v", len(calls), n, calls)
	}
	for _, call := range calls {
		if call.grant != "refresh_token" || call.status != http.StatusOK || call.auth != c.method {
			t.Errorf("token endpoint call %+v, want a refresh_token grant with %s answered 200", call, c.method)
		}
		if c.method == methodJWT && (call.alg != c.alg || call.kid != c.kid || call.jti == "") {
			t.Errorf("client assertion alg %q kid %q jti %q, want alg %q kid %q and a jti", call.alg, call.kid, call.jti, c.alg, c.kid)
		}
	}
	return calls
}

// wantAPI fails the test unless the API saw exactly want.
func wantAPI(t testing.TB, got []apiCall, want ...apiCall) {
	t.Helper()
	show := func(cs []apiCall) string {
		var b strings.Builder
		for _, c := range cs {
			b.WriteString(http.StatusText(c.status) + " for " + shortToken(c.token) + "; ")
		}
		return b.String()
	}
	if len(got) != len(want) {
		t.Fatalf("the API saw %s want %s", show(got), show(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("the API saw %s want %s", show(got), show(want))
		}
	}
}

// shortToken names a token in a failure message by a few of its last
// characters (the first ones are fosite's fixed prefix).
func shortToken(tok string) string {
	if len(tok) < 8 {
		return "<" + tok + ">"
	}
	return "…" + tok[len(tok)-6:]
}
