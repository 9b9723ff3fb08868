package endpoint_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// A revocation succeeds on a 2xx without an error code, whatever the
// body, and on a code that says the token is dead already; its errors
// name the revocation endpoint, are transient as a token endpoint's are,
// and never say the grant is dead.
func TestRevoke(t *testing.T) {
	tests := []struct {
		name        string
		dialect     endpoint.Dialect
		status      int
		contentType string
		body        string
		ok          bool
		code        string
		transient   bool
		client      bool // ClientRejected
	}{
		{name: "200 empty", status: 200, ok: true},
		{name: "200 JSON", status: 200, contentType: jsonType, body: `{}`, ok: true},
		{name: "204", status: 204, ok: true},
		{name: "200 HTML", status: 200, contentType: "text/html", body: "<html>ok</html>", ok: true},
		{name: "400 invalid_token", status: 400, contentType: jsonType, body: `{"error":"invalid_token","error_description":"Token expired or revoked"}`, ok: true},
		{name: "400 invalid_grant", status: 400, contentType: jsonType, body: `{"error":"invalid_grant"}`, ok: true},
		{name: "a dialect's dead code", dialect: endpoint.Dialect{DeadCodes: []string{"BAD_REFRESH_TOKEN"}, CodeMembers: []string{"status"}}, status: 400, contentType: jsonType, body: `{"status":"BAD_REFRESH_TOKEN"}`, ok: true},
		{name: "200 with an error", status: 200, contentType: jsonType, body: `{"ok":false,"error":"not_allowed"}`, code: "not_allowed"},
		{name: "400 unsupported_token_type", status: 400, contentType: jsonType, body: `{"error":"unsupported_token_type"}`, code: "unsupported_token_type"},
		{name: "401 invalid_client", status: 401, contentType: jsonType, body: `{"error":"invalid_client"}`, code: "invalid_client", client: true},
		{name: "401 bare", status: 401, client: true},
		{name: "404 HTML", status: 404, contentType: "text/html", body: "<html>no</html>"},
		{name: "503", status: 503, contentType: jsonType, body: `{}`, transient: true},
		{name: "429", status: 429, transient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form url.Values
			srv, calls := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				form = r.PostForm
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			err := endpoint.Revoke(context.Background(), fastClient(), endpoint.Request{
				URL:     srv.URL,
				Form:    url.Values{"token": {"RT-1234"}, "token_type_hint": {"refresh_token"}},
				Dialect: tt.dialect,
				Secrets: []string{"RT-1234"},
			})
			if n := calls.Load(); n != 1 {
				t.Errorf("the endpoint got %d requests, want 1", n)
			}
			if form.Get("token") != "RT-1234" || form.Get("token_type_hint") != "refresh_token" {
				t.Errorf("form = %v", form)
			}
			if tt.ok {
				if err != nil {
					t.Fatalf("Revoke = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Revoke = nil, want an error")
			}
			checkResponseError(t, err, tt.status, tt.code, false)
			if !strings.HasPrefix(err.Error(), "oauthrt: revocation endpoint answered ") {
				t.Errorf("Error() = %q, want it to name the revocation endpoint", err)
			}
			var te *oauthrt.TransientError
			if got := errors.As(err, &te); got != tt.transient {
				t.Errorf("transient = %v, want %v", got, tt.transient)
			}
			if got := endpoint.ClientRejected(err); got != tt.client {
				t.Errorf("ClientRejected = %v, want %v", got, tt.client)
			}
		})
	}
}

// A revocation is refused before it is sent to a plain http:// host that
// is not a loopback one, and never follows a redirect.
func TestRevokeURLRules(t *testing.T) {
	err := endpoint.Revoke(context.Background(), fastClient(), endpoint.Request{URL: "http://idp.example/revoke"})
	if !errors.Is(err, oauthrt.ErrInsecureURL) || !strings.Contains(err.Error(), "revocation endpoint") {
		t.Errorf("Revoke to http:// = %v, want ErrInsecureURL naming the revocation endpoint", err)
	}
	other, otherCalls := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	})
	err = endpoint.Revoke(context.Background(), &http.Client{}, endpoint.Request{URL: srv.URL, Form: url.Values{"token": {"RT"}}})
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("Revoke through a redirect = %v, want the 307 as an error", err)
	}
	if n := otherCalls.Load(); n != 0 {
		t.Errorf("the redirect was followed: %d requests", n)
	}
}

// RevokeFresh builds each attempt anew, as DoFresh does, and reads the
// answer as Revoke does.
func TestRevokeFresh(t *testing.T) {
	var seen []string
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		seen = append(seen, r.PostForm.Get("client_assertion"))
		w.WriteHeader(200)
	})
	n := 0
	err := endpoint.RevokeFresh(context.Background(), nil, func() (endpoint.Request, error) {
		n++
		return endpoint.Request{URL: srv.URL, Form: url.Values{"client_assertion": {"A" + strings.Repeat("x", n)}}}, nil
	})
	if err != nil || len(seen) != 1 || seen[0] != "Ax" {
		t.Errorf("RevokeFresh = %v, sent %v; want nil and one request", err, seen)
	}
	boom := errors.New("boom")
	if err := endpoint.RevokeFresh(context.Background(), nil, func() (endpoint.Request, error) { return endpoint.Request{}, boom }); !errors.Is(err, boom) {
		t.Errorf("RevokeFresh with a failing build = %v, want boom", err)
	}
}
