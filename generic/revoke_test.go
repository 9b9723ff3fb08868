package generic_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

func revokable() *oauth2.Token {
	return &oauth2.Token{AccessToken: "AT-to-revoke", RefreshToken: "RT-to-revoke"}
}

// Revoke posts the refresh token, then the access token, to the
// revocation endpoint, with the client authenticated as Refresh does.
func TestRevokeRequests(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rt := url.Values{"token": {"RT-to-revoke"}, "token_type_hint": {"refresh_token"}}
	at := url.Values{"token": {"AT-to-revoke"}, "token_type_hint": {"access_token"}}
	with := func(form url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, v := range form {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name string
		r    generic.Refresher
		want []request
	}{
		{
			name: "client_secret_basic",
			r:    generic.Refresher{ClientID: "id", ClientSecret: "secret", AuthMethod: generic.AuthClientSecretBasic},
			want: []request{{Path: "/revoke", Form: rt, HasBasic: true, User: "id"}, {Path: "/revoke", Form: at, HasBasic: true, User: "id"}},
		},
		{
			name: "client_secret_post by AuthStyle",
			r:    generic.Refresher{ClientID: "id", ClientSecret: "secret", AuthStyle: oauth2.AuthStyleInParams},
			want: []request{
				{Path: "/revoke", Form: with(rt, "client_id", "id", "client_secret", "secret")},
				{Path: "/revoke", Form: with(at, "client_id", "id", "client_secret", "secret")},
			},
		},
		{
			name: "public client",
			r:    generic.Refresher{ClientID: "id"},
			want: []request{{Path: "/revoke", Form: with(rt, "client_id", "id")}, {Path: "/revoke", Form: with(at, "client_id", "id")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newProviderServer(t, answerWith(200, "", ""))
			r := tt.r
			r.TokenURL, r.RevocationURL, r.HTTPClient = ps.URL+"/token", ps.URL+"/revoke", fastClient()
			if err := r.Revoke(context.Background(), revokable()); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if diff := cmp.Diff(tt.want, ps.requests(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("private_key_jwt", func(t *testing.T) {
		ps := newProviderServer(t, answerWith(200, "", ""))
		r := &generic.Refresher{TokenURL: ps.URL + "/token", RevocationURL: ps.URL + "/revoke", ClientID: "id",
			PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}, HTTPClient: fastClient()}
		if err := r.Revoke(context.Background(), revokable()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		reqs := ps.requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want 2", len(reqs))
		}
		var jtis []string
		for i, req := range reqs {
			if req.Form.Get("client_assertion_type") != generic.ClientAssertionType || req.Form.Get("client_id") != "id" {
				t.Errorf("request %d: form %v", i, req.Form)
			}
			_, claims := verifyJWT(t, req.Form.Get("client_assertion"), &key.PublicKey)
			if claims.Aud != r.RevocationURL || claims.Iss != "id" {
				t.Errorf("request %d: claims %+v, want the revocation URL as audience", i, claims)
			}
			jtis = append(jtis, claims.Jti)
		}
		if jtis[0] == jtis[1] {
			t.Error("both requests carry the same assertion")
		}
	})

	t.Run("AutoDetect uses what the token endpoint taught", func(t *testing.T) {
		ps := newProviderServer(t, func(r request) reply {
			if r.HasBasic {
				return reply{status: 401, body: `{"error":"invalid_client"}`}
			}
			if r.Path == "/token" {
				return reply{status: 200, body: tokenBody}
			}
			return reply{status: 200}
		})
		r := &generic.Refresher{TokenURL: ps.URL + "/token", RevocationURL: ps.URL + "/revoke", ClientID: "revoke-autodetect", ClientSecret: "secret", HTTPClient: fastClient()}
		if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
			t.Fatal(err)
		}
		if err := r.Revoke(context.Background(), revokable()); err != nil {
			t.Fatal(err)
		}
		reqs := ps.requests()
		// Basic then the form at /token; the form alone at /revoke.
		if len(reqs) != 4 || reqs[2].HasBasic || reqs[3].HasBasic || reqs[2].Form.Get("client_secret") != "secret" {
			t.Errorf("requests %+v", reqs)
		}
	})

	t.Run("AutoDetect at the revocation endpoint is not remembered", func(t *testing.T) {
		ps := newProviderServer(t, func(r request) reply {
			if r.Path == "/revoke" && r.HasBasic {
				return reply{status: 401}
			}
			if r.Path == "/token" {
				return reply{status: 200, body: tokenBody}
			}
			return reply{status: 200}
		})
		r := &generic.Refresher{TokenURL: ps.URL + "/token", RevocationURL: ps.URL + "/revoke", ClientID: "revoke-not-remembered", ClientSecret: "secret", HTTPClient: fastClient()}
		if err := r.Revoke(context.Background(), &oauth2.Token{RefreshToken: "RT-to-revoke"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
			t.Fatal(err)
		}
		reqs := ps.requests()
		if len(reqs) != 3 || !reqs[0].HasBasic || reqs[1].HasBasic || !reqs[2].HasBasic {
			t.Errorf("requests %+v, want Basic and the form at /revoke, then Basic at /token", reqs)
		}
	})
}

// Revoke's answers: 200 whatever the body, a token already dead, and the
// access token's unsupported_token_type are success; other errors are
// typed, never say the grant is dead, and are transient when they may
// pass.
func TestRevokeAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(request) reply
		calls     int
		code      string // "" with ok
		ok        bool
		transient bool
	}{
		{name: "200", answer: answerWith(200, "", ""), calls: 2, ok: true},
		{name: "200 with a page", answer: answerWith(200, "text/html", "<html>done</html>"), calls: 2, ok: true},
		{name: "invalid_token", answer: answerWith(400, "", `{"error":"invalid_token"}`), calls: 2, ok: true},
		{name: "access token unsupported", calls: 2, ok: true, answer: func(r request) reply {
			if r.Form.Get("token_type_hint") == "access_token" {
				return reply{status: 400, body: `{"error":"unsupported_token_type"}`}
			}
			return reply{status: 200}
		}},
		{name: "refresh token unsupported", answer: answerWith(400, "", `{"error":"unsupported_token_type"}`), calls: 1, code: "unsupported_token_type"},
		{name: "invalid_request", answer: answerWith(400, "", `{"error":"invalid_request"}`), calls: 1, code: "invalid_request"},
		{name: "503", answer: answerWith(503, "", `{"error":"temporarily_unavailable"}`), calls: 1, code: "temporarily_unavailable", transient: true},
		{name: "401 bare", answer: answerWith(401, "text/plain", ""), calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newProviderServer(t, tt.answer)
			r := &generic.Refresher{TokenURL: ps.URL + "/token", RevocationURL: ps.URL + "/revoke", ClientID: "id", ClientSecret: "secret",
				AuthMethod: generic.AuthClientSecretBasic, HTTPClient: fastClient()}
			err := r.Revoke(context.Background(), revokable())
			if n := len(ps.requests()); n != tt.calls {
				t.Errorf("%d requests, want %d", n, tt.calls)
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
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != tt.code {
				t.Errorf("error %v, want a RetrieveError with code %q", err, tt.code)
			}
			if errors.Is(err, oauthrt.ErrReauthRequired) {
				t.Errorf("a failed revocation says the grant is dead: %v", err)
			}
			var te *oauthrt.TransientError
			if got := errors.As(err, &te); got != tt.transient {
				t.Errorf("transient = %v, want %v", got, tt.transient)
			}
			if !strings.HasPrefix(err.Error(), "generic: revoke: the refresh token: oauthrt: revocation endpoint answered") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

// Without a RevocationURL, or with a token or a client it cannot send,
// Revoke fails before sending anything; a plain http:// URL to another
// host is refused, and a redirect is not followed.
func TestRevokeRefusals(t *testing.T) {
	var sent int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent++
		http.Redirect(w, r, "https://elsewhere.example/revoke", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	tests := []struct {
		name  string
		r     generic.Refresher
		tok   *oauth2.Token
		is    error
		sent  int
		redir bool
	}{
		{name: "no revocation endpoint", r: generic.Refresher{TokenURL: srv.URL}, tok: revokable(), is: oauthrt.ErrRevokeUnsupported},
		{name: "no revocation endpoint, nil token", r: generic.Refresher{}, is: oauthrt.ErrRevokeUnsupported},
		{name: "nil token", r: generic.Refresher{RevocationURL: srv.URL}},
		{name: "empty token", r: generic.Refresher{RevocationURL: srv.URL}, tok: &oauth2.Token{}},
		{name: "unusable client", r: generic.Refresher{RevocationURL: srv.URL, AuthMethod: generic.AuthClientSecretPost}, tok: revokable()},
		{name: "plain http", r: generic.Refresher{RevocationURL: "http://idp.example/revoke"}, tok: revokable(), is: oauthrt.ErrInsecureURL},
		{name: "redirect", r: generic.Refresher{RevocationURL: srv.URL, HTTPClient: &http.Client{}}, tok: revokable(), sent: 1, redir: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent = 0
			err := tt.r.Revoke(context.Background(), tt.tok)
			if err == nil {
				t.Fatal("Revoke succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Revoke = %v, want it to wrap %v", err, tt.is)
			}
			if sent != tt.sent {
				t.Errorf("%d requests sent, want %d", sent, tt.sent)
			}
			var re *oauth2.RetrieveError
			if tt.redir && (!errors.As(err, &re) || re.Response.StatusCode != http.StatusTemporaryRedirect) {
				t.Errorf("Revoke = %v, want the redirect as an error", err)
			}
		})
	}
}

// No token or secret appears in Revoke's errors, whatever the endpoint
// echoes.
func TestRevokeErrorsHideSecrets(t *testing.T) {
	const secret = "CLIENT-SECRET-456"
	tok := &oauth2.Token{AccessToken: "ACCESS-TOKEN-789", RefreshToken: "REFRESH-TOKEN-123"}
	for _, tt := range []struct {
		name        string
		status      int
		contentType string
	}{
		{"json", 400, "application/json"},
		{"html", 503, "text/html"},
		{"form", 400, "application/x-www-form-urlencoded"},
		{"plain", 502, "text/plain"},
	} {
		for _, method := range []generic.AuthMethod{generic.AuthClientSecretBasic, generic.AuthClientSecretPost} {
			t.Run(fmt.Sprintf("%s/%s", tt.name, method), func(t *testing.T) {
				ps := newProviderServer(t, func(r request) reply {
					echo := fmt.Sprintf("token=%s secret=%s", r.Form.Get("token"), r.Form.Get("client_secret"))
					body := echo
					switch tt.contentType {
					case "application/json":
						body = fmt.Sprintf(`{"error":"invalid_request","error_description":%q,"token":%q}`, echo, r.Form.Get("token"))
					case "application/x-www-form-urlencoded":
						body = url.Values{"error": {"invalid_request"}, "error_description": {echo}, "token": {r.Form.Get("token")}}.Encode()
					}
					return reply{tt.status, tt.contentType, body}
				})
				r := &generic.Refresher{RevocationURL: ps.URL + "/revoke", ClientID: "id", ClientSecret: secret, AuthMethod: method, HTTPClient: fastClient()}
				err := r.Revoke(context.Background(), tok)
				if err == nil {
					t.Fatal("Revoke succeeded")
				}
				texts := []string{fmt.Sprintf("%v %+v %#v", err, err, err)}
				var re *oauth2.RetrieveError
				if errors.As(err, &re) {
					texts = append(texts, string(re.Body), re.Error(), re.ErrorDescription, re.ErrorCode)
				}
				for _, s := range texts {
					for _, v := range []string{secret, tok.AccessToken, tok.RefreshToken} {
						if strings.Contains(s, v) {
							t.Errorf("%q leaks %q", s, v)
						}
					}
				}
			})
		}
	}
}
