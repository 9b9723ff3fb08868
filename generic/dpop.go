package generic

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt/dpop"
	"golang.org/x/oauth2"
)

// DPoP configures a [Refresher] to sender-constrain its grants' tokens
// with DPoP (RFC 9449). The zero value is ready to use: each new grant
// gets an ECDSA P-256 key, and proofs are signed ES256.
type DPoP struct {
	// NewKey makes the key of a grant that has none yet: at the code
	// exchange of a new authorization, and at the refresh of a token
	// saved before DPoP was turned on. The key must be one [dpop.Bind]
	// can keep in a store. nil means [dpop.NewKey].
	NewKey func() (crypto.Signer, error)
}

// tokenNonces are the DPoP nonces token endpoints handed out, per origin,
// for every Refresher of the process: the nonce is the server's, as are
// the detected auth styles.
var tokenNonces dpop.Nonces

// newKey returns a new key for a grant.
func (r *Refresher) newKey() (crypto.Signer, error) {
	gen := dpop.NewKey
	if r.DPoP != nil && r.DPoP.NewKey != nil {
		gen = r.DPoP.NewKey
	}
	k, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generic: making a DPoP key: %w", err)
	}
	if k == nil {
		return nil, errors.New("generic: DPoP.NewKey returned a nil key")
	}
	return k, nil
}

// grantKey returns the DPoP key tok's grant signs its proofs with: the one
// the token carries, or else a new one when DPoP is on, or nil. A token
// with a key is refreshed with DPoP whatever r.DPoP says: its refresh
// token may be bound to the key (RFC 9449 §5, for public clients).
func (r *Refresher) grantKey(tok *oauth2.Token) (crypto.Signer, error) {
	k, err := dpop.KeyOf(tok)
	if err != nil {
		return nil, fmt.Errorf("generic: %w", err)
	}
	if k == nil && r.DPoP != nil {
		return r.newKey()
	}
	return k, nil
}

// bind returns tok carrying key, when there is one.
func bind(tok *oauth2.Token, key crypto.Signer) (*oauth2.Token, error) {
	if key == nil {
		return tok, nil
	}
	bound, err := dpop.Bind(tok, key)
	if err != nil {
		return nil, fmt.Errorf("generic: keeping the DPoP key with the token: %w", err)
	}
	return bound, nil
}

// nonceAsked reports whether err is a token endpoint's use_dpop_nonce
// answer (RFC 9449 §8) that came with a nonce to use.
func nonceAsked(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "use_dpop_nonce" &&
		re.Response != nil && re.Response.Header.Get(dpop.NonceHeader) != ""
}

// ExchangeBound is [Refresher.Exchange] for a DPoP-bound grant: the
// request carries a proof signed with key, the endpoint binds the first
// token to it, and the token carries key (see [dpop.Bind]) so that the
// store keeps it with the grant. Pass the key whose thumbprint the
// authorization request carried as dpop_jkt (RFC 9449 §10), if it did;
// nil makes a new key, by DPoP.NewKey when set.
func (r *Refresher) ExchangeBound(ctx context.Context, code, redirectURL, verifier string, key crypto.Signer) (*oauth2.Token, error) {
	if key == nil {
		var err error
		if key, err = r.newKey(); err != nil {
			return nil, err
		}
	}
	return r.exchange(ctx, code, redirectURL, verifier, key)
}
