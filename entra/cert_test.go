package entra_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt/entra"
)

func TestParseCertificate(t *testing.T) {
	rsaKey, rsaCert := testCredential()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecCert := selfSigned(ecKey, "ec")
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caCert := selfSigned(caKey, "another certificate in the chain")

	pkcs8 := func(k crypto.Signer) *pem.Block {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	certBlock := func(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }
	join := func(blocks ...*pem.Block) []byte {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		return b
	}

	good := []struct {
		name string
		data []byte
		cert *x509.Certificate
		key  crypto.Signer
	}{
		{"PKCS #8 RSA, key first", join(pkcs8(rsaKey), certBlock(rsaCert)), rsaCert, rsaKey},
		{"PKCS #1 RSA", join(certBlock(rsaCert), &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaCert, rsaKey},
		{"SEC 1 EC with parameters", join(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}},
			&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}, certBlock(ecCert)), ecCert, ecKey},
		{"chain, leaf second", join(certBlock(caCert), certBlock(rsaCert), pkcs8(rsaKey)), rsaCert, rsaKey},
		{"text around the blocks", append([]byte("Bag Attributes\n"), join(certBlock(rsaCert), pkcs8(rsaKey))...), rsaCert, rsaKey},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			cert, key, err := entra.ParseCertificate(tt.data)
			if err != nil {
				t.Fatalf("ParseCertificate: %v", err)
			}
			if !cert.Equal(tt.cert) {
				t.Errorf("got the certificate %q, want %q", cert.Subject, tt.cert.Subject)
			}
			if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.key.Public()) {
				t.Error("got another key")
			}
		})
	}

	garbage := &pem.Block{Type: "PRIVATE KEY", Bytes: append([]byte{0x30, 0x82}, x509.MarshalPKCS1PrivateKey(rsaKey)[4:]...)}
	bad := []struct {
		name, data, msg string
	}{
		{"not PEM", "hello", "no CERTIFICATE"},
		{"no key", string(join(certBlock(rsaCert))), "no private key"},
		{"no certificate", string(join(pkcs8(rsaKey))), "no CERTIFICATE"},
		{"another key's certificate", string(join(certBlock(ecCert), pkcs8(rsaKey))), "no certificate is the private key's"},
		{"two keys", string(join(certBlock(rsaCert), pkcs8(rsaKey), pkcs8(ecKey))), "more than one"},
		{"encrypted PKCS #8", string(join(certBlock(rsaCert), &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})), "encrypted"},
		{"encrypted PKCS #1", string(join(certBlock(rsaCert), &pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: []byte{1, 2, 3}})), "encrypted"},
		{"garbled key", string(join(certBlock(rsaCert), garbage)), "not a PKCS #8, PKCS #1 or SEC 1 private key"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := entra.ParseCertificate([]byte(tt.data))
			if err == nil || !strings.HasPrefix(err.Error(), "entra: ParseCertificate: ") || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("ParseCertificate = %v, want an error about %q", err, tt.msg)
			}
			for _, secret := range []string{base64.StdEncoding.EncodeToString(garbage.Bytes[8:40]), rsaKey.D.String()[:20]} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%q contains key material", err)
				}
			}
		})
	}
}
