package entra

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ParseCertificate reads a certificate credential from PEM data holding
// a certificate and its private key, in either order, as Azure Key Vault
// and openssl export it: the key as PKCS #8 ("PRIVATE KEY"), PKCS #1
// ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"), unencrypted. When the
// data holds a chain, the certificate returned is the one whose public
// key is the private key's. Other blocks are ignored.
//
// Its errors never contain key material. A PKCS #12 (.pfx) file must be
// converted first, for example with openssl pkcs12 -nodes.
func ParseCertificate(pemData []byte) (*x509.Certificate, crypto.Signer, error) {
	var certs []*x509.Certificate
	var key crypto.Signer
	for rest := pemData; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("entra: ParseCertificate: %w", err)
			}
			certs = append(certs, c)
		case b.Type == "ENCRYPTED PRIVATE KEY" || strings.HasSuffix(b.Type, "PRIVATE KEY") && b.Headers["Proc-Type"] != "":
			return nil, nil, errors.New("entra: ParseCertificate: the private key is encrypted; decrypt it first")
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if key != nil {
				return nil, nil, errors.New("entra: ParseCertificate: more than one private key")
			}
			k, err := parseKey(b)
			if err != nil {
				return nil, nil, err
			}
			key = k
		}
	}
	switch {
	case len(certs) == 0:
		return nil, nil, errors.New("entra: ParseCertificate: no CERTIFICATE block")
	case key == nil:
		return nil, nil, errors.New("entra: ParseCertificate: no private key block")
	}
	for _, c := range certs {
		if pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(key.Public()) {
			return c, key, nil
		}
	}
	return nil, nil, errors.New("entra: ParseCertificate: no certificate is the private key's")
}

// parseKey parses a private key block in whichever of PKCS #8, PKCS #1
// and SEC 1 it turns out to be, whatever its label says. The parsers'
// errors are dropped, so that none can quote the key.
func parseKey(b *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	if k, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
		if k, err = x509.ParsePKCS1PrivateKey(b.Bytes); err != nil {
			k, err = x509.ParseECPrivateKey(b.Bytes)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("entra: ParseCertificate: the %s block is not a PKCS #8, PKCS #1 or SEC 1 private key", b.Type)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("entra: ParseCertificate: a private key of type %T cannot sign", k)
	}
	return s, nil
}
