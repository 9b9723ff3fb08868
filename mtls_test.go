package oauthrt_test

import (
	"context"
	"crypto/tls"
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

// mtlsSetup is a provider that authenticates the client "svc" by its
// certificate and binds its tokens to it (RFC 8705), and a store holding
// an expired token of a grant to svc under the key "k".
type mtlsSetup struct {
	p     *mtlstest.Provider
	ca    *mtlstest.CA
	store *oauthrt.MemoryStore
	grant *oauth2.Token
}

func newMTLSSetup(t *testing.T, reg func(*mtlstest.CA) (mtlstest.Registration, *tls.Certificate)) (*mtlsSetup, *tls.Certificate) {
	ca := mtlstest.NewCA(t)
	s := &mtlsSetup{p: mtlstest.NewProvider(t, ca), ca: ca, store: oauthrt.NewMemoryStore()}
	r, cert := reg(ca)
	s.p.Register("svc", r)
	s.grant = s.p.Grant("svc")
	if err := s.store.Save(context.Background(), "k", s.grant); err != nil {
		t.Fatal(err)
	}
	return s, cert
}

// byCA registers svc for tls_client_auth with a certificate of the
// provider's CA (RFC 8705 §2.1).
func byCA(t *testing.T) func(*mtlstest.CA) (mtlstest.Registration, *tls.Certificate) {
	return func(ca *mtlstest.CA) (mtlstest.Registration, *tls.Certificate) {
		cert := ca.Issue(t, "svc")
		return mtlstest.Registration{Method: "tls_client_auth", SubjectDN: mtlstest.Subject(cert)}, cert
	}
}

// selfSigned registers svc for self_signed_tls_client_auth (RFC 8705
// §2.2).
func selfSigned(t *testing.T) func(*mtlstest.CA) (mtlstest.Registration, *tls.Certificate) {
	return func(*mtlstest.CA) (mtlstest.Registration, *tls.Certificate) {
		cert := mtlstest.SelfSigned(t, "svc")
		return mtlstest.Registration{Method: "self_signed_tls_client_auth", Thumbprint: mtlstest.Thumbprint(cert)}, cert
	}
}

// get sends a GET to the provider's API through tr.
func (s *mtlsSetup) get(tr *oauthrt.Transport) (*http.Response, error) {
	resp, err := (&http.Client{Transport: tr}).Get(s.p.APIURL())
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// With the certificate on both the Refresher and the Transport, and
// every other setting left nil, the expired token is refreshed with the
// client authenticated by its certificate, the new token is bound to it,
// and the API takes it over a connection presenting it.
func TestMTLSEndToEnd(t *testing.T) {
	for name, reg := range map[string]func(*mtlstest.CA) (mtlstest.Registration, *tls.Certificate){
		"tls_client_auth":             byCA(t),
		"self_signed_tls_client_auth": selfSigned(t),
	} {
		t.Run(name, func(t *testing.T) {
			s, cert := newMTLSSetup(t, reg)
			mtlstest.TrustInDefaultTransport(t, s.p.RootCAs)
			tr := &oauthrt.Transport{
				Store: s.store,
				Key:   "k",
				Refresher: &generic.Refresher{TokenURL: s.p.TokenURL(), ClientID: "svc",
					AuthMethod: generic.AuthMethod(name), ClientCertificate: cert},
				ClientCertificate: cert,
			}
			defer tr.Close()
			defer tr.CloseIdleConnections()
			resp, err := s.get(tr)
			if err != nil {
				t.Fatalf("GET: %v (refused: %q)", err, s.p.Stats().Refusals)
			}
			st := s.p.Stats()
			if resp.StatusCode != http.StatusOK || st.Issued != 1 || st.APIRefused != 0 {
				t.Errorf("GET = %d after %d tokens issued and %d API refusals (%q), want 200 after 1 and none", resp.StatusCode, st.Issued, st.APIRefused, st.Refusals)
			}
			if want := mtlstest.Thumbprint(cert); len(st.APIThumbprints) != 1 || st.APIThumbprints[0] != want {
				t.Errorf("the API saw certificates %q, want %q", st.APIThumbprints, want)
			}
			tok, _ := s.store.Load(context.Background(), "k")
			if tok == nil || s.p.Bound(tok.AccessToken) != mtlstest.Thumbprint(cert) {
				t.Errorf("the stored token %v is not the one bound to the certificate", tok)
			}
		})
	}
}

// Each certificate is needed: without the Refresher's, the token
// endpoint refuses the client; without the Transport's, or with another
// one, the API refuses the bound token. Base, the user's *http.Transport
// with its own RootCAs, gets the certificate on a clone, and is left as
// it was.
func TestMTLSEachCertificateIsNeeded(t *testing.T) {
	s, cert := newMTLSSetup(t, byCA(t))
	other := s.ca.Issue(t, "svc") // same CA and subject, another key
	for _, tc := range []struct {
		name                 string
		refresher, transport *tls.Certificate
		status               int // 0: an error, from the token endpoint
	}{
		{"both", cert, cert, http.StatusOK},
		{"not the Refresher's", nil, cert, 0},
		{"not the Transport's", cert, nil, http.StatusUnauthorized},
		{"another on the Transport", cert, other, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.store.Save(context.Background(), "k", s.grant); err != nil {
				t.Fatal(err)
			}
			before := s.p.Stats()
			base, own := s.p.Transport(), s.p.Transport()
			defer base.CloseIdleConnections()
			defer own.CloseIdleConnections()
			tr := &oauthrt.Transport{
				Base:  base,
				Store: s.store,
				Key:   "k",
				Refresher: &generic.Refresher{TokenURL: s.p.TokenURL(), ClientID: "svc",
					ClientCertificate: tc.refresher, HTTPClient: &http.Client{Transport: own}},
				ClientCertificate: tc.transport,
			}
			defer tr.Close()
			defer tr.CloseIdleConnections()
			resp, err := s.get(tr)
			st := s.p.Stats()
			switch {
			case tc.status == 0:
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
					t.Fatalf("GET: %v, want an *oauth2.RetrieveError invalid_client", err)
				}
				if msg := fmt.Sprintf("%v %+v", err, err); strings.Contains(msg, s.grant.RefreshToken) {
					t.Errorf("the error %q holds the refresh token", msg)
				}
				if st.APIRequests != before.APIRequests {
					t.Error("the request was sent without a token")
				}
			case err != nil:
				t.Fatalf("GET: %v (refused: %q)", err, st.Refusals)
			case resp.StatusCode != tc.status:
				t.Errorf("GET = %d, want %d (refused: %q)", resp.StatusCode, tc.status, st.Refusals[before.APIRefused:])
			}
			for _, b := range []*http.Transport{base, own} {
				if b.TLSClientConfig.GetClientCertificate != nil || len(b.TLSClientConfig.Certificates) != 0 {
					t.Error("a transport of the user's was given the certificate")
				}
			}
		})
	}
}

// A Base that is not an *http.Transport cannot be given the
// certificate: the request is refused, not sent without it.
func TestMTLSBaseOfAnotherKind(t *testing.T) {
	s, cert := newMTLSSetup(t, byCA(t))
	own := s.p.Transport()
	defer own.CloseIdleConnections()
	var sent atomic.Int32
	tr := &oauthrt.Transport{
		Base: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			sent.Add(1)
			return nil, errors.New("sent")
		}),
		Store:             s.store,
		Key:               "k",
		Refresher:         &generic.Refresher{TokenURL: s.p.TokenURL(), ClientID: "svc", ClientCertificate: cert, HTTPClient: &http.Client{Transport: own}},
		ClientCertificate: cert,
	}
	defer tr.Close()
	body := newCloseCounter("payload")
	req, _ := http.NewRequest("POST", s.p.APIURL(), body)
	_, err := tr.RoundTrip(req)
	if err == nil || !strings.HasPrefix(err.Error(), "oauthrt: Transport.ClientCertificate needs Transport.Base to be an *http.Transport") {
		t.Errorf("RoundTrip: %v, want an error saying Base must be an *http.Transport", err)
	}
	if sent.Load() != 0 || body.closes.Load() != 1 {
		t.Errorf("Base was handed %d requests and the body closed %d times, want 0 and 1", sent.Load(), body.closes.Load())
	}
}

// CloseIdleConnections closes the connections the Transport's requests
// went over: those of the clone carrying the certificate.
func TestMTLSCloseIdleConnections(t *testing.T) {
	s, cert := newMTLSSetup(t, byCA(t))
	base, own := s.p.Transport(), s.p.Transport()
	defer own.CloseIdleConnections()
	tr := &oauthrt.Transport{
		Base:              base,
		Store:             s.store,
		Key:               "k",
		Refresher:         &generic.Refresher{TokenURL: s.p.TokenURL(), ClientID: "svc", ClientCertificate: cert, HTTPClient: &http.Client{Transport: own}},
		ClientCertificate: cert,
	}
	defer tr.Close()
	for i, want := range []int{1, 1, 2} {
		if i == 2 {
			tr.CloseIdleConnections()
		}
		if resp, err := s.get(tr); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %d: %v", i, err)
		}
		if n := s.p.Stats().APIConnections; n != want {
			t.Errorf("after GET %d: %d connections to the API, want %d", i, n, want)
		}
	}
	tr.CloseIdleConnections()
}
