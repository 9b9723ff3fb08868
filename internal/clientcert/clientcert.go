// Package clientcert builds the HTTP transports that present a TLS client
// certificate, for mutual-TLS client authentication and
// certificate-bound access tokens (RFC 8705).
package clientcert

import (
	"crypto/tls"
	"net/http"
	"slices"
)

// Over returns a clone of base (nil: http.DefaultTransport) that presents
// the certificate get returns in every TLS handshake whose server asks
// for one, whatever base's own TLSClientConfig says of client
// certificates. base itself is not modified. ok is false, and the
// transport nil, when base is not an *http.Transport: a certificate
// cannot be added to a RoundTripper of another kind.
//
// get is called for each handshake; its error aborts the handshake.
func Over(base http.RoundTripper, get func() (*tls.Certificate, error)) (_ *http.Transport, ok bool) {
	if base == nil {
		base = http.DefaultTransport
	}
	t, ok := base.(*http.Transport)
	if !ok || t == nil {
		return nil, false
	}
	c := t.Clone()
	if c.TLSClientConfig == nil {
		c.TLSClientConfig = new(tls.Config)
	} else if c.Protocols == nil && c.TLSNextProto == nil && slices.Contains(c.TLSClientConfig.NextProtos, "h2") {
		// Clone sets up the original's HTTP/2 first, which puts h2 in
		// its TLSClientConfig's NextProtos; the clone gets that config
		// but not the HTTP/2 transport, and a transport with a
		// TLSClientConfig makes none of its own unless asked (net/http's
		// Issue 14275). Asked, the clone speaks the HTTP/2 it offers.
		c.ForceAttemptHTTP2 = true
	}
	// GetClientCertificate, not Certificates: Certificates offers nothing
	// when the certificate does not match what the server asked for,
	// which the server sees as a client with no certificate. The server's
	// refusal of the one configured says more.
	c.TLSClientConfig.Certificates = nil
	c.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return get()
	}
	return c, true
}
