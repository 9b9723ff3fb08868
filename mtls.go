package oauthrt

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/oauthrt/oauthrt/internal/clientcert"
)

// certified returns what sends the requests of a Transport with a
// ClientCertificate: a clone of Base carrying it, built on the first
// call, or, when Base cannot carry it, a RoundTripper that fails every
// request without sending it.
func (t *Transport) certified() http.RoundTripper {
	t.certOnce.Do(func() {
		cert := t.ClientCertificate
		if c, ok := clientcert.Over(t.Base, func() (*tls.Certificate, error) { return cert, nil }); ok {
			t.certBase = c
			return
		}
		which, base := "Transport.Base", t.Base
		if base == nil {
			which, base = "http.DefaultTransport", http.DefaultTransport
		}
		t.certBase = refusing{fmt.Errorf("oauthrt: Transport.ClientCertificate needs %s to be an *http.Transport, not %T: "+
			"configure the certificate in that RoundTripper instead, and leave ClientCertificate nil", which, base)}
	})
	return t.certBase
}

// refusing is a RoundTripper that sends nothing and fails with err.
type refusing struct{ err error }

func (r refusing) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, r.err
}
