package generic

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ClientAssertionType is the client_assertion_type of a private_key_jwt
// client authentication (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultAssertionLifetime is how long a client assertion is valid when
// [PrivateKeyJWT.Lifetime] is zero. Each token request signs a new one.
const DefaultAssertionLifetime = 5 * time.Minute

// PrivateKeyJWT authenticates a client with a JWT signed by its private
// key (private_key_jwt: RFC 7523 §2.2 and OpenID Connect Core §9), in
// place of a client secret. The provider knows the public key, from the
// client's registration or its JWKS URL, or from an uploaded certificate.
//
// Every token request carries a new assertion whose issuer and subject
// are the client ID, whose audience is the token URL (the revocation URL
// for a revocation), and which has a unique jti, an iat and nbf of now,
// and an exp Lifetime later.
//
// The zero value is not usable: Key is required. A PrivateKeyJWT is
// safe for concurrent use as long as its fields are not changed.
type PrivateKeyJWT struct {
	// Key signs the assertions. It must be an RSA key, which signs RS256,
	// or an ECDSA key on P-256, P-384 or P-521, which signs ES256, ES384
	// or ES512: *rsa.PrivateKey, *ecdsa.PrivateKey, or any crypto.Signer
	// with such a public key (a key held in a KMS or an HSM). Required.
	Key crypto.Signer

	// KeyID, when not empty, goes in the JWT header as "kid", for a
	// provider that holds several keys of the client. "" sends none.
	KeyID string

	// Certificate, when not nil, is the certificate of Key registered with
	// the provider: its SHA-1 and SHA-256 thumbprints go in the JWT header
	// as "x5t" and "x5t#S256", which is how Microsoft Entra ID finds the
	// key. Its public key must be Key's. nil sends neither.
	Certificate *x509.Certificate

	// Algorithm is the JWS algorithm to sign with. "" means RS256 for an
	// RSA key, and ES256, ES384 or ES512 by the curve of an ECDSA key. An
	// RSA key may also sign PS256 (RSASSA-PSS), which Microsoft Entra ID
	// now documents for certificate credentials. Any other value, or one
	// the key cannot sign, makes every request fail before it is sent.
	Algorithm string

	// Audience is the assertion's "aud" claim. "" means the URL the
	// assertion is posted to: the token URL, as RFC 7523 asks, or the
	// revocation URL. Set it for a provider that wants its issuer instead.
	Audience string

	// Lifetime is how long each assertion is valid. Zero means
	// DefaultAssertionLifetime (5 minutes).
	Lifetime time.Duration

	// Now returns the current time for the iat, nbf and exp claims. nil:
	// time.Now.
	Now func() time.Time
}

// String describes p without its key.
func (p PrivateKeyJWT) String() string {
	alg, err := p.algorithm()
	if err != nil {
		alg = "unusable key"
	}
	return fmt.Sprintf("generic.PrivateKeyJWT{Key: %s, KeyID: %q}", alg, p.KeyID)
}

// Assertion returns a newly signed client assertion for the client
// clientID at the token endpoint tokenURL.
func (p *PrivateKeyJWT) Assertion(clientID, tokenURL string) (string, error) {
	if clientID == "" {
		return "", errors.New("generic: private_key_jwt needs a client ID: it is the assertion's issuer and subject")
	}
	alg, err := p.algorithm()
	if err != nil {
		return "", err
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if p.KeyID != "" {
		header["kid"] = p.KeyID
	}
	if c := p.Certificate; c != nil {
		if !samePublicKey(c.PublicKey, p.Key.Public()) {
			return "", errors.New("generic: PrivateKeyJWT.Certificate is not the certificate of PrivateKeyJWT.Key")
		}
		s1, s256 := sha1.Sum(c.Raw), sha256.Sum256(c.Raw)
		header["x5t"] = b64(s1[:])
		header["x5t#S256"] = b64(s256[:])
	}

	jti := make([]byte, 16)
	rand.Read(jti) // never fails (crypto/rand)
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	iat := now().Unix()
	aud := p.Audience
	if aud == "" {
		aud = tokenURL
	}
	claims := struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Jti string `json:"jti"`
		Iat int64  `json:"iat"`
		Nbf int64  `json:"nbf"`
		Exp int64  `json:"exp"`
	}{clientID, clientID, aud, b64(jti), iat, iat, iat + int64(setting(p.Lifetime, DefaultAssertionLifetime)/time.Second)}

	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("generic: encoding the assertion header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("generic: encoding the assertion claims: %w", err)
	}
	signed := b64(h) + "." + b64(c)
	sig, err := p.sign(alg, []byte(signed))
	if err != nil {
		return "", err
	}
	return signed + "." + b64(sig), nil
}

// algorithm is the JWS algorithm to sign with.
func (p *PrivateKeyJWT) algorithm() (string, error) {
	if p == nil || p.Key == nil {
		return "", errors.New("generic: PrivateKeyJWT.Key is nil")
	}
	alg, err := keyAlgorithm(p.Key.Public())
	switch {
	case err != nil || p.Algorithm == "" || p.Algorithm == alg:
		return alg, err
	case p.Algorithm == "PS256" && alg == "RS256":
		return "PS256", nil
	}
	return "", fmt.Errorf("generic: PrivateKeyJWT.Algorithm %q cannot be signed with the key, whose algorithm is %s", p.Algorithm, alg)
}

// keyAlgorithm is the JWS algorithm a key signs with by default.
func keyAlgorithm(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", fmt.Errorf("generic: PrivateKeyJWT.Key is an ECDSA key on %s; use P-256, P-384 or P-521", pub.Curve.Params().Name)
	default:
		return "", fmt.Errorf("generic: PrivateKeyJWT.Key has a public key of type %T; use an RSA or ECDSA key", pub)
	}
}

// sign signs data with alg, returning the signature as JWS encodes it:
// for ECDSA, R and S side by side, each as long as the curve's order
// (RFC 7518 §3.4), not the ASN.1 a crypto.Signer returns.
func (p *PrivateKeyJWT) sign(alg string, data []byte) ([]byte, error) {
	hash := map[string]crypto.Hash{"RS256": crypto.SHA256, "PS256": crypto.SHA256, "ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[alg]
	h := hash.New()
	h.Write(data)
	var opts crypto.SignerOpts = hash
	if alg == "PS256" {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
	}
	sig, err := p.Key.Sign(rand.Reader, h.Sum(nil), opts)
	if err != nil {
		return nil, fmt.Errorf("generic: signing the client assertion: %w", err)
	}
	if alg == "RS256" || alg == "PS256" {
		return sig, nil
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) > 0 {
		return nil, errors.New("generic: signing the client assertion: the signer returned no ASN.1 ECDSA signature")
	}
	size := (p.Key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	if rs.R.Sign() < 0 || rs.S.Sign() < 0 || rs.R.BitLen() > size*8 || rs.S.BitLen() > size*8 {
		return nil, errors.New("generic: signing the client assertion: the signer returned an ECDSA signature out of range")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// samePublicKey reports whether a and b are the same public key.
func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// setting resolves a duration field: zero or negative means def.
func setting(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
