package clientcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauthrt/oauthrt/internal/clientcert"
	"github.com/oauthrt/oauthrt/internal/mtlstest"
)

// certServer starts a TLS server that requires a client certificate and
// answers with its protocol; seen receives each certificate's thumbprint.
func certServer(t *testing.T, http2 bool) (*httptest.Server, *x509.CertPool, *[]string) {
	var seen []string
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, mtlstest.Thumbprint(&tls.Certificate{Certificate: [][]byte{r.TLS.PeerCertificates[0].Raw}}))
		io.WriteString(w, r.Proto)
	}))
	s.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	s.EnableHTTP2 = http2
	s.StartTLS()
	t.Cleanup(s.Close)
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return s, pool, &seen
}

func fixed(c *tls.Certificate) func() (*tls.Certificate, error) {
	return func() (*tls.Certificate, error) { return c, nil }
}

// The clone presents the certificate given, in place of the one its
// original has, and the original is left as it was.
func TestOverPresentsTheCertificate(t *testing.T) {
	s, pool, seen := certServer(t, false)
	ours, theirs := mtlstest.SelfSigned(t, "ours"), mtlstest.SelfSigned(t, "theirs")
	orig := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{*theirs}}}

	c, ok := clientcert.Over(orig, fixed(ours))
	if !ok {
		t.Fatal("Over refused an *http.Transport")
	}
	defer c.CloseIdleConnections()
	resp, err := (&http.Client{Transport: c}).Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(*seen) != 1 || (*seen)[0] != mtlstest.Thumbprint(ours) {
		t.Errorf("the server saw %q, want our certificate's thumbprint %s", *seen, mtlstest.Thumbprint(ours))
	}
	if orig.TLSClientConfig.GetClientCertificate != nil || len(orig.TLSClientConfig.Certificates) != 1 {
		t.Error("the original transport's TLSClientConfig was modified")
	}
}

// A RoundTripper that is not an *http.Transport cannot be given a
// certificate.
func TestOverRefusesOtherKinds(t *testing.T) {
	var nilTransport *http.Transport
	for name, rt := range map[string]http.RoundTripper{
		"a wrapper":             wrapper{http.DefaultTransport},
		"a nil *http.Transport": nilTransport,
	} {
		if c, ok := clientcert.Over(rt, fixed(&tls.Certificate{})); ok || c != nil {
			t.Errorf("%s: Over = %v, %t; want nil, false", name, c, ok)
		}
	}
}

type wrapper struct{ http.RoundTripper }

// A transport with no TLSClientConfig of its own speaks HTTP/2 once it
// has set it up; its clone with a certificate does too, where Clone alone
// would offer h2 in the handshake and then speak HTTP/1 on it.
func TestOverKeepsHTTP2(t *testing.T) {
	s, pool, seen := certServer(t, true)
	cert := mtlstest.SelfSigned(t, "h2")
	c, ok := clientcert.Over(&http.Transport{}, fixed(cert))
	if !ok {
		t.Fatal("Over refused an *http.Transport")
	}
	defer c.CloseIdleConnections()
	c.TLSClientConfig.RootCAs = pool // the test server's, which the original cannot know
	resp, err := (&http.Client{Transport: c}).Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0" || len(*seen) != 1 {
		t.Errorf("got %s, the server saw %q over %d requests; want HTTP/2 with the certificate", resp.Proto, body, len(*seen))
	}
}
