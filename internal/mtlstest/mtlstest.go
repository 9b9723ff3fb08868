// Package mtlstest serves this module's tests of mutual TLS (RFC 8705):
// certificates made on the spot, and a provider whose token endpoint
// authenticates clients by the certificate they present and binds the
// access tokens it issues to that certificate, with a resource server
// that takes a bound token only over a connection presenting the same
// certificate. Nothing here is for production use.
package mtlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// A CA issues client certificates, as a provider's PKI for
// tls_client_auth (RFC 8705 §2.1) does.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// Pool holds the CA's certificate, for a server to verify the client
	// certificates it issued.
	Pool *x509.CertPool
}

var serial = struct {
	sync.Mutex
	n int64
}{}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewCA returns a new CA, its key made for this test.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: "mtlstest CA", Organization: []string{"oauthrt tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, Pool: pool}
}

// Issue returns a client certificate for the subject CN=cn, O=oauthrt
// tests, signed by ca, with its key.
func (ca *CA) Issue(t testing.TB, cn string) *tls.Certificate {
	t.Helper()
	return newCert(t, cn, ca.cert, ca.key)
}

// SelfSigned returns a self-signed client certificate for CN=cn, as
// self_signed_tls_client_auth (RFC 8705 §2.2) uses, with its key.
func SelfSigned(t testing.TB, cn string) *tls.Certificate {
	t.Helper()
	return newCert(t, cn, nil, nil)
}

func newCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"oauthrt tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// Thumbprint is the certificate's x5t#S256 (RFC 8705 §3.1): the
// base64url-encoded SHA-256 of its DER encoding.
func Thumbprint(cert *tls.Certificate) string { return thumbprint(cert.Certificate[0]) }

func thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Subject is the certificate's subject distinguished name, as a
// registration's tls_client_auth_subject_dn holds it.
func Subject(cert *tls.Certificate) string { return cert.Leaf.Subject.String() }

// A Registration is a client's registration at the Provider: how it
// authenticates (RFC 7591's token_endpoint_auth_method) and with what.
type Registration struct {
	// Method is tls_client_auth, self_signed_tls_client_auth,
	// client_secret_basic, private_key_jwt (the assertion is not
	// verified here) or none.
	Method string
	// SubjectDN is the subject a tls_client_auth client's certificate
	// must have (RFC 8705 §2.1.2, tls_client_auth_subject_dn).
	SubjectDN string
	// Thumbprint is the x5t#S256 of a self_signed_tls_client_auth
	// client's registered certificate (RFC 8705 §2.2).
	Thumbprint string
	// Secret is a client_secret_basic client's secret.
	Secret string
}

// Provider is an authorization server and a resource server, over TLS,
// that ask each client for a certificate without requiring one, so that
// a client without one gets the OAuth answer rather than a failed
// handshake.
type Provider struct {
	// AS serves the token endpoint (/token) and the revocation endpoint
	// (/revoke); API serves the resource, at any path.
	AS, API *httptest.Server
	// RootCAs trusts both servers' certificates.
	RootCAs *x509.CertPool

	ca *CA

	mu      sync.Mutex
	clients map[string]Registration
	grants  map[string]string // refresh token → client ID
	bound   map[string]string // access token → the x5t#S256 it is bound to; "" unbound
	issued  int
	stats   Stats
}

// Stats counts what the Provider saw.
type Stats struct {
	// TokenRequests counts the requests to the token endpoint; Refused,
	// those it refused, and Issued, the access tokens it issued.
	TokenRequests, Refused, Issued int
	// Revocations counts the revocations the endpoint accepted.
	Revocations int
	// APIRequests counts the resource requests; APIRefused, those
	// answered 401.
	APIRequests, APIRefused int
	// ASConnections and APIConnections count the connections to each
	// server.
	ASConnections, APIConnections int
	// Refusals holds the error descriptions of the refusals, AS and API.
	Refusals []string
	// APIThumbprints holds, for each resource request, the x5t#S256 of
	// the certificate its connection presented ("" for none).
	APIThumbprints []string
}

// NewProvider starts a Provider whose tls_client_auth clients hold
// certificates of ca. The servers close when the test ends.
func NewProvider(t testing.TB, ca *CA) *Provider {
	p := &Provider{
		ca:      ca,
		clients: map[string]Registration{},
		grants:  map[string]string{},
		bound:   map[string]string{},
		RootCAs: x509.NewCertPool(),
	}
	p.AS = startTLS(t, http.HandlerFunc(p.serveAS), &p.stats.ASConnections, &p.mu)
	p.API = startTLS(t, http.HandlerFunc(p.serveAPI), &p.stats.APIConnections, &p.mu)
	p.AS.StartTLS()
	p.API.StartTLS()
	p.RootCAs.AddCert(p.AS.Certificate())
	p.RootCAs.AddCert(p.API.Certificate())
	return p
}

// startTLS returns a server, not started, that asks for a client
// certificate, and counts its connections in conns, under mu.
func startTLS(t testing.TB, h http.Handler, conns *int, mu *sync.Mutex) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			*conns++
			mu.Unlock()
		}
	}
	t.Cleanup(s.Close)
	return s
}

// Register registers the client clientID.
func (p *Provider) Register(clientID string, reg Registration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[clientID] = reg
}

// Grant returns a token of a new grant to clientID: a refresh token the
// token endpoint takes from that client, with an expired access token
// that the API does not take.
func (p *Provider) Grant(clientID string) *oauth2.Token {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := fmt.Sprintf("mtls-rt-%s-%d", clientID, len(p.grants)+1)
	p.grants[rt] = clientID
	return &oauth2.Token{AccessToken: "expired", RefreshToken: rt, TokenType: "Bearer", Expiry: time.Now().Add(-time.Hour)}
}

// TokenURL is the token endpoint's URL.
func (p *Provider) TokenURL() string { return p.AS.URL + "/token" }

// RevocationURL is the revocation endpoint's URL.
func (p *Provider) RevocationURL() string { return p.AS.URL + "/revoke" }

// APIURL is the resource's URL.
func (p *Provider) APIURL() string { return p.API.URL + "/resource" }

// Stats returns what the Provider saw so far.
func (p *Provider) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Refusals = append([]string(nil), s.Refusals...)
	s.APIThumbprints = append([]string(nil), s.APIThumbprints...)
	return s
}

// Bound returns the x5t#S256 that the access token at is bound to, ""
// for none or an unknown token.
func (p *Provider) Bound(at string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bound[at]
}

// Transport returns an *http.Transport that trusts both servers and
// presents no certificate.
func (p *Provider) Transport() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.RootCAs}}
}

// serveAS is the token and revocation endpoints: it authenticates the
// client by its registration (RFC 8705 §2 for the mutual-TLS methods),
// then refreshes (binding the new access token to the certificate the
// connection presented, RFC 8705 §3.1) or revokes.
func (p *Provider) serveAS(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.URL.Path == "/token" {
		p.stats.TokenRequests++
	}
	if err := r.ParseForm(); err != nil {
		p.refuse(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		clientID = id
	}
	if code, desc := p.authenticate(r, clientID); code != "" {
		status := http.StatusUnauthorized
		if code != "invalid_client" {
			status = http.StatusBadRequest
		}
		p.refuse(w, status, code, desc)
		return
	}
	switch r.URL.Path {
	case "/revoke":
		p.stats.Revocations++
		delete(p.grants, r.PostForm.Get("token"))
		delete(p.bound, r.PostForm.Get("token"))
		return
	case "/token":
	default:
		http.NotFound(w, r)
		return
	}
	rt := r.PostForm.Get("refresh_token")
	if r.PostForm.Get("grant_type") != "refresh_token" || p.grants[rt] != clientID {
		p.refuse(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
		return
	}
	p.issued++
	p.stats.Issued++
	at := fmt.Sprintf("mtls-at-%d", p.issued)
	p.bound[at] = presented(r)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": 3600, "refresh_token": rt,
	})
}

// authenticate returns the error code and description that refuse the
// client of r, or "" when it is authenticated.
func (p *Provider) authenticate(r *http.Request, clientID string) (code, desc string) {
	reg, ok := p.clients[clientID]
	if !ok {
		return "invalid_client", "unknown client"
	}
	_, _, basic := r.BasicAuth()
	secret := basic || r.PostForm.Has("client_secret") || r.PostForm.Has("client_assertion")
	var peer *x509.Certificate
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		peer = r.TLS.PeerCertificates[0]
	}
	switch reg.Method {
	case "tls_client_auth", "self_signed_tls_client_auth":
		// RFC 8705 §2: the client ID in the form, and the certificate in
		// the handshake, nothing else.
		switch {
		case r.PostForm.Get("client_id") != clientID:
			return "invalid_request", "client_id missing from the form"
		case secret:
			return "invalid_request", "a secret or assertion besides the certificate"
		case peer == nil:
			return "invalid_client", "no client certificate"
		}
		if reg.Method == "self_signed_tls_client_auth" {
			if thumbprint(peer.Raw) != reg.Thumbprint {
				return "invalid_client", "not the registered certificate"
			}
			return "", ""
		}
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := peer.Verify(x509.VerifyOptions{Roots: p.ca.Pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return "invalid_client", "certificate not issued by the trusted CA"
		}
		if peer.Subject.String() != reg.SubjectDN {
			return "invalid_client", "certificate subject is not the registered one"
		}
	case "client_secret_basic":
		id, s, ok := r.BasicAuth()
		if !ok || id != clientID || s != reg.Secret {
			return "invalid_client", "bad client secret"
		}
	case "private_key_jwt":
		if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || r.PostForm.Get("client_assertion") == "" {
			return "invalid_client", "no client assertion"
		}
	case "none":
		if secret {
			return "invalid_request", "a credential from a public client"
		}
	default:
		return "invalid_client", "unsupported method " + reg.Method
	}
	return "", ""
}

// presented returns the x5t#S256 of the certificate r's connection
// presented, "" for none.
func presented(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return thumbprint(r.TLS.PeerCertificates[0].Raw)
}

func (p *Provider) refuse(w http.ResponseWriter, status int, code, desc string) {
	p.stats.Refused++
	p.stats.Refusals = append(p.stats.Refusals, desc)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// serveAPI answers 200 to a request whose access token is bound to the
// certificate its connection presents (RFC 8705 §3), or unbound; and 401
// invalid_token to any other.
func (p *Provider) serveAPI(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.APIRequests++
	got := presented(r)
	p.stats.APIThumbprints = append(p.stats.APIThumbprints, got)
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	want, known := p.bound[at]
	var desc string
	switch {
	case !ok || !known:
		desc = "unknown access token"
	case want != "" && got == "":
		desc = "bound token without a client certificate"
	case want != got:
		desc = "bound token with another client certificate"
	}
	if desc != "" {
		p.stats.APIRefused++
		p.stats.Refusals = append(p.stats.Refusals, desc)
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, desc))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	fmt.Fprint(w, "resource")
}

// TrustInDefaultTransport makes http.DefaultTransport trust pool's
// certificates (and only them) until the test ends, for the clients that
// clone it when their configuration is left nil. It replaces the global:
// the test must not run in parallel with others.
func TrustInDefaultTransport(t testing.TB, pool *x509.CertPool) {
	old := http.DefaultTransport
	tr := old.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	http.DefaultTransport = tr
	t.Cleanup(func() {
		http.DefaultTransport = old
		tr.CloseIdleConnections()
	})
}
