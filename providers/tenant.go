package providers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/internal/describe"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// A tenantRefresher serves a provider with a token endpoint per customer
// whose placeholders Config.Vars left unfilled: it refreshes and revokes
// each token at the endpoints its recorded token URL names. It holds
// nothing that changes, and is safe for concurrent use.
type tenantRefresher struct {
	id         string
	base       generic.Refresher // everything but TokenURL and RevocationURL
	token      urlTemplate       // the token URL, Config.Vars filled in
	revocation revocationSpec
	vars       map[string]string // Config.Vars
}

var (
	_ oauthrt.Refresher      = (*tenantRefresher)(nil)
	_ oauthrt.RotationGracer = (*tenantRefresher)(nil)
	_ oauthrt.Revoker        = (*tenantRefresher)(nil)
)

// at returns the generic Refresher for tok's token endpoint, or why there
// is none. Nothing is sent.
func (t *tenantRefresher) at(tok *oauth2.Token) (*generic.Refresher, error) {
	u := generic.TokenURLOf(tok)
	if u == "" {
		return nil, fmt.Errorf("providers: %s: the token records no token URL (extra member %s), and its token endpoint %s depends on Vars %v that Config.Vars does not set: save tokens from generic.Refresher.Exchange, or stamp them with generic.WithTokenURL",
			t.id, generic.TokenURLMember, t.token, quoted(t.token.names()))
	}
	vars, ok := t.token.match(u)
	if !ok {
		return nil, fmt.Errorf("providers: %s: the token's recorded token URL %q is not the provider's %s with host names or labels in its placeholders; refusing to send credentials there",
			t.id, endpoint.RedactedURL(u), t.token)
	}
	g := t.base
	g.TokenURL = u
	var err error
	if g.RevocationURL, err = t.revocation.urlFrom(union(t.vars, vars)); err != nil {
		return nil, err
	}
	return &g, nil
}

// Refresh refreshes tok at the token endpoint recorded in it, as
// generic.Refresher's Refresh does; see Provider.Refresher. A token
// without a refresh token fails as generic's, with an error wrapping
// oauthrt.ErrReauthRequired, before its URL is looked at.
func (t *tenantRefresher) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	if tok == nil || tok.RefreshToken == "" {
		return nil, fmt.Errorf("providers: %s: no refresh token: %w", t.id, oauthrt.ErrReauthRequired)
	}
	g, err := t.at(tok)
	if err != nil {
		return nil, err
	}
	return g.Refresh(ctx, tok)
}

// Revoke revokes tok at the revocation endpoint of the customer whose
// token URL tok records, as generic.Refresher's Revoke does. A provider
// without a revocation endpoint gives an error wrapping
// oauthrt.ErrRevokeUnsupported, whatever tok.
func (t *tenantRefresher) Revoke(ctx context.Context, tok *oauth2.Token) error {
	if t.revocation.none {
		return fmt.Errorf("providers: %s has no revocation endpoint: %w", t.id, oauthrt.ErrRevokeUnsupported)
	}
	g, err := t.at(tok)
	if err != nil {
		return err
	}
	return g.Revoke(ctx, tok)
}

// RotationGrace is the generic Refresher's, from the catalog.
func (t *tenantRefresher) RotationGrace() time.Duration { return t.base.RotationGrace() }

// String describes t without its secret.
func (t tenantRefresher) String() string {
	return fmt.Sprintf("providers.Refresher{Provider: %q, TokenURL: %q, Refresher: %s}", t.id, t.token.String(), t.base.String())
}

// GoString is String, so that %#v does not print the secret either.
func (t tenantRefresher) GoString() string { return t.String() }

// Format writes String for every verb.
func (t tenantRefresher) Format(f fmt.State, verb rune) { describe.Format(f, verb, t.String()) }

// LogValue is String, for slog.
func (t tenantRefresher) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalJSON writes String as a JSON string.
func (t tenantRefresher) MarshalJSON() ([]byte, error) { return describe.JSON(t.String()) }
