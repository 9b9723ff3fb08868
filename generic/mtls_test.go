package generic_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/internal/mtlstest"
	"golang.org/x/oauth2"
)

// mtlsProvider starts a provider with a CA, and the client "svc"
// registered for tls_client_auth with cert, a certificate the CA issued.
func mtlsProvider(t *testing.T) (p *mtlstest.Provider, ca *mtlstest.CA, cert *tls.Certificate) {
	ca = mtlstest.NewCA(t)
	p = mtlstest.NewProvider(t, ca)
	cert = ca.Issue(t, "svc")
	p.Register("svc", mtlstest.Registration{Method: "tls_client_auth", SubjectDN: mtlstest.Subject(cert)})
	return p, ca, cert
}

// trusting is a client whose transport trusts the provider's servers
// and presents no certificate of its own.
func trusting(t *testing.T, p *mtlstest.Provider) *http.Client {
	tr := p.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// A Refresher with a ClientCertificate and no secret authenticates with
// tls_client_auth (RFC 8705 §2.1): the provider checks the certificate's
// issuer and subject, and binds the new access token to it (§3.1).
func TestTLSClientAuthRefresh(t *testing.T) {
	p, _, cert := mtlsProvider(t)
	r := &generic.Refresher{TokenURL: p.TokenURL(), ClientID: "svc", ClientCertificate: cert, HTTPClient: trusting(t, p)}
	tok, err := r.Refresh(context.Background(), p.Grant("svc"))
	if err != nil {
		t.Fatalf("Refresh: %v (the provider refused: %q)", err, p.Stats().Refusals)
	}
	if got, want := p.Bound(tok.AccessToken), mtlstest.Thumbprint(cert); got != want {
		t.Errorf("the new access token is bound to %q, want the certificate's x5t#S256 %q", got, want)
	}
}

// The provider refuses a client without the certificate it registered;
// the error is the provider's answer, typed, and carries no secret.
func TestTLSClientAuthRefused(t *testing.T) {
	p, ca, cert := mtlsProvider(t)
	for name, r := range map[string]*generic.Refresher{
		// No certificate: the method derives to none, and the Refresher
		// sends the client ID alone.
		"no certificate":      {ClientID: "svc"},
		"another subject":     {ClientID: "svc", ClientCertificate: ca.Issue(t, "intruder")},
		"not the CA's":        {ClientID: "svc", ClientCertificate: mtlstest.SelfSigned(t, "svc")},
		"another client's ID": {ClientID: "other", ClientCertificate: cert},
	} {
		r.TokenURL = p.TokenURL()
		r.HTTPClient = trusting(t, p)
		grant := p.Grant("svc")
		_, err := r.Refresh(context.Background(), grant)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("%s: %v, want an *oauth2.RetrieveError invalid_client", name, err)
			continue
		}
		if errors.Is(err, oauthrt.ErrReauthRequired) {
			t.Errorf("%s: %v wraps ErrReauthRequired: the client's credential is wrong, not the grant", name, err)
		}
		if strings.Contains(fmt.Sprintf("%v %+v", err, err), grant.RefreshToken) {
			t.Errorf("%s: the error %q holds the refresh token", name, err)
		}
	}
	if s := p.Stats(); s.Issued != 0 || s.Refused != 4 {
		t.Errorf("the provider issued %d tokens and refused %d requests, want 0 and 4", s.Issued, s.Refused)
	}
}

// self_signed_tls_client_auth (RFC 8705 §2.2): the provider matches the
// certificate against the one registered.
func TestSelfSignedTLSClientAuth(t *testing.T) {
	p, _, _ := mtlsProvider(t)
	cert := mtlstest.SelfSigned(t, "app")
	p.Register("app", mtlstest.Registration{Method: "self_signed_tls_client_auth", Thumbprint: mtlstest.Thumbprint(cert)})
	r := &generic.Refresher{TokenURL: p.TokenURL(), ClientID: "app", AuthMethod: generic.AuthSelfSignedTLSClientAuth,
		ClientCertificate: cert, HTTPClient: trusting(t, p)}
	tok, err := r.Refresh(context.Background(), p.Grant("app"))
	if err != nil {
		t.Fatalf("Refresh: %v (the provider refused: %q)", err, p.Stats().Refusals)
	}
	if p.Bound(tok.AccessToken) != mtlstest.Thumbprint(cert) {
		t.Error("the access token is not bound to the certificate")
	}

	r.ClientCertificate = mtlstest.SelfSigned(t, "app") // same subject, another key
	var re *oauth2.RetrieveError
	if _, err := r.Refresh(context.Background(), p.Grant("app")); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("with another self-signed certificate: %v, want invalid_client", err)
	}
}

// countingTransport counts the requests it is handed, and passes them to
// next.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// A Refresher that cannot present a certificate under a mutual-TLS
// method, or cannot add its ClientCertificate to its client's transport,
// fails before sending anything, Refresh and Revoke alike.
func TestMTLSChecksBeforeSending(t *testing.T) {
	p, _, cert := mtlsProvider(t)
	bare := p.Transport() // no certificate
	wrapped := &countingTransport{next: bare}
	for _, tc := range []struct {
		name string
		r    generic.Refresher
		want string // in the error
	}{
		{"tls_client_auth without a certificate", generic.Refresher{ClientID: "svc", AuthMethod: generic.AuthTLSClientAuth}, "no client certificate"},
		{"self_signed_tls_client_auth over a client with none", generic.Refresher{ClientID: "svc", AuthMethod: generic.AuthSelfSignedTLSClientAuth,
			HTTPClient: &http.Client{Transport: bare}}, "no client certificate"},
		{"no client ID", generic.Refresher{ClientCertificate: cert}, "needs a client ID"},
		{"a transport of another kind", generic.Refresher{ClientID: "svc", ClientCertificate: cert,
			HTTPClient: &http.Client{Transport: wrapped}}, "needs Refresher.HTTPClient's Transport to be an *http.Transport"},
	} {
		tc.r.TokenURL = p.TokenURL()
		tc.r.RevocationURL = p.RevocationURL()
		_, err := tc.r.Refresh(context.Background(), p.Grant("svc"))
		rerr := tc.r.Revoke(context.Background(), p.Grant("svc"))
		for what, err := range map[string]error{"Refresh": err, "Revoke": rerr} {
			if err == nil || !strings.HasPrefix(err.Error(), "generic: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %s = %v, want a generic: error saying %q", tc.name, what, err, tc.want)
			}
		}
	}
	if s := p.Stats(); s.TokenRequests+s.Revocations != 0 || wrapped.n.Load() != 0 {
		t.Errorf("%d requests reached the provider, %d the client's transport; want none", s.TokenRequests+s.Revocations, wrapped.n.Load())
	}
}

// A client whose transport presents the certificate itself serves
// tls_client_auth without a ClientCertificate: an *http.Transport
// configured with one, or a RoundTripper of another kind, which the
// Refresher cannot look into.
func TestTLSClientAuthByTheClientsOwnCertificate(t *testing.T) {
	p, _, cert := mtlsProvider(t)
	own := p.Transport()
	own.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	defer own.CloseIdleConnections()
	for name, rt := range map[string]http.RoundTripper{
		"*http.Transport": own,
		"a wrapper":       &countingTransport{next: own},
	} {
		r := &generic.Refresher{TokenURL: p.TokenURL(), ClientID: "svc", AuthMethod: generic.AuthTLSClientAuth, HTTPClient: &http.Client{Transport: rt}}
		tok, err := r.Refresh(context.Background(), p.Grant("svc"))
		if err != nil || p.Bound(tok.AccessToken) != mtlstest.Thumbprint(cert) {
			t.Errorf("%s: %v; want a token bound to the transport's certificate", name, err)
		}
	}
}

// The user's client, with its RootCAs, gets the certificate on a copy of
// its transport: it is left as it was, and still presents nothing. The
// copy is built once: the Refresher's copies share its connections.
func TestMTLSLeavesTheUsersClientAlone(t *testing.T) {
	p, _, cert := mtlsProvider(t)
	tr := p.Transport()
	defer tr.CloseIdleConnections()
	user := &http.Client{Transport: tr}
	r := generic.Refresher{TokenURL: p.TokenURL(), ClientID: "svc", ClientCertificate: cert, HTTPClient: user}
	var tok *oauth2.Token
	for i, r := range []generic.Refresher{r, r, r} { // copies, as the Refresher may be
		var err error
		if tok, err = r.Refresh(context.Background(), p.Grant("svc")); err != nil {
			t.Fatalf("Refresh %d: %v (the provider refused: %q)", i, err, p.Stats().Refusals)
		}
	}
	if user.Transport != tr || user.CheckRedirect != nil || tr.TLSClientConfig.GetClientCertificate != nil || len(tr.TLSClientConfig.Certificates) != 0 {
		t.Errorf("the user's client or transport was modified: %+v", user)
	}
	if n := p.Stats().ASConnections; n != 1 {
		t.Errorf("3 refreshes by copies of one Refresher opened %d connections, want 1 (one client for the certificate)", n)
	}

	// The user's own transport presents no certificate: the API refuses
	// the bound token over it.
	req, _ := http.NewRequest("GET", p.APIURL(), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := user.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the bound token over the user's transport got %d, want 401", resp.StatusCode)
	}
}

// With no HTTPClient the Refresher's certificate goes on a clone of
// http.DefaultTransport, as the default client's does; revocation
// presents it too.
func TestMTLSWithTheDefaultClient(t *testing.T) {
	p, _, cert := mtlsProvider(t)
	mtlstest.TrustInDefaultTransport(t, p.RootCAs)
	r := &generic.Refresher{TokenURL: p.TokenURL(), RevocationURL: p.RevocationURL(), ClientID: "svc", ClientCertificate: cert}
	tok, err := r.Refresh(context.Background(), p.Grant("svc"))
	if err != nil {
		t.Fatalf("Refresh: %v (the provider refused: %q)", err, p.Stats().Refusals)
	}
	if p.Bound(tok.AccessToken) != mtlstest.Thumbprint(cert) {
		t.Error("the access token is not bound to the certificate")
	}
	if err := r.Revoke(context.Background(), tok); err != nil {
		t.Fatalf("Revoke: %v (the provider refused: %q)", err, p.Stats().Refusals)
	}
	if s := p.Stats(); s.Revocations != 2 {
		t.Errorf("%d revocations accepted, want 2 (refresh and access token)", s.Revocations)
	}
}

// Under another method the certificate only binds the tokens: a secret,
// or a private_key_jwt assertion (sent with the default clients' fresh
// retries), authenticates the client.
func TestMTLSBindsUnderOtherMethods(t *testing.T) {
	p, _, cert := mtlsProvider(t)
	mtlstest.TrustInDefaultTransport(t, p.RootCAs)
	p.Register("secret-app", mtlstest.Registration{Method: "client_secret_basic", Secret: "app-secret"})
	p.Register("jwt-app", mtlstest.Registration{Method: "private_key_jwt"})
	p.Register("public-app", mtlstest.Registration{Method: "none"})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*generic.Refresher{
		{ClientID: "secret-app", ClientSecret: "app-secret"},
		{ClientID: "jwt-app", PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}},
		{ClientID: "public-app", AuthMethod: generic.AuthNone},
	} {
		r.TokenURL = p.TokenURL()
		r.ClientCertificate = cert
		tok, err := r.Refresh(context.Background(), p.Grant(r.ClientID))
		if err != nil {
			t.Errorf("%s: %v (the provider refused: %q)", r.ClientID, err, p.Stats().Refusals)
			continue
		}
		if p.Bound(tok.AccessToken) != mtlstest.Thumbprint(cert) {
			t.Errorf("%s: the access token is not bound to the certificate", r.ClientID)
		}
	}
}

// The clients built for a certificate retry what the default clients
// retry: a connection refused before the request was written.
func TestMTLSDefaultClientRetries(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := mtlstest.SelfSigned(t, "svc")
	for name, r := range map[string]*generic.Refresher{
		"tls_client_auth": {ClientID: "svc", ClientCertificate: cert},
		"private_key_jwt": {ClientID: "svc", ClientCertificate: cert, PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}},
	} {
		ctx, addr, refused := refusedOnce(t, func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"at-2","token_type":"Bearer","expires_in":60}`)
		})
		r.TokenURL = "http://" + addr + "/token"
		if _, err := r.Refresh(ctx, oldToken()); err != nil || refused.Load() != 1 {
			t.Errorf("%s: after a refused connection: %v, %d refused; want a token after 1", name, err, refused.Load())
		}
	}
}

// Printed, logged or encoded, a Refresher names its method and says it
// has a certificate, and shows nothing of the certificate or its key.
func TestMTLSFormatting(t *testing.T) {
	cert := mtlstest.SelfSigned(t, "SUBJECT-NAME")
	r := generic.Refresher{TokenURL: "https://p/token", ClientID: "svc", ClientCertificate: cert}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	const want = `generic.Refresher{TokenURL: "https://p/token", ClientID: "svc", ClientSecret: "", AuthMethod: tls_client_auth, ClientCertificate: set}`
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", &r), fmt.Sprintf("%#v", r), fmt.Sprintf("%x", r)} {
		if s != want {
			t.Errorf("formatted: %s\nwant:      %s", s, want)
		}
	}
	if string(js) != fmt.Sprintf("%q", want) {
		t.Errorf("JSON: %s", js)
	}
}
