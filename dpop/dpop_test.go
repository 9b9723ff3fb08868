package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt/dpop"
	"golang.org/x/oauth2"
)

// opaque hides a key's type, as a key in a hardware module does: only
// Public and Sign are there.
type opaque struct{ k crypto.Signer }

func (o opaque) Public() crypto.PublicKey { return o.k.Public() }
func (o opaque) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

func keys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]crypto.Signer{"ES256": p256, "ES384": p384, "ES512": p521, "PS256": r, "EdDSA": ed}
}

// jws splits and decodes a compact JWS, and checks its signature with the
// public key in its own jwk header, as a server does (RFC 9449 §4.3).
func verify(t *testing.T, proof string) (header map[string]any, claims map[string]any) {
	t.Helper()
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		t.Fatalf("proof has %d parts", len(parts))
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("not base64url: %v", err)
		}
		return b
	}
	if err := json.Unmarshal(dec(parts[0]), &header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(dec(parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	signed := []byte(parts[0] + "." + parts[1])
	sig := dec(parts[2])
	jwk := header["jwk"].(map[string]any)
	num := func(name string) *big.Int { return new(big.Int).SetBytes(dec(jwk[name].(string))) }
	ok := false
	switch alg := header["alg"].(string); alg {
	case "ES256", "ES384", "ES512":
		curve, digest := elliptic.P256(), func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
		if alg == "ES384" {
			curve, digest = elliptic.P384(), func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }
		}
		if alg == "ES512" {
			curve, digest = elliptic.P521(), func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			t.Fatalf("%s signature is %d bytes, want %d", alg, len(sig), 2*size)
		}
		pub := &ecdsa.PublicKey{Curve: curve, X: num("x"), Y: num("y")}
		ok = ecdsa.Verify(pub, digest(signed), new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
	case "PS256":
		pub := &rsa.PublicKey{N: num("n"), E: int(num("e").Int64())}
		d := sha256.Sum256(signed)
		ok = rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case "EdDSA":
		ok = ed25519.Verify(ed25519.PublicKey(dec(jwk["x"].(string))), signed, sig)
	default:
		t.Fatalf("alg %q", alg)
	}
	if !ok {
		t.Fatalf("the proof's signature does not verify with its own jwk")
	}
	return header, claims
}

func TestProof(t *testing.T) {
	for alg, key := range keys(t) {
		for _, k := range []crypto.Signer{key, opaque{key}} {
			t.Run(alg, func(t *testing.T) {
				p, err := dpop.NewProver(k)
				if err != nil {
					t.Fatal(err)
				}
				u, _ := url.Parse("HTTPS://API.Example.com:443/v1/items?page=2#frag")
				before := time.Now().Unix()
				proof, err := p.Proof(http.MethodPost, u, "the-access-token", "n-1")
				if err != nil {
					t.Fatal(err)
				}
				header, claims := verify(t, proof)
				if header["typ"] != "dpop+jwt" || header["alg"] != alg || p.Algorithm() != alg {
					t.Errorf("header %v", header)
				}
				if _, ok := header["jwk"].(map[string]any)["d"]; ok {
					t.Error("the jwk header holds the private key")
				}
				ath := sha256.Sum256([]byte("the-access-token"))
				want := map[string]any{
					"htm": "POST", "htu": "https://api.example.com/v1/items",
					"ath": base64.RawURLEncoding.EncodeToString(ath[:]), "nonce": "n-1",
				}
				for k, v := range want {
					if claims[k] != v {
						t.Errorf("claim %s = %v, want %v", k, claims[k], v)
					}
				}
				if iat := int64(claims["iat"].(float64)); iat < before || iat > time.Now().Unix() {
					t.Errorf("iat %d is not now", iat)
				}
				if jti, _ := claims["jti"].(string); len(jti) < 16 {
					t.Errorf("jti %q", jti)
				}
				// The thumbprint is of the jwk the proof carries.
				jwk, _ := json.Marshal(header["jwk"]) // encoding/json sorts the members
				sum := sha256.Sum256(jwk)
				if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != p.Thumbprint() {
					t.Errorf("Thumbprint %s, want %s", p.Thumbprint(), got)
				}
			})
		}
	}
}

func TestProofForTheTokenEndpoint(t *testing.T) {
	key, _ := dpop.NewKey()
	p, _ := dpop.NewProver(key)
	u, _ := url.Parse("http://127.0.0.1:8080/token")
	seen := map[string]bool{}
	for range 50 {
		proof, err := p.Proof("POST", u, "", "")
		if err != nil {
			t.Fatal(err)
		}
		_, claims := verify(t, proof)
		if _, ok := claims["ath"]; ok {
			t.Error("a token endpoint proof carries ath")
		}
		if _, ok := claims["nonce"]; ok {
			t.Error("a proof without a nonce carries one")
		}
		if claims["htu"] != "http://127.0.0.1:8080/token" {
			t.Errorf("htu %v", claims["htu"])
		}
		jti := claims["jti"].(string)
		if seen[jti] {
			t.Fatal("a jti was used twice")
		}
		seen[jti] = true
	}
}

func TestHTU(t *testing.T) {
	for in, want := range map[string]string{
		"https://a.example":                 "https://a.example/",
		"https://a.example:8443/x/y?q=1":    "https://a.example:8443/x/y",
		"http://A.EXAMPLE:80/p#f":           "http://a.example/p",
		"https://a.example/%7Euser/a%2Fb":   "https://a.example/%7Euser/a%2Fb",
		"http://[::1]:8080/token?grant=1#x": "http://[::1]:8080/token",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := dpop.HTU(u); got != want {
			t.Errorf("HTU(%s) = %s, want %s", in, got, want)
		}
	}
}

// RFC 7638 §3.1's example key and thumbprint.
func TestThumbprintRFC7638(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	got, err := dpop.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}

func TestUnsupportedKeys(t *testing.T) {
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, k := range map[string]crypto.Signer{"P-224": p224, "RSA-1024": small} {
		if _, err := dpop.NewProver(k); err == nil {
			t.Errorf("%s: NewProver accepted it", name)
		}
		if _, err := dpop.Thumbprint(k.Public()); err == nil {
			t.Errorf("%s: Thumbprint accepted it", name)
		}
		if _, err := dpop.Bind(&oauth2.Token{AccessToken: "a"}, k); err == nil {
			t.Errorf("%s: Bind accepted it", name)
		}
	}
	if _, err := dpop.NewProver(nil); err == nil {
		t.Error("NewProver(nil) gave no error")
	}
}

func TestBind(t *testing.T) {
	for alg, key := range keys(t) {
		t.Run(alg, func(t *testing.T) {
			tok := (&oauth2.Token{AccessToken: "at", RefreshToken: "rt"}).WithExtra(map[string]any{"scope": "read"})
			bound, err := dpop.Bind(tok, key)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Extra(dpop.KeyMember) != nil {
				t.Error("Bind modified its token")
			}
			if bound.Extra("scope") != "read" || bound.AccessToken != "at" || bound.RefreshToken != "rt" {
				t.Error("Bind lost the token's fields")
			}
			got, err := dpop.KeyOf(bound)
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(got.Public(), key.Public()) {
				t.Error("KeyOf returned another key")
			}
			// The key survives the JSON a store keeps the extras in.
			raw, _ := json.Marshal(map[string]any{dpop.KeyMember: bound.Extra(dpop.KeyMember)})
			var m map[string]any
			json.Unmarshal(raw, &m)
			again, err := dpop.KeyOf((&oauth2.Token{AccessToken: "at"}).WithExtra(m))
			if err != nil || !cmp.Equal(again.Public(), key.Public()) {
				t.Fatalf("after JSON: %v", err)
			}
		})
	}
	t.Run("form extras", func(t *testing.T) {
		key, _ := dpop.NewKey()
		tok := (&oauth2.Token{AccessToken: "at"}).WithExtra(url.Values{"scope": {"read"}})
		bound, err := dpop.Bind(tok, key)
		if err != nil {
			t.Fatal(err)
		}
		if k, err := dpop.KeyOf(bound); err != nil || k == nil || bound.Extra("scope") != "read" {
			t.Fatalf("KeyOf: %v, %v", k, err)
		}
	})
	t.Run("a key in a hardware module", func(t *testing.T) {
		key, _ := dpop.NewKey()
		if _, err := dpop.Bind(&oauth2.Token{AccessToken: "at"}, opaque{key}); err == nil {
			t.Error("Bind took a key it cannot encode")
		}
	})
	t.Run("nil", func(t *testing.T) {
		key, _ := dpop.NewKey()
		if _, err := dpop.Bind(nil, key); err == nil {
			t.Error("Bind(nil, key) gave no error")
		}
		if _, err := dpop.Bind(&oauth2.Token{}, nil); err == nil {
			t.Error("Bind(tok, nil) gave no error")
		}
	})
}

func TestKeyOf(t *testing.T) {
	if k, err := dpop.KeyOf(nil); k != nil || err != nil {
		t.Errorf("KeyOf(nil) = %v, %v", k, err)
	}
	if k, err := dpop.KeyOf(&oauth2.Token{AccessToken: "a"}); k != nil || err != nil {
		t.Errorf("KeyOf(no key) = %v, %v", k, err)
	}
	for name, v := range map[string]any{
		"not a string": 42.0,
		"not base64":   "s3cr3t!!!",
		"not PKCS #8":  base64.RawURLEncoding.EncodeToString([]byte("s3cr3t-bytes")),
	} {
		tok := (&oauth2.Token{AccessToken: "a"}).WithExtra(map[string]any{dpop.KeyMember: v})
		_, err := dpop.KeyOf(tok)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if s, ok := v.(string); ok && strings.Contains(err.Error(), s) {
			t.Errorf("%s: the error shows the member: %v", name, err)
		}
	}
}

func TestNonces(t *testing.T) {
	var ns dpop.Nonces
	a, _ := url.Parse("https://api.example.com/x?y")
	a443, _ := url.Parse("https://API.example.com:443/other")
	b, _ := url.Parse("https://api.example.com:8443/x")
	if ns.Get(a) != "" {
		t.Error("a nonce before any was sent")
	}
	if !ns.Update(a, http.Header{"Dpop-Nonce": {"n1"}}) {
		t.Error("a first nonce is not a change")
	}
	if ns.Update(a443, http.Header{"Dpop-Nonce": {"n1"}}) {
		t.Error("the same nonce again is a change")
	}
	if ns.Get(a443) != "n1" || ns.Get(b) != "" {
		t.Errorf("origins: %q, %q", ns.Get(a443), ns.Get(b))
	}
	if ns.Update(a, http.Header{}) || ns.Update(a, http.Header{"Dpop-Nonce": {"bad nonce"}}) || ns.Update(a, http.Header{"Dpop-Nonce": {`q"`}}) {
		t.Error("a missing or malformed nonce was taken")
	}
	if !ns.Update(a, http.Header{"Dpop-Nonce": {"n2"}}) || ns.Get(a) != "n2" {
		t.Error("a new nonce was not taken")
	}
}

func BenchmarkProof(b *testing.B) {
	key, _ := dpop.NewKey()
	p, _ := dpop.NewProver(key)
	u, _ := url.Parse("https://api.example.com/v1/items?page=2")
	at := strings.Repeat("a", 800)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Proof("GET", u, at, "nonce-value"); err != nil {
			b.Fatal(err)
		}
	}
}
