package generic_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
)

// jwtClaims are the claims a private_key_jwt assertion must carry.
type jwtClaims struct {
	Iss, Sub, Aud, Jti string
	Iat, Nbf, Exp      int64
}

// verifyJWT checks the signature of a compact JWS against pub, written
// from RFC 7515 and 7518 alone, and returns its header and claims.
func verifyJWT(t *testing.T, token string, pub crypto.PublicKey) (map[string]string, jwtClaims) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion has %d parts, want 3", len(parts))
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("not base64url without padding: %v", err)
		}
		return b
	}
	var header map[string]string
	if err := json.Unmarshal(dec(parts[0]), &header); err != nil {
		t.Fatalf("header: %v", err)
	}
	var claims jwtClaims
	if err := json.Unmarshal(dec(parts[1]), &claims); err != nil {
		t.Fatalf("claims: %v", err)
	}
	signed, sig := []byte(parts[0]+"."+parts[1]), dec(parts[2])

	hashes := map[string]crypto.Hash{"RS256": crypto.SHA256, "PS256": crypto.SHA256, "ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}
	hash, ok := hashes[header["alg"]]
	if !ok {
		t.Fatalf("alg %q", header["alg"])
	}
	h := hash.New()
	h.Write(signed)
	digest := h.Sum(nil)
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		verify := func() error { return rsa.VerifyPKCS1v15(pub, hash, digest, sig) }
		if header["alg"] == "PS256" {
			verify = func() error {
				return rsa.VerifyPSS(pub, hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			}
		}
		if err := verify(); err != nil {
			t.Fatalf("%s signature does not verify: %v", header["alg"], err)
		}
	case *ecdsa.PublicKey:
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			t.Fatalf("ECDSA signature is %d bytes, want R||S of %d", len(sig), 2*n)
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			t.Fatal("ECDSA signature does not verify")
		}
	}
	return header, claims
}

func TestPrivateKeyJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.Signer{"RS256": rsaKey, "PS256": rsaKey}
	for alg, curve := range map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[alg] = k
	}
	for alg, key := range keys {
		t.Run(alg, func(t *testing.T) {
			algorithm := "" // the key's own
			if alg == "PS256" {
				algorithm = alg
			}
			ts := newTokenServer(t, ok)
			r := &generic.Refresher{
				TokenURL:      ts.tokenURL(),
				ClientID:      "client-7",
				ClientSecret:  "unused-secret", // PrivateKeyJWT wins over it
				PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key, KeyID: "key-1", Lifetime: 2 * time.Minute, Algorithm: algorithm},
				HTTPClient:    fastClient(),
			}
			before := time.Now().Unix()
			for range 2 {
				if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
					t.Fatalf("Refresh: %v", err)
				}
			}
			after := time.Now().Unix()
			calls := ts.seen()
			if len(calls) != 2 {
				t.Fatalf("%d requests, want 2", len(calls))
			}
			jtis := map[string]bool{}
			for _, s := range calls {
				if s.Authorization != "" || s.Form.Has("client_secret") {
					t.Errorf("a client secret was sent beside the assertion: %q %v", s.Authorization, s.Form)
				}
				if got := s.Form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
					t.Errorf("client_assertion_type = %q", got)
				}
				if got := s.Form.Get("client_id"); got != "client-7" {
					t.Errorf("client_id = %q", got)
				}
				header, c := verifyJWT(t, s.Form.Get("client_assertion"), key.Public())
				if header["alg"] != alg || header["typ"] != "JWT" || header["kid"] != "key-1" {
					t.Errorf("header = %v", header)
				}
				if c.Iss != "client-7" || c.Sub != "client-7" || c.Aud != ts.tokenURL() {
					t.Errorf("iss, sub, aud = %q, %q, %q", c.Iss, c.Sub, c.Aud)
				}
				if c.Iat < before || c.Iat > after || c.Nbf != c.Iat || c.Exp != c.Iat+120 {
					t.Errorf("iat %d nbf %d exp %d, want iat in [%d, %d], nbf = iat, exp = iat+120", c.Iat, c.Nbf, c.Exp, before, after)
				}
				if len(c.Jti) < 16 || jtis[c.Jti] {
					t.Errorf("jti %q is short or repeated", c.Jti)
				}
				jtis[c.Jti] = true
			}
		})
	}
}

// A certificate's thumbprints go in the header, as Microsoft Entra ID
// wants them; a certificate of another key is refused before anything is
// sent.
func TestPrivateKeyJWTCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, key)
	ts := newTokenServer(t, ok)
	p := &generic.PrivateKeyJWT{Key: key, Certificate: cert, Audience: "https://issuer.example"}
	r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "app", PrivateKeyJWT: p, HTTPClient: fastClient()}
	if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	header, c := verifyJWT(t, ts.seen()[0].Form.Get("client_assertion"), key.Public())
	s1, s256 := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
	if header["x5t"] != base64.RawURLEncoding.EncodeToString(s1[:]) || header["x5t#S256"] != base64.RawURLEncoding.EncodeToString(s256[:]) {
		t.Errorf("header = %v, want the certificate's thumbprints", header)
	}
	if _, has := header["kid"]; has {
		t.Errorf("kid sent without a KeyID: %v", header)
	}
	if c.Aud != "https://issuer.example" {
		t.Errorf("aud = %q, want Audience", c.Aud)
	}

	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.Certificate = selfSigned(t, other)
	if _, err := r.Refresh(context.Background(), oldToken()); err == nil || !strings.Contains(err.Error(), "not the certificate") {
		t.Errorf("Refresh with another key's certificate: %v", err)
	}
	if n := len(ts.seen()); n != 1 {
		t.Errorf("%d requests, want the refused one not sent", n)
	}
}

func selfSigned(t *testing.T, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "oauthrt test"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// AuthMethod forces a method, and a method the fields cannot serve is an
// error before anything is sent, never a quiet fallback to another.
func TestAuthMethod(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		r       *generic.Refresher
		want    url.Values // the form's client fields; nil: an error, nothing sent
		wantErr string
		basic   bool
	}{
		{name: "none with a secret set sends no secret", r: &generic.Refresher{ClientID: "pub", ClientSecret: "s3cret", AuthMethod: generic.AuthNone},
			want: url.Values{"client_id": {"pub"}}},
		{name: "none without a client ID", r: &generic.Refresher{AuthMethod: generic.AuthNone}, want: url.Values{}},
		{name: "basic overrides AuthStyle", r: &generic.Refresher{ClientID: "c", ClientSecret: "s3cret", AuthMethod: generic.AuthClientSecretBasic, AuthStyle: 1},
			want: url.Values{}, basic: true},
		{name: "post", r: &generic.Refresher{ClientID: "c", ClientSecret: "s3cret", AuthMethod: generic.AuthClientSecretPost},
			want: url.Values{"client_id": {"c"}, "client_secret": {"s3cret"}}},
		{name: "basic without a secret", r: &generic.Refresher{ClientID: "c", AuthMethod: generic.AuthClientSecretBasic}, wantErr: "ClientSecret is empty"},
		{name: "post without a secret", r: &generic.Refresher{ClientID: "c", AuthMethod: generic.AuthClientSecretPost}, wantErr: "ClientSecret is empty"},
		{name: "private_key_jwt without a key", r: &generic.Refresher{ClientID: "c", ClientSecret: "s", AuthMethod: generic.AuthPrivateKeyJWT}, wantErr: "PrivateKeyJWT is nil"},
		{name: "private_key_jwt without a client ID", r: &generic.Refresher{PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}}, wantErr: "needs a client ID"},
		{name: "private_key_jwt without Key", r: &generic.Refresher{ClientID: "c", PrivateKeyJWT: &generic.PrivateKeyJWT{}}, wantErr: "Key is nil"},
		{name: "unknown method", r: &generic.Refresher{ClientID: "c", ClientSecret: "s", AuthMethod: "client_secret_jwt"}, wantErr: `unknown Refresher.AuthMethod "client_secret_jwt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t, ok)
			r := tt.r
			r.TokenURL, r.HTTPClient = ts.tokenURL(), fastClient()
			_, err := r.Refresh(context.Background(), oldToken())
			calls := ts.seen()
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "generic: ") {
					t.Errorf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if len(calls) != 0 {
					t.Errorf("%d requests sent, want none", len(calls))
				}
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if len(calls) != 1 {
				t.Fatalf("%d requests, want 1", len(calls))
			}
			got := url.Values{}
			for _, k := range []string{"client_id", "client_secret", "client_assertion"} {
				if calls[0].Form.Has(k) {
					got[k] = calls[0].Form[k]
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || calls[0].HasBasic != tt.basic {
				t.Errorf("client fields %v, Basic %v; want %v, Basic %v", got, calls[0].HasBasic, tt.want, tt.basic)
			}
		})
	}
}

// An assertion is a credential until it expires: it never shows in an
// error, even when the endpoint echoes it, and the key never shows in
// the Refresher's formatting.
func TestPrivateKeyJWTSecrets(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTokenServer(t, func(s seen) (int, string) {
		return 400, fmt.Sprintf(`{"error":"invalid_client","error_description":"bad assertion %s"}`, s.Form.Get("client_assertion"))
	})
	r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "c", PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}, HTTPClient: fastClient()}
	_, err = r.Refresh(context.Background(), oldToken())
	if err == nil {
		t.Fatal("Refresh succeeded")
	}
	assertion := ts.seen()[0].Form.Get("client_assertion")
	if strings.Contains(err.Error(), assertion) || strings.Contains(err.Error(), strings.Split(assertion, ".")[2]) {
		t.Errorf("the error shows the assertion: %v", err)
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("invalid_client taken for a dead grant: %v", err)
	}
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprint(r.PrivateKeyJWT)} {
		if strings.Contains(s, key.D.String()) || strings.Contains(s, key.Primes[0].String()) {
			t.Errorf("formatting shows the private key: %.200s", s)
		}
		if !strings.Contains(s, "RS256") && !strings.Contains(s, "private_key_jwt") {
			t.Errorf("formatting does not say how the client authenticates: %s", s)
		}
	}
}

// An Algorithm the key cannot sign is refused before anything is sent.
func TestPrivateKeyJWTAlgorithmMismatch(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTokenServer(t, ok)
	for _, alg := range []string{"PS256", "ES384", "HS256", "none"} {
		r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "c", PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key, Algorithm: alg}, HTTPClient: fastClient()}
		if _, err := r.Refresh(context.Background(), oldToken()); err == nil || !strings.Contains(err.Error(), "cannot be signed") {
			t.Errorf("Algorithm %s with a P-256 key: %v", alg, err)
		}
	}
	if len(ts.seen()) != 0 {
		t.Error("a request was sent")
	}
}

// A key the JWS algorithms here cannot sign with is refused before
// anything is sent.
func TestPrivateKeyJWTUnsupportedKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTokenServer(t, ok)
	r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "c", PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}, HTTPClient: fastClient()}
	if _, err := r.Refresh(context.Background(), oldToken()); err == nil || !strings.Contains(err.Error(), "P-224") {
		t.Errorf("Refresh with a P-224 key: %v", err)
	}
	if len(ts.seen()) != 0 {
		t.Error("a request was sent")
	}
}

// Every attempt carries a new assertion: a provider that saw a jti once
// may refuse it, even on a request it failed to answer (fosite does). The
// Transport tries a 503 or a lost answer again by calling Refresh again;
// the default client resends only a request that never reached the
// endpoint, and builds it anew too.
func TestPrivateKeyJWTNewAssertionPerAttempt(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The servers answer one request at a time, but a server that hangs
	// up without answering gives the client no write to synchronize with.
	var mu sync.Mutex
	var jtisSeen []string
	seenJTI := func(jti string) int {
		mu.Lock()
		defer mu.Unlock()
		jtisSeen = append(jtisSeen, jti)
		return len(jtisSeen)
	}
	jtis := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(jtisSeen)
	}
	reset := func() {
		mu.Lock()
		defer mu.Unlock()
		jtisSeen = nil
	}
	ts := newTokenServer(t, func(s seen) (int, string) {
		_, c := verifyJWT(t, s.Form.Get("client_assertion"), key.Public())
		if seenJTI(c.Jti) == 1 {
			return 503, `{"error":"temporarily_unavailable"}`
		}
		return ok(s)
	})
	r := &generic.Refresher{TokenURL: ts.tokenURL(), ClientID: "c", PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}} // HTTPClient nil: the default one
	_, err = r.Refresh(context.Background(), oldToken())
	var te *oauthrt.TransientError
	if !errors.As(err, &te) || len(jtis()) != 1 {
		t.Fatalf("a 503: %v after %d requests, want a TransientError after 1", err, len(jtis()))
	}
	if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
		t.Fatalf("Refresh after the 503: %v", err)
	}
	if j := jtis(); len(j) != 2 || j[0] == j[1] {
		t.Errorf("jtis %q, want two different ones", j)
	}

	// A request whose answer is lost is not sent again by the client.
	reset()
	lost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := req.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		_, c := verifyJWT(t, req.PostForm.Get("client_assertion"), key.Public())
		if seenJTI(c.Jti) > 1 {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, tokenBody)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		conn.Close()
	}))
	defer lost.Close()
	r.TokenURL = lost.URL + "/token"
	_, err = r.Refresh(context.Background(), oldToken())
	if !errors.As(err, &te) || !te.AnswerLost || len(jtis()) != 1 {
		t.Fatalf("a lost answer: %v after %d requests, want a TransientError with AnswerLost after 1", err, len(jtis()))
	}
	if _, err := r.Refresh(context.Background(), oldToken()); err != nil {
		t.Errorf("Refresh again: %v", err)
	}
	if j := jtis(); len(j) != 2 || j[0] == j[1] {
		t.Errorf("jtis %q, want two different ones", j)
	}

	// A connection refused never reached the endpoint: the default client
	// tries again, with a new assertion.
	ctx, addr, refused := refusedOnce(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, tokenBody)
	})
	r.TokenURL = "http://" + addr + "/token"
	if _, err := r.Refresh(ctx, oldToken()); err != nil || refused.Load() != 1 {
		t.Errorf("after a refused connection: %v, %d refused; want a token after 1", err, refused.Load())
	}

	// An answer no retry can cure is not tried again.
	reset()
	ts2 := newTokenServer(t, func(seen) (int, string) { seenJTI(""); return 400, `{"error":"invalid_grant"}` })
	r.TokenURL = ts2.tokenURL()
	if _, err := r.Refresh(context.Background(), oldToken()); !errors.Is(err, oauthrt.ErrReauthRequired) || len(jtis()) != 1 {
		t.Errorf("invalid_grant: %v after %d requests, want ErrReauthRequired after 1", err, len(jtis()))
	}
}
