package oauthrt_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A DPoP authorization server and resource server (RFC 9449) on
// loopback, for the tests of dpop_test.go. Both check every proof as
// §4.3 asks, on their own: they parse the compact JWS, verify its
// signature with the key of its jwk header, and compute thumbprints,
// with the standard library alone and none of package dpop's code, so
// that a bug there cannot hide behind the same bug here.
//
// Sources: RFC 9449, https://datatracker.ietf.org/doc/html/rfc9449, read
// 2026-11-30 (§4.3 the checks, §5 token requests, §7.1 the scheme and its
// challenges, §8 and §9 the nonces, §10 dpop_jkt).

// proofWindow is how far a proof's iat may be from the server's clock.
const proofWindow = 60 * time.Second

// proofClaims are the claims of a DPoP proof as a server reads them.
type proofClaims struct {
	JTI   string      `json:"jti"`
	HTM   string      `json:"htm"`
	HTU   string      `json:"htu"`
	IAT   json.Number `json:"iat"`
	ATH   string      `json:"ath"`
	Nonce string      `json:"nonce"`
}

// checkedProof is a proof that passed every check but the nonce's.
type checkedProof struct {
	proofClaims
	jkt string // the RFC 7638 thumbprint of its jwk
	alg string
}

// proofVerifier holds a server's nonce and the jti values it has seen.
type proofVerifier struct {
	mu    sync.Mutex
	nonce string          // the nonce proofs must carry; "" asks none
	jtis  map[string]bool // every jti of a proof whose signature verified
}

// newServerNonce returns a nonce no other server of the process hands
// out: the generic Refresher keeps token endpoints' nonces per origin for
// the whole process, and a loopback port is reused by later tests.
func newServerNonce(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// verify checks r's DPoP proof (§4.3) for a request to htu, and, when
// accessToken is not "", its ath. It checks neither the nonce nor the
// key's binding, which the caller does, and records the jti.
func (v *proofVerifier) verify(r *http.Request, htu, accessToken string) (*checkedProof, error) {
	values := r.Header.Values("DPoP")
	switch {
	case len(values) == 0:
		return nil, errors.New("no DPoP header")
	case len(values) > 1:
		return nil, errors.New("more than one DPoP header")
	}
	parts := strings.Split(values[0], ".")
	if len(parts) != 3 {
		return nil, errors.New("the proof is not a compact JWS")
	}
	rawHeader, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	rawClaims, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("the proof is not base64url: %v", err)
	}
	var header struct {
		Typ string            `json:"typ"`
		Alg string            `json:"alg"`
		JWK map[string]string `json:"jwk"`
	}
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		return nil, fmt.Errorf("the proof's header: %v", err)
	}
	if header.Typ != "dpop+jwt" {
		return nil, fmt.Errorf("typ %q, want dpop+jwt", header.Typ)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := header.JWK[private]; ok {
			return nil, fmt.Errorf("the jwk holds the private member %q", private)
		}
	}
	pub, required, err := jwkPublicKey(header.Alg, header.JWK)
	if err != nil {
		return nil, err
	}
	if err := verifyJWS(header.Alg, pub, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, err
	}
	var c proofClaims
	dec := json.NewDecoder(bytes.NewReader(rawClaims))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("the proof's claims: %v", err)
	}
	if c.JTI == "" || c.HTM == "" || c.HTU == "" || c.IAT == "" {
		return nil, errors.New("a required claim (jti, htm, htu, iat) is missing")
	}
	v.mu.Lock()
	seen := v.jtis[c.JTI]
	if v.jtis == nil {
		v.jtis = map[string]bool{}
	}
	v.jtis[c.JTI] = true
	v.mu.Unlock()
	if seen {
		return nil, fmt.Errorf("jti %q was seen before", c.JTI)
	}
	if c.HTM != r.Method {
		return nil, fmt.Errorf("htm %q for a %s", c.HTM, r.Method)
	}
	if c.HTU != htu {
		return nil, fmt.Errorf("htu %q for a request to %q", c.HTU, htu)
	}
	iat, err := strconv.ParseInt(string(c.IAT), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("iat %q is not a whole number of seconds", c.IAT)
	}
	if d := time.Since(time.Unix(iat, 0)); d > proofWindow || d < -proofWindow {
		return nil, fmt.Errorf("iat is %v from now", d)
	}
	switch {
	case accessToken == "" && c.ATH != "":
		return nil, errors.New("ath in a proof that goes with no access token")
	case accessToken != "":
		sum := sha256.Sum256([]byte(accessToken))
		if c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, errors.New("ath is not the hash of the access token")
		}
	}
	canonical, err := json.Marshal(required) // a map: members in lexicographic order, no spaces
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canonical)
	return &checkedProof{proofClaims: c, jkt: base64.RawURLEncoding.EncodeToString(sum[:]), alg: header.Alg}, nil
}

// currentNonce returns the nonce proofs must carry now.
func (v *proofVerifier) currentNonce() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.nonce
}

// rotateNonce makes proofs carry a new nonce, and returns it.
func (v *proofVerifier) rotateNonce(prefix string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.nonce = newServerNonce(prefix)
	return v.nonce
}

// seenJTIs returns how many distinct jti values verified.
func (v *proofVerifier) seenJTIs() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.jtis)
}

// jwkPublicKey returns the public key of jwk, which must suit alg, and
// the members of its RFC 7638 thumbprint.
func jwkPublicKey(alg string, jwk map[string]string) (crypto.PublicKey, map[string]string, error) {
	b64 := func(name string) ([]byte, error) {
		v, ok := jwk[name]
		if !ok {
			return nil, fmt.Errorf("the jwk has no %q", name)
		}
		return base64.RawURLEncoding.DecodeString(v)
	}
	switch jwk["kty"] {
	case "EC":
		curves := map[string]struct {
			alg   string
			curve elliptic.Curve
		}{"P-256": {"ES256", elliptic.P256()}, "P-384": {"ES384", elliptic.P384()}, "P-521": {"ES512", elliptic.P521()}}
		c, ok := curves[jwk["crv"]]
		if !ok || c.alg != alg {
			return nil, nil, fmt.Errorf("alg %q with an EC key on %q", alg, jwk["crv"])
		}
		x, err1 := b64("x")
		y, err2 := b64("y")
		size := (c.curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, nil, errors.New("malformed EC coordinates")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c.curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, nil, fmt.Errorf("the EC point: %v", err)
		}
		return pub, map[string]string{"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, nil
	case "RSA":
		if alg != "PS256" && alg != "RS256" {
			return nil, nil, fmt.Errorf("alg %q with an RSA key", alg)
		}
		n, err1 := b64("n")
		e, err2 := b64("e")
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, nil, errors.New("malformed RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		return pub, map[string]string{"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, nil
	case "OKP":
		x, err := b64("x")
		if alg != "EdDSA" || jwk["crv"] != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, nil, fmt.Errorf("alg %q with an OKP key on %q", alg, jwk["crv"])
		}
		return ed25519.PublicKey(x), map[string]string{"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]}, nil
	}
	return nil, nil, fmt.Errorf("unsupported kty %q", jwk["kty"])
}

// verifyJWS checks sig, a JWS signature by alg over signed (RFC 7518 §3).
func verifyJWS(alg string, pub crypto.PublicKey, signed, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var digest []byte
		switch alg {
		case "ES256":
			s := sha256.Sum256(signed)
			digest = s[:]
		case "ES384":
			s := sha512.Sum384(signed)
			digest = s[:]
		case "ES512":
			s := sha512.Sum512(signed)
			digest = s[:]
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("an %s signature of %d bytes", alg, len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("the signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		digest := sha256.Sum256(signed)
		var err error
		if alg == "PS256" {
			err = rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig)
		}
		if err != nil {
			return errors.New("the signature does not verify")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(k, signed, sig) {
			return errors.New("the signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("no key to verify %s", alg)
}

// dpopGrant is one authorization at the dpopAS: its key, its current
// tokens, and whether it was revoked.
type dpopGrant struct {
	jkt     string // the key its tokens are bound to; "" for a Bearer grant
	refresh string // the refresh token that works now
	revoked bool
}

// tokenRequest is what the dpopAS recorded of one token request.
type tokenRequest struct {
	grantType    string
	outcome      string // "ok", or the error code of the answer
	proof        bool   // a DPoP header came
	jkt          string // the proof's key, when it verified
	jti          string // the proof's jti
	nonce        string // the proof's nonce claim
	assertionJTI string // the client assertion's jti (private_key_jwt)
}

// dpopAS is a token endpoint (at /token) that issues DPoP-bound tokens
// to requests with a valid proof, and Bearer tokens to requests without
// one. It requires its current nonce in every proof (§8), and answers 400
// use_dpop_nonce with a DPoP-Nonce header otherwise. Refresh tokens
// rotate: presenting one that was rotated already is invalid_grant, and
// revokes the grant and its access tokens. A refresh token of a bound
// grant works only with a proof of the grant's key (§5); a Bearer grant
// refreshed with a proof is bound to its key from then on.
type dpopAS struct {
	*httptest.Server
	proofs proofVerifier

	mu       sync.Mutex
	lifetime int                   // expires_in of the tokens, seconds
	codes    map[string]string     // unused codes → dpop_jkt of their authorization, or ""
	byRT     map[string]*dpopGrant // every refresh token issued, rotated ones too
	byAT     map[string]*dpopGrant // every access token issued
	requests []tokenRequest
	n        int
	// alwaysNewNonce answers every proof with use_dpop_nonce and a new
	// nonce, as a broken or hostile server might.
	alwaysNewNonce bool
	// assertions are the jti values of the client assertions seen.
	assertions map[string]bool
}

func newDPoPAS(t testing.TB) *dpopAS {
	as := &dpopAS{
		lifetime:   3600,
		codes:      map[string]string{},
		byRT:       map[string]*dpopGrant{},
		byAT:       map[string]*dpopGrant{},
		assertions: map[string]bool{},
	}
	as.proofs.nonce = newServerNonce("as")
	as.Server = httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.Close)
	return as
}

func (as *dpopAS) tokenURL() string { return as.URL + "/token" }

// authorize is the end of an authorization: it returns a new code, bound
// to dpopJKT (the dpop_jkt of the authorization request, §10) unless it
// is "".
func (as *dpopAS) authorize(dpopJKT string) string {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.n++
	code := fmt.Sprintf("dpop-code-%d-%s", as.n, randomHex())
	as.codes[code] = dpopJKT
	return code
}

// outcomes counts the token requests by outcome.
func (as *dpopAS) outcomes() map[string]int {
	as.mu.Lock()
	defer as.mu.Unlock()
	m := map[string]int{}
	for _, r := range as.requests {
		m[r.outcome]++
	}
	return m
}

// log returns the token requests so far.
func (as *dpopAS) log() []tokenRequest {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]tokenRequest(nil), as.requests...)
}

// boundKey returns the thumbprint access token at is bound to ("" for a
// Bearer token), and whether it is valid: issued, and its grant not
// revoked. The resource server asks it, as it would introspect.
func (as *dpopAS) boundKey(at string) (jkt string, ok bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	g := as.byAT[at]
	if g == nil || g.revoked {
		return "", false
	}
	return g.jkt, true
}

// revokeAccess makes at invalid, as an expired or revoked token is.
func (as *dpopAS) revokeAccess(at string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	delete(as.byAT, at)
}

func (as *dpopAS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		http.Error(w, "not here", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		as.answerError(w, tokenRequest{}, 400, "invalid_request", "unreadable form", "")
		return
	}
	req := tokenRequest{grantType: r.PostForm.Get("grant_type"), proof: len(r.Header.Values("DPoP")) > 0}

	// A client assertion is used up by any answer, a nonce challenge too.
	if a := r.PostForm.Get("client_assertion"); a != "" {
		jti, err := assertionJTI(a)
		as.mu.Lock()
		reused := as.assertions[jti]
		as.assertions[jti] = true
		as.mu.Unlock()
		if err != nil || reused {
			as.answerError(w, req, 401, "invalid_client", "the client assertion is malformed or was used before", "")
			return
		}
		req.assertionJTI = jti
	}
	var proof *checkedProof
	if req.proof {
		p, err := as.proofs.verify(r, as.tokenURL(), "")
		if err != nil {
			as.answerError(w, req, 400, "invalid_dpop_proof", err.Error(), "")
			return
		}
		proof, req.jkt, req.jti, req.nonce = p, p.jkt, p.JTI, p.Nonce
		as.mu.Lock()
		always := as.alwaysNewNonce
		as.mu.Unlock()
		switch nonce := as.proofs.currentNonce(); {
		case always:
			as.answerError(w, req, 400, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof", as.proofs.rotateNonce("as"))
			return
		case p.Nonce != nonce:
			as.answerError(w, req, 400, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof", nonce)
			return
		}
	}
	jkt := ""
	if proof != nil {
		jkt = proof.jkt
	}

	as.mu.Lock()
	var grant *dpopGrant
	switch req.grantType {
	case "authorization_code":
		code := r.PostForm.Get("code")
		wanted, ok := as.codes[code]
		delete(as.codes, code)
		// §10 says to refuse a proof of another key than dpop_jkt's and
		// names no error code; the code is then no grant for this
		// client: invalid_grant (RFC 6749 §5.2).
		if !ok || (wanted != "" && wanted != jkt) {
			as.mu.Unlock()
			as.answerError(w, req, 400, "invalid_grant", "unknown or used code, or a key other than dpop_jkt's", "")
			return
		}
		grant = &dpopGrant{jkt: jkt}
	case "refresh_token":
		grant = as.byRT[r.PostForm.Get("refresh_token")]
		switch {
		case grant == nil || grant.revoked:
			as.mu.Unlock()
			as.answerError(w, req, 400, "invalid_grant", "unknown or revoked refresh token", "")
			return
		case grant.refresh != r.PostForm.Get("refresh_token"):
			// A rotated refresh token came back: someone holds a copy.
			grant.revoked = true
			as.mu.Unlock()
			as.answerError(w, req, 400, "invalid_grant", "refresh token reused; the grant is revoked", "")
			return
		case grant.jkt == "" && jkt != "":
			// A Bearer grant's refresh token was bound to no key: the
			// first proof binds the grant's tokens from now on.
			grant.jkt = jkt
		case grant.jkt != jkt:
			// §5: a public client's refresh token is bound to its key,
			// "at the discretion of the authorization server" as to how;
			// the proof itself is valid, so it is the grant that does
			// not hold for this key (RFC 6749 §5.2's invalid_grant).
			as.mu.Unlock()
			as.answerError(w, req, 400, "invalid_grant", "the refresh token is bound to another DPoP key", "")
			return
		}
	default:
		as.mu.Unlock()
		as.answerError(w, req, 400, "unsupported_grant_type", "", "")
		return
	}
	as.n++
	at := fmt.Sprintf("dpop-at-%d-%s", as.n, randomHex())
	rt := fmt.Sprintf("dpop-rt-%d-%s", as.n, randomHex())
	grant.refresh = rt
	as.byRT[rt] = grant
	as.byAT[at] = grant
	tokenType := "Bearer"
	if grant.jkt != "" {
		tokenType = "DPoP"
	}
	req.outcome = "ok"
	as.requests = append(as.requests, req)
	lifetime := as.lifetime
	as.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if proof != nil {
		w.Header().Set("DPoP-Nonce", as.proofs.currentNonce()) // §8.2: the nonce to keep using
	}
	fmt.Fprintf(w, `{"access_token":%q,"token_type":%q,"expires_in":%d,"refresh_token":%q}`, at, tokenType, lifetime, rt)
}

// answerError records req with outcome code and writes the error answer,
// with nonce in a DPoP-Nonce header unless it is "".
func (as *dpopAS) answerError(w http.ResponseWriter, req tokenRequest, status int, code, description, nonce string) {
	req.outcome = code
	as.mu.Lock()
	as.requests = append(as.requests, req)
	as.mu.Unlock()
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// assertionJTI returns the jti of a client assertion, unverified: the
// test checks that each attempt has a new one.
func assertionJTI(assertion string) (string, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.JTI == "" {
		return "", errors.New("no jti")
	}
	return c.JTI, nil
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dpopRS is a resource server that accepts the dpopAS's tokens: a DPoP
// token as "Authorization: DPoP <token>" with a proof of its key carrying
// the token's ath and the server's current nonce (§7.1, §9), a Bearer
// token as "Authorization: Bearer <token>". A DPoP token sent as Bearer
// is refused (§7.2). It answers 200 "ok" or a 401 with a DPoP challenge,
// with its nonce in a DPoP-Nonce header when the challenge is
// use_dpop_nonce.
type dpopRS struct {
	*httptest.Server
	as     *dpopAS
	proofs proofVerifier

	mu         sync.Mutex
	ok, failed int      // answers 200 and 401
	challenges int      // 401 use_dpop_nonce answers
	withProof  int      // requests that carried a DPoP header
	schemes    []string // the Authorization scheme of each request
	tokens     []string // the access token of each request
	bodies     []string // the body of each request
	jkts       []string // the key of each accepted DPoP request
	nonces     []string // the nonce claim of each verified proof
	// stuckNonce answers every DPoP request 401 use_dpop_nonce with the
	// current nonce, even one that carries it.
	stuckNonce bool
	// rotateOnOK hands out a new nonce in the DPoP-Nonce header of the
	// next 200, which the proofs after it must carry (§8.2, §9).
	rotateOnOK bool
	// hold, when not nil, is called with each request before it is
	// checked (the tests use it to order concurrent requests).
	hold func(r *http.Request)
	// refuseWith, when not "", is the challenge of a 401 that answers
	// every request that passed the checks.
	refuseWith string
}

func newDPoPRS(t testing.TB, as *dpopAS) *dpopRS {
	rs := &dpopRS{as: as}
	rs.proofs.nonce = newServerNonce("rs")
	rs.Server = httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.Close)
	return rs
}

// counts returns the answers 200, the 401s, and the use_dpop_nonce 401s.
func (rs *dpopRS) counts() (ok, failed, challenges int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.ok, rs.failed, rs.challenges
}

// seen returns the schemes, tokens and bodies of the requests so far, and
// the keys of the accepted DPoP requests.
func (rs *dpopRS) seen() (schemes, tokens, bodies, jkts []string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.schemes...), append([]string(nil), rs.tokens...),
		append([]string(nil), rs.bodies...), append([]string(nil), rs.jkts...)
}

// proofsSeen returns how many requests carried a DPoP header.
func (rs *dpopRS) proofsSeen() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.withProof
}

func (rs *dpopRS) serve(w http.ResponseWriter, r *http.Request) {
	if rs.hold != nil {
		rs.hold(r)
	}
	body, _ := io.ReadAll(r.Body)
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	rs.mu.Lock()
	rs.schemes = append(rs.schemes, scheme)
	rs.tokens = append(rs.tokens, token)
	rs.bodies = append(rs.bodies, string(body))
	if len(r.Header.Values("DPoP")) > 0 {
		rs.withProof++
	}
	rs.mu.Unlock()

	jkt, valid := rs.as.boundKey(token)
	switch {
	case !valid:
		rs.refuse(w, `DPoP error="invalid_token", error_description="unknown or revoked token", algs="ES256"`, "")
		return
	case jkt == "" && scheme == "Bearer":
		rs.accept(w, "", "")
		return
	case scheme != "DPoP":
		rs.refuse(w, `DPoP error="invalid_token", error_description="a DPoP token needs the DPoP scheme", algs="ES256"`, "")
		return
	}
	htu := "http://" + r.Host + r.URL.EscapedPath()
	p, err := rs.proofs.verify(r, htu, token)
	if err != nil {
		rs.refuse(w, fmt.Sprintf(`DPoP error="invalid_dpop_proof", error_description=%q, algs="ES256"`, err.Error()), "")
		return
	}
	rs.mu.Lock()
	rs.nonces = append(rs.nonces, p.Nonce)
	stuck := rs.stuckNonce
	rs.mu.Unlock()
	if nonce := rs.proofs.currentNonce(); stuck || p.Nonce != nonce {
		rs.mu.Lock()
		rs.challenges++
		rs.mu.Unlock()
		rs.refuse(w, `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`, nonce)
		return
	}
	if p.jkt != jkt {
		rs.refuse(w, `DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"`, "")
		return
	}
	rs.mu.Lock()
	refuse := rs.refuseWith
	rs.mu.Unlock()
	if refuse != "" {
		rs.refuse(w, refuse, "")
		return
	}
	rs.mu.Lock()
	next := ""
	if rs.rotateOnOK {
		rs.rotateOnOK = false
		next = rs.proofs.rotateNonce("rs")
	}
	rs.mu.Unlock()
	rs.accept(w, p.jkt, next)
}

func (rs *dpopRS) accept(w http.ResponseWriter, jkt, nonce string) {
	rs.mu.Lock()
	rs.ok++
	if jkt != "" {
		rs.jkts = append(rs.jkts, jkt)
	}
	rs.mu.Unlock()
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
		w.Header().Set("Cache-Control", "no-store")
	}
	io.WriteString(w, "ok")
}

func (rs *dpopRS) refuse(w http.ResponseWriter, challenge, nonce string) {
	rs.mu.Lock()
	rs.failed++
	rs.mu.Unlock()
	w.Header().Set("WWW-Authenticate", challenge)
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	http.Error(w, "refused", http.StatusUnauthorized)
}
