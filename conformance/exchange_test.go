package conformance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// generic.Refresher's Exchange redeems fosite's authorization codes with
// each client authentication method, and a code redeemed twice is
// refused as a dead grant (fosite also revokes what the code gave).
func TestExchange(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	clients := []client{
		{id: "exchange-basic", method: methodBasic, secret: "basic-" + randomHex(16)},
		{id: "exchange-post", method: methodPost, secret: "post-" + randomHex(16)},
		{id: "exchange-jwt", method: methodJWT, key: key, kid: "rsa-1", alg: "RS256"},
	}
	s := newAuthServer(t, serverOptions{accessTokenLifespan: time.Hour, clients: clients})
	for _, c := range clients {
		t.Run(c.id, func(t *testing.T) {
			code := s.authorizationCode(t, c, "carol")
			r := s.refresher(c)
			tok, err := r.Exchange(context.Background(), code, s.redirectURL, "")
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if status, challenge := s.callAPI(t, tok.AccessToken); status != 200 {
				t.Errorf("API answered %d (%s) to the exchanged token", status, challenge)
			}
			if tok.RefreshToken == "" {
				t.Error("no refresh token: the grant could not be refreshed")
			}
			_, err = r.Exchange(context.Background(), code, s.redirectURL, "")
			if !errors.Is(err, oauthrt.ErrReauthRequired) {
				t.Errorf("the same code again: %v, want ErrReauthRequired", err)
			}
		})
	}
}
