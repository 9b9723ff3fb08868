package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"golang.org/x/oauth2"
)

// TokenType is the token_type of a DPoP-bound access token (RFC 9449
// §5), and the scheme of the Authorization header that carries it.
const TokenType = "DPoP"

// KeyMember is the member of a token's extra fields (see
// [oauth2.Token.Extra]) in which [Bind] keeps the grant's private key:
// its PKCS #8 encoding, base64url without padding. It is a secret, as
// the refresh token is: stores keep it with the token, encrypted when
// they encrypt tokens.
const KeyMember = "oauthrt_dpop_key"

// NewKey returns a new private key for a grant: ECDSA on P-256, which
// signs ES256 proofs, the algorithm every DPoP server supports.
func NewKey() (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dpop: generating a key: %w", err)
	}
	return k, nil
}

// Thumbprint returns the JWK SHA-256 thumbprint (RFC 7638) of pub,
// base64url without padding: the dpop_jkt parameter of an authorization
// request (RFC 9449 §10), and the jkt that a DPoP-bound token's cnf
// claim carries. pub is an *ecdsa.PublicKey on P-256, P-384 or P-521,
// an *rsa.PublicKey, or an ed25519.PublicKey (a crypto.Signer's Public()
// gives one); anything else is an error.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	_, jwk, err := jwkOf(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(jwk)
	return b64(sum[:]), nil
}

// Bind returns a copy of tok that carries key in its extra fields (see
// [KeyMember]), so that the key is saved and loaded with the token and
// every process signs its proofs with it. tok is not modified. key must
// be one [x509.MarshalPKCS8PrivateKey] can encode, of a kind [Thumbprint]
// accepts: a key held in a hardware module cannot be kept in a store,
// and is an error.
func Bind(tok *oauth2.Token, key crypto.Signer) (*oauth2.Token, error) {
	if tok == nil {
		return nil, errors.New("dpop: Bind: nil token")
	}
	if key == nil {
		return nil, errors.New("dpop: Bind: nil key")
	}
	if _, _, err := jwkOf(key.Public()); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dpop: Bind: the key (%T) cannot be kept in a store: %w", key, err)
	}
	if !tokenraw.Readable() {
		return nil, errors.New("dpop: Bind: this version of golang.org/x/oauth2 does not let a token's extra fields be read")
	}
	bound := tokenraw.Set(tok, KeyMember, b64(der))
	if bound.Extra(KeyMember) == nil {
		return nil, fmt.Errorf("dpop: Bind: the token's extra fields (%T) cannot hold the key", tokenraw.Of(tok))
	}
	return bound, nil
}

// KeyOf returns the key [Bind] put in tok, or nil and no error when tok
// carries none (a nil tok too). A member that is not a key this package
// could have put there is an error, which never holds the member's value.
func KeyOf(tok *oauth2.Token) (crypto.Signer, error) {
	if tok == nil {
		return nil, nil
	}
	v := tok.Extra(KeyMember)
	if v == nil || v == "" {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("dpop: the token's %s is a %T, not a key", KeyMember, v)
	}
	der, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("dpop: the token's %s is not base64url", KeyMember)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("dpop: the token's %s is not a PKCS #8 private key", KeyMember)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dpop: the token's %s holds a %T, which cannot sign", KeyMember, k)
	}
	if _, _, err := jwkOf(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// jwkOf returns the JWS algorithm that proofs made with pub's private
// key use, and pub as a JWK holding only its required members in
// lexicographic order (RFC 7638 §3.2), which is both the proofs' jwk
// header and the input of its thumbprint.
func jwkOf(pub crypto.PublicKey) (alg string, jwk []byte, err error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var crv string
		switch k.Curve {
		case elliptic.P256():
			alg, crv = "ES256", "P-256"
		case elliptic.P384():
			alg, crv = "ES384", "P-384"
		case elliptic.P521():
			alg, crv = "ES512", "P-521"
		default:
			return "", nil, errors.New("dpop: unsupported ECDSA curve: use P-256, P-384 or P-521")
		}
		// The coordinates have the curve's full length (RFC 7518 §6.2.1.2).
		size := (k.Curve.Params().BitSize + 7) / 8
		x, y, err := ecPoint(k, size)
		if err != nil {
			return "", nil, err
		}
		return alg, fmt.Appendf(nil, `{"crv":%q,"kty":"EC","x":%q,"y":%q}`, crv, b64(x), b64(y)), nil
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < 2048 {
			return "", nil, errors.New("dpop: RSA keys must have at least 2048 bits")
		}
		e := big.NewInt(int64(k.E)).Bytes()
		return "PS256", fmt.Appendf(nil, `{"e":%q,"kty":"RSA","n":%q}`, b64(e), b64(k.N.Bytes())), nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", nil, errors.New("dpop: malformed Ed25519 public key")
		}
		return "EdDSA", fmt.Appendf(nil, `{"crv":"Ed25519","kty":"OKP","x":%q}`, b64(k)), nil
	}
	return "", nil, fmt.Errorf("dpop: unsupported key type %T: use ECDSA (P-256, P-384, P-521), RSA or Ed25519", pub)
}

// ecPoint returns k's coordinates, each size bytes long.
func ecPoint(k *ecdsa.PublicKey, size int) (x, y []byte, err error) {
	// The uncompressed encoding is 0x04 || X || Y, each of the curve's
	// size; it also rejects a point that is not on the curve.
	raw, err := k.ECDH()
	if err != nil {
		return nil, nil, fmt.Errorf("dpop: invalid ECDSA public key: %w", err)
	}
	b := raw.Bytes()
	if len(b) != 1+2*size {
		return nil, nil, errors.New("dpop: invalid ECDSA public key")
	}
	return b[1 : 1+size], b[1+size:], nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
