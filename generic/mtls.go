package generic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"weak"

	"github.com/oauthrt/oauthrt/internal/clientcert"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// Mutual TLS (RFC 8705): a Refresher with a ClientCertificate presents it
// in the TLS handshakes of its requests, through a client of its own
// built over the HTTPClient's (or the default client's) transport. A
// Refresher holds nothing that changes after first use (see
// detectedStyles), so those clients live here, one per certificate and
// HTTPClient, built once and shared by the Refresher's copies.

// certSenders holds the sender built for each certificate and HTTPClient
// pair. Its keys are weak: an entry goes when its certificate, or its
// HTTPClient, is no longer held by anything else, so that a process that
// loads a new certificate for each Refresher (each tenant's, or a renewed
// one) does not keep a client for each one it ever loaded.
var certSenders sync.Map // certKey → sender

type certKey struct {
	cert   weak.Pointer[tls.Certificate]
	client weak.Pointer[http.Client] // zero: the default client
}

// A sender sends a Refresher's requests to its endpoints.
type sender struct {
	// client sends with endpoint.Do and Revoke, and with DoFresh and
	// RevokeFresh when once is nil. nil: the module's default clients.
	client *http.Client
	// once, when not nil, is the client for DoFresh and RevokeFresh
	// that tries each request once, which they retry around as they do
	// for a nil client: the default clients' stand-in, with the
	// certificate.
	once *http.Client
}

func (s sender) do(ctx context.Context, req endpoint.Request) (*oauth2.Token, error) {
	return endpoint.Do(ctx, s.client, req)
}

func (s sender) revoke(ctx context.Context, req endpoint.Request) error {
	return endpoint.Revoke(ctx, s.client, req)
}

func (s sender) doFresh(ctx context.Context, build func() (endpoint.Request, error)) (*oauth2.Token, error) {
	if s.once != nil {
		return endpoint.DoFreshOver(ctx, s.once, build)
	}
	return endpoint.DoFresh(ctx, s.client, build)
}

func (s sender) revokeFresh(ctx context.Context, build func() (endpoint.Request, error)) error {
	if s.once != nil {
		return endpoint.RevokeFreshOver(ctx, s.once, build)
	}
	return endpoint.RevokeFresh(ctx, s.client, build)
}

// sender returns what sends r's requests: r.HTTPClient as it is without a
// ClientCertificate, else a client that presents it, built on first use.
// The caller keeps r.ClientCertificate alive (runtime.KeepAlive) until
// its requests are done: the clients hold it weakly.
func (r *Refresher) sender() (sender, error) {
	cert := r.ClientCertificate
	if cert == nil {
		return sender{client: r.HTTPClient}, nil
	}
	if err := r.checkCertTransport(); err != nil {
		return sender{}, err
	}
	key := certKey{cert: weak.Make(cert), client: weak.Make(r.HTTPClient)}
	if s, ok := certSenders.Load(key); ok {
		return s.(sender), nil
	}
	s, loaded := certSenders.LoadOrStore(key, newCertSender(key.cert, r.HTTPClient))
	if !loaded {
		runtime.AddCleanup(cert, dropSender, key)
		if r.HTTPClient != nil {
			runtime.AddCleanup(r.HTTPClient, dropSender, key)
		}
	}
	return s.(sender), nil
}

func dropSender(key certKey) { certSenders.Delete(key) }

// newCertSender builds the sender for a certificate and an HTTPClient
// (nil: the default client's), whose Transport is nil or an
// *http.Transport. The clients hold the certificate weakly, so that the
// map's entry does not keep alive the key that names it; a handshake of a
// client whose certificate is gone fails, but its entry is gone too, and
// no Refresher can reach it.
func newCertSender(cert weak.Pointer[tls.Certificate], hc *http.Client) sender {
	get := func() (*tls.Certificate, error) {
		if c := cert.Value(); c != nil {
			return c, nil
		}
		return nil, errors.New("generic: the Refresher's ClientCertificate is no longer held")
	}
	if hc == nil {
		// As the default clients do, with one transport for both: a
		// certificate's connections are worth sharing.
		base, _ := clientcert.Over(nil, get)
		if base == nil {
			// http.DefaultTransport replaced by another kind: reported
			// by checkCertTransport before this is reached.
			return sender{}
		}
		return sender{client: endpoint.DefaultClientOver(base), once: endpoint.SingleAttemptClientOver(base)}
	}
	base, _ := clientcert.Over(hc.Transport, get)
	c := *hc // a copy: the user's client is left as it is
	c.Transport = base
	return sender{client: &c}
}

// checkCertTransport reports a ClientCertificate that cannot be put in
// the handshakes, because the transport under it is not an
// *http.Transport.
func (r *Refresher) checkCertTransport() error {
	if r.ClientCertificate == nil {
		return nil
	}
	if r.HTTPClient == nil {
		if _, ok := http.DefaultTransport.(*http.Transport); !ok {
			return fmt.Errorf("generic: Refresher.ClientCertificate needs http.DefaultTransport to be an *http.Transport, not %T, or a Refresher.HTTPClient whose Transport is", http.DefaultTransport)
		}
		return nil
	}
	switch t := r.HTTPClient.Transport.(type) {
	case nil:
	case *http.Transport:
		if t == nil {
			return errors.New("generic: Refresher.HTTPClient's Transport is a nil *http.Transport")
		}
	default:
		return fmt.Errorf("generic: Refresher.ClientCertificate needs Refresher.HTTPClient's Transport to be an *http.Transport or nil, not %T: "+
			"configure the certificate in the TLSClientConfig of the transport under it instead, and leave ClientCertificate nil", t)
	}
	return nil
}

// presentsCertificate reports whether r's requests may carry a client
// certificate: r.ClientCertificate is set, or r.HTTPClient's Transport
// is an *http.Transport configured with one, or a RoundTripper of another
// kind, which may hold one where the Refresher cannot see.
func (r *Refresher) presentsCertificate() bool {
	if r.ClientCertificate != nil {
		return true
	}
	if r.HTTPClient == nil || r.HTTPClient.Transport == nil {
		return false
	}
	t, ok := r.HTTPClient.Transport.(*http.Transport)
	if !ok {
		return true
	}
	return t != nil && t.TLSClientConfig != nil &&
		(len(t.TLSClientConfig.Certificates) > 0 || t.TLSClientConfig.GetClientCertificate != nil)
}
