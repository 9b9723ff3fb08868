package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

func TestPrivateKeyJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs := client{id: "jwt-rs256-app", method: methodJWT, key: rsaKey, kid: "rsa-2026", alg: "RS256"}
	es := client{id: "jwt-es256-app", method: methodJWT, key: ecKey, kid: "p256-2026", alg: "ES256"}
	s := newAuthServer(t, serverOptions{accessTokenLifespan: time.Hour, clients: []client{rs, es}, logAPI: true})

	for _, c := range []client{rs, es} {
		t.Run(c.alg, func(t *testing.T) {
			checkAuthMethod(t, s, c, func() *generic.Refresher { return s.refresher(c) })
		})
	}

	// AuthMethod left empty: a PrivateKeyJWT is enough to choose the
	// method.
	t.Run("derived method", func(t *testing.T) {
		checkAuthMethod(t, s, es, func() *generic.Refresher {
			return &generic.Refresher{TokenURL: s.tokenURL, ClientID: es.id, PrivateKeyJWT: &generic.PrivateKeyJWT{Key: es.key, KeyID: es.kid}}
		})
	})

	// fosite checks the signature against the registered key, and the
	// algorithm against the registered one; this is what makes the
	// subtests above prove that the assertions were well signed.
	t.Run("fosite verifies the assertion", func(t *testing.T) {
		otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		wrongKey := s.refresher(es)
		wrongKey.PrivateKeyJWT.Key = otherEC // same kid, another key
		checkRejected(t, s, es, wrongKey, methodJWT)

		wrongAlg := s.refresher(es)
		wrongAlg.PrivateKeyJWT.Key = rsaKey // RS256 for a client registered for ES256
		checkRejected(t, s, es, wrongAlg, methodJWT)

		wrongAudience := s.refresher(rs)
		wrongAudience.PrivateKeyJWT.Audience = s.apiURL
		checkRejected(t, s, rs, wrongAudience, methodJWT)
	})
}
