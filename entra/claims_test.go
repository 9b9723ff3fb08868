package entra_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

const cp1 = `{"access_token":{"xms_cc":{"values":["cp1"]}}}`

// ClientCapabilities declare themselves in every token request, as the
// claims Microsoft documents, merged into a claims challenge's claims
// when the context carries one: the challenge's members win.
func TestClientCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		caps      []string
		challenge string // claims in the context; "" for none
		want      string // the claims parameter sent; "-" for none
	}{
		{"none", nil, "", "-"},
		{"cp1", []string{"cp1"}, "", cp1},
		{"two", []string{"cp1", "x & <y>"}, "", `{"access_token":{"xms_cc":{"values":["cp1","x & <y>"]}}}`},
		{"challenge without capabilities", nil, `{"access_token":{"nbf":{"essential":true,"value":"1764460800"}}}`,
			`{"access_token":{"nbf":{"essential":true,"value":"1764460800"}}}`},
		{"merged", []string{"cp1"}, `{"access_token":{"acrs":{"essential":true,"value":"c25"}}}`,
			`{"access_token":{"acrs":{"essential":true,"value":"c25"},"xms_cc":{"values":["cp1"]}}}`},
		{"merged beside id_token", []string{"cp1"}, `{"id_token":{"auth_time":{"essential":true}}}`,
			`{"access_token":{"xms_cc":{"values":["cp1"]}},"id_token":{"auth_time":{"essential":true}}}`},
		{"the challenge's xms_cc wins", []string{"cp1"}, `{"access_token":{"xms_cc":{"values":["cp2"]}}}`,
			`{"access_token":{"xms_cc":{"values":["cp2"]}}}`},
		{"an access_token that is no object wins", []string{"cp1"}, `{"access_token":"odd"}`, `{"access_token":"odd"}`},
		{"null access_token", []string{"cp1"}, `{"access_token":null}`, cp1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEntra(t, clientSecret, nil)
			r := e.refresher()
			r.ClientCapabilities = tt.caps
			ctx := context.Background()
			if tt.challenge != "" {
				ctx = oauthrt.WithClaimsChallenge(ctx, tt.challenge)
			}
			if _, err := r.Refresh(ctx, &oauth2.Token{RefreshToken: firstRT}); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if _, err := r.Exchange(ctx, firstCode, callbackURL, pkceVerifier); err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if diff := cmp.Diff([]string{tt.want, tt.want}, e.seenClaims()); diff != "" {
				t.Errorf("claims sent by Refresh and Exchange (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a challenge that is no JSON object", func(t *testing.T) {
		e := newFakeEntra(t, clientSecret, nil)
		r := e.refresher()
		r.ClientCapabilities = []string{"cp1"}
		ctx := oauthrt.WithClaimsChallenge(context.Background(), `[1]`)
		_, err := r.Refresh(ctx, &oauth2.Token{RefreshToken: firstRT})
		if err == nil || !strings.HasPrefix(err.Error(), "entra: ") || len(e.seen()) != 0 {
			t.Errorf("err = %v after %d requests, want an entra: error and none", err, len(e.seen()))
		}
	})
}

// End to end: an app declaring cp1 meets a claims challenge from an API
// (as Microsoft Graph sends after a revocation event); the Transport
// refreshes once at Entra with the challenge's claims and cp1 merged,
// and the resend goes through.
func TestTransportAnswersClaimsChallenge(t *testing.T) {
	const demand = `{"access_token":{"nbf":{"essential":true,"value":"1764460800"}}}`
	const merged = `{"access_token":{"nbf":{"essential":true,"value":"1764460800"},"xms_cc":{"values":["cp1"]}}}`
	e := newFakeEntra(t, clientSecret, nil)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.claimsFor(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) == merged {
			io.WriteString(w, `{"displayName":"Megan"}`)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="`+base64.StdEncoding.EncodeToString([]byte(demand))+`"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer api.Close()
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "entra:megan", staleToken()); err != nil {
		t.Fatal(err)
	}
	r := e.refresher()
	r.ClientCapabilities = []string{"cp1"}
	tr := &oauthrt.Transport{Store: store, Key: "entra:megan", Refresher: r}
	defer tr.Close()

	resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/v1.0/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if diff := cmp.Diff([]string{merged}, e.seenClaims()); diff != "" {
		t.Errorf("claims of the refreshes (-want +got):\n%s", diff)
	}
}
