package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt/internal/describe"
)

// A Prover makes DPoP proofs (RFC 9449 §4) signed with one key. It is
// safe for concurrent use, and costs one signature per proof: the
// header, with the key's JWK, is encoded once.
type Prover struct {
	key    crypto.Signer
	alg    string
	header string // base64url of the JOSE header, and the '.' after it
	jkt    string
	// now returns the time of the proofs' iat claim; nil: time.Now. Set
	// by the package's tests.
	now func() time.Time
}

// NewProver returns a Prover for key, which may be any [crypto.Signer]
// of a kind [Thumbprint] accepts, one held in a hardware module too. Its
// proofs are signed ES256, ES384 or ES512 by an ECDSA key (by its curve),
// PS256 by an RSA key, and EdDSA by an Ed25519 key.
func NewProver(key crypto.Signer) (*Prover, error) {
	if key == nil {
		return nil, errors.New("dpop: NewProver: nil key")
	}
	alg, jwk, err := jwkOf(key.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(jwk)
	header := fmt.Appendf(nil, `{"typ":"dpop+jwt","alg":%q,"jwk":%s}`, alg, jwk)
	return &Prover{key: key, alg: alg, header: b64(header) + ".", jkt: b64(sum[:])}, nil
}

// Thumbprint returns the RFC 7638 thumbprint of the Prover's public key,
// as [Thumbprint] does.
func (p *Prover) Thumbprint() string { return p.jkt }

// Algorithm returns the JWS algorithm of the Prover's proofs, such as
// ES256.
func (p *Prover) Algorithm() string { return p.alg }

// Proof returns a new proof for a request of method to u, with a jti of
// its own and an iat of now. accessToken is the access token the request
// carries, whose hash goes in the ath claim (RFC 9449 §4.2), or "" for a
// request to the token endpoint; nonce is the server's newest DPoP-Nonce
// for u's origin, or "". The htu claim is u without its query and
// fragment (§4.3), its scheme and host in lower case, and a missing path
// written as "/".
func (p *Prover) Proof(method string, u *url.URL, accessToken, nonce string) (string, error) {
	if u == nil {
		return "", errors.New("dpop: Proof: nil URL")
	}
	// The claims of RFC 9449 §4.2, written by hand: json.Marshal of a
	// struct costs more than the rest of a proof but the signature.
	body := make([]byte, 0, 256)
	body = append(body, `{"jti":"`...)
	var jti [16]byte
	rand.Read(jti[:]) // never fails (crypto/rand since Go 1.24)
	body = base64.RawURLEncoding.AppendEncode(body, jti[:])
	body = append(body, `","htm":`...)
	body = appendJSONString(body, method)
	body = append(body, `,"htu":`...)
	body = appendJSONString(body, HTU(u))
	body = append(body, `,"iat":`...)
	body = strconv.AppendInt(body, p.time().Unix(), 10)
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		body = append(body, `,"ath":"`...)
		body = base64.RawURLEncoding.AppendEncode(body, sum[:])
		body = append(body, '"')
	}
	if nonce != "" {
		body = append(body, `,"nonce":`...)
		body = appendJSONString(body, nonce)
	}
	body = append(body, '}')
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(p.header)+enc.EncodedLen(len(body))+1+enc.EncodedLen(132))
	buf = append(buf, p.header...)
	buf = enc.AppendEncode(buf, body)
	sig, err := p.sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

func (p *Prover) time() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// sign returns the JWS signature of data (RFC 7518 §3).
func (p *Prover) sign(data []byte) ([]byte, error) {
	var (
		digest []byte
		opts   crypto.SignerOpts
	)
	switch p.alg {
	case "ES256", "PS256":
		s := sha256.Sum256(data)
		digest, opts = s[:], crypto.SHA256
	case "ES384":
		s := sha512.Sum384(data)
		digest, opts = s[:], crypto.SHA384
	case "ES512":
		s := sha512.Sum512(data)
		digest, opts = s[:], crypto.SHA512
	case "EdDSA":
		digest, opts = data, crypto.Hash(0) // Ed25519 signs the message itself
	}
	if p.alg == "PS256" {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	if k, ok := p.key.(*ecdsa.PrivateKey); ok {
		// The common case, without the ASN.1 round trip of Sign.
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			return nil, fmt.Errorf("dpop: signing the proof: %w", err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	sig, err := p.key.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("dpop: signing the proof: %w", err)
	}
	if k, ok := p.key.Public().(*ecdsa.PublicKey); ok {
		// A crypto.Signer gives ECDSA signatures in ASN.1; JWS wants the
		// two integers, each of the curve's size, one after the other.
		return jwsECDSA(sig, (k.Curve.Params().BitSize+7)/8)
	}
	return sig, nil
}

func jwsECDSA(der []byte, size int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) > 0 || rs.R == nil || rs.S == nil || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 ||
		rs.R.BitLen() > 8*size || rs.S.BitLen() > 8*size {
		return nil, errors.New("dpop: the key's Sign returned a malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// appendJSONString appends s to b as a JSON string: quotes, backslashes
// and control characters escaped, other bytes as they are.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// HTU returns the htu claim of a proof for a request to u: u without its
// query and fragment (RFC 9449 §4.3), scheme and host in lower case, the
// scheme's default port dropped, and an empty path written as "/".
func HTU(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// String describes p by its algorithm and thumbprint, never its key.
func (p *Prover) String() string {
	return fmt.Sprintf("dpop.Prover{Algorithm: %s, Thumbprint: %s}", p.alg, p.jkt)
}

// GoString is String, so that %#v shows no key either.
func (p *Prover) GoString() string { return p.String() }

// Format writes String for every verb: %x or %+v would otherwise walk
// the private key.
func (p *Prover) Format(f fmt.State, verb rune) { describe.Format(f, verb, p.String()) }

// LogValue is String, for log/slog.
func (p *Prover) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON encodes String as a JSON string.
func (p *Prover) MarshalJSON() ([]byte, error) { return describe.JSON(p.String()) }
