package providers

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/entra"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

// Refresher returns a Refresher for p's grants, set up from the catalog's
// facts and the application's c, ready for an [oauthrt.Transport].
//
// Azure DevOps ("azuredevops") gets a [*vsts.Refresher], which needs
// c.ClientSecret and c.RedirectURL; Microsoft Entra ID ("entra") an
// [*entra.Refresher] for the tenant c.Vars["tenant"], with c.Scopes and a
// client secret or, with c.PrivateKeyJWT, a certificate. Every other
// provider gets a [*generic.Refresher] with:
//
//   - TokenURL: c.TokenURL, or the catalog's with c.Vars filled in;
//   - AuthMethod: private_key_jwt when c.PrivateKeyJWT is set, none
//     (a public client) when c.ClientSecret is empty too, else the
//     catalog's method when it is known, else detected at the first
//     refresh;
//   - Dialect, KeepFields and DefaultLifetime (from ExpiresIn.Assume):
//     the catalog's, when known;
//   - RevocationURL: when the catalog knows a revocation endpoint,
//     c.RevocationURL or the catalog's filled in; else none, and Revoke
//     fails with oauthrt.ErrRevokeUnsupported;
//   - RotationGraceWindow: the catalog's ReuseGrace when known (a known
//     zero means none: a lost answer is not retried), else the default;
//   - ClientID, ClientSecret, PrivateKeyJWT, Scopes, HTTPClient and
//     AllowInsecureHTTP from c.
//
// # One token endpoint per customer
//
// When the token URL has placeholders that c.Vars does not fill (and
// c.TokenURL is ""), one Refresher serves every customer: it refreshes
// each token at the token URL recorded in it (see [generic.TokenURLOf]),
// which every token from a generic Refresher carries, and the stores
// keep. The recorded URL must be the catalog's with each placeholder
// filled by a host name or a label of one (letters, digits, '-' and '.';
// no '/', ':', '@', '?', '#' or '%'), and its revocation URL is the
// catalog's filled with the same values. A token that records no URL,
// or one that does not match, fails with an error, and nothing is sent.
// This is what lets a process restarted with nothing but the store
// refresh each customer's token; a token the authorization flow got
// through golang.org/x/oauth2 must be stamped with
// [generic.WithTokenURL] before it is saved. The returned Refresher is
// an [oauthrt.RotationGracer] and an [oauthrt.Revoker], as a
// generic.Refresher is, and prints no secret.
//
// An error means c cannot serve p: a required field is missing, or a
// value of c.Vars is not a host name or a label of one.
func (p *Provider) Refresher(c Config) (oauthrt.Refresher, error) {
	switch p.ID {
	case "azuredevops":
		return p.vsts(c)
	case "entra":
		return p.entra(c)
	}
	method, err := p.authMethod(c)
	if err != nil {
		return nil, err
	}
	g := generic.Refresher{
		ClientID:            c.ClientID,
		ClientSecret:        c.ClientSecret,
		AuthMethod:          method,
		PrivateKeyJWT:       c.PrivateKeyJWT,
		Scopes:              slices.Clone(c.Scopes),
		HTTPClient:          c.HTTPClient,
		RotationGraceWindow: p.rotationGrace(),
		AllowInsecureHTTP:   c.AllowInsecureHTTP,
	}
	if p.DeadGrant.Known {
		d := p.DeadGrant.Value
		g.Dialect = generic.Dialect{DeadCodes: slices.Clone(d.DeadCodes), CodeMembers: slices.Clone(d.CodeMembers), ClientCodes: slices.Clone(d.ClientCodes)}
	}
	if p.KeepFields.Known {
		g.KeepFields = slices.Clone(p.KeepFields.Value)
	}
	if p.ExpiresIn.Known {
		g.DefaultLifetime = p.ExpiresIn.Value.Assume
	}

	revocation, err := p.revocation(c)
	if err != nil {
		return nil, err
	}
	if c.TokenURL != "" {
		g.TokenURL = c.TokenURL
		if g.RevocationURL, err = revocation.urlFrom(c.Vars); err != nil {
			return nil, err
		}
		return &g, nil
	}
	token, err := parseTemplate(p.TokenURL)
	if err != nil {
		return nil, err
	}
	if token, err = token.fill(c.Vars); err != nil {
		return nil, err
	}
	if len(token.parts) == 1 {
		g.TokenURL = token.parts[0]
		if g.RevocationURL, err = revocation.urlFrom(c.Vars); err != nil {
			return nil, err
		}
		return &g, nil
	}
	if err := revocation.coveredBy(token, c.Vars); err != nil {
		return nil, err
	}
	return &tenantRefresher{id: p.ID, base: g, token: token, revocation: revocation, vars: c.Vars}, nil
}

// revocationSpec is where a Refresher revokes: nowhere, a fixed URL, or a
// template to fill.
type revocationSpec struct {
	none bool
	url  string       // fixed; "" when a template
	tmpl *urlTemplate // nil when fixed
}

// revocation returns p's revocation endpoint for c.
func (p *Provider) revocation(c Config) (revocationSpec, error) {
	if !p.Revocation.Known || p.Revocation.Value == "" {
		return revocationSpec{none: true}, nil
	}
	if c.RevocationURL != "" {
		return revocationSpec{url: c.RevocationURL}, nil
	}
	t, err := parseTemplate(p.Revocation.Value)
	if err != nil {
		return revocationSpec{}, err
	}
	return revocationSpec{tmpl: &t}, nil
}

// urlFrom returns the revocation URL with vars filled in; "" for none.
func (r revocationSpec) urlFrom(vars map[string]string) (string, error) {
	switch {
	case r.none:
		return "", nil
	case r.tmpl == nil:
		return r.url, nil
	}
	t, err := r.tmpl.fill(vars)
	if err != nil {
		return "", err
	}
	u, err := t.url()
	if err != nil {
		return "", fmt.Errorf("%w, or set Config.RevocationURL", err)
	}
	return u, nil
}

// coveredBy reports an error when the revocation template has a
// placeholder that neither vars nor the token template fills.
func (r revocationSpec) coveredBy(token urlTemplate, vars map[string]string) error {
	if r.tmpl == nil {
		return nil
	}
	for _, n := range r.tmpl.names() {
		if _, ok := vars[n]; !ok && !slices.Contains(token.names(), n) {
			return fmt.Errorf("providers: revocation URL %s needs Vars[%q], which the token URL does not hold; set it, or Config.RevocationURL", r.tmpl, n)
		}
	}
	return nil
}

// authMethod returns the generic Refresher's AuthMethod for c.
func (p *Provider) authMethod(c Config) (generic.AuthMethod, error) {
	var m generic.AuthMethod
	if p.AuthMethod.Known {
		m = p.AuthMethod.Value
	}
	switch {
	case c.PrivateKeyJWT != nil:
		return generic.AuthPrivateKeyJWT, nil
	case m == generic.AuthPrivateKeyJWT:
		return "", fmt.Errorf("providers: %s authenticates clients with private_key_jwt: set Config.PrivateKeyJWT", p.ID)
	case m == generic.AuthNone || c.ClientSecret == "":
		return generic.AuthNone, nil
	}
	return m, nil
}

// rotationGrace returns the RotationGraceWindow of p's Refreshers: the
// documented ReuseGrace, negative (none) for a documented zero, and zero
// (the default) when unknown.
func (p *Provider) rotationGrace() time.Duration {
	switch {
	case !p.ReuseGrace.Known:
		return 0
	case p.ReuseGrace.Value <= 0:
		return -1
	}
	return p.ReuseGrace.Value
}

// vsts builds Azure DevOps' Refresher.
func (p *Provider) vsts(c Config) (*vsts.Refresher, error) {
	if c.ClientSecret == "" || c.RedirectURL == "" {
		return nil, errors.New("providers: azuredevops needs Config.ClientSecret and Config.RedirectURL")
	}
	tokenURL := c.TokenURL
	if tokenURL == "" && p.TokenURL != "" {
		u, err := fillURL(p.TokenURL, c.Vars)
		if err != nil {
			return nil, err
		}
		tokenURL = u
	}
	return &vsts.Refresher{
		AppID:               c.ClientID,
		ClientSecret:        c.ClientSecret,
		RedirectURL:         c.RedirectURL,
		TokenURL:            tokenURL,
		AuthURL:             p.AuthURL,
		HTTPClient:          c.HTTPClient,
		RotationGraceWindow: p.rotationGrace(),
		AllowInsecureHTTP:   c.AllowInsecureHTTP,
	}, nil
}

// entra builds Microsoft Entra ID's Refresher.
func (p *Provider) entra(c Config) (*entra.Refresher, error) {
	tenant := c.Vars["tenant"]
	switch {
	case tenant == "" && c.TokenURL == "":
		return nil, errors.New(`providers: entra needs Config.Vars["tenant"]: the tenant ID or domain, "organizations" or "common"`)
	case tenant != "" && !validVar(tenant):
		return nil, fmt.Errorf("providers: Vars[%q] = %q: a tenant is an ID or a domain", "tenant", tenant)
	case c.ClientID == "":
		return nil, errors.New("providers: entra needs Config.ClientID, the app registration's Application (client) ID")
	}
	r := &entra.Refresher{
		Tenant:              tenant,
		ClientID:            c.ClientID,
		ClientSecret:        c.ClientSecret,
		Scopes:              slices.Clone(c.Scopes),
		TokenURL:            c.TokenURL,
		HTTPClient:          c.HTTPClient,
		RotationGraceWindow: p.rotationGrace(),
		AllowInsecureHTTP:   c.AllowInsecureHTTP,
	}
	if k := c.PrivateKeyJWT; k != nil {
		r.PrivateKey, r.Certificate = k.Key, k.Certificate
	}
	return r, nil
}

// Endpoint returns p's authorization and token endpoints with vars filled
// in, for the authorization flow with golang.org/x/oauth2, and the
// AuthStyle of the catalog's AuthMethod: in the header for
// client_secret_basic, in the form for client_secret_post and none, and
// detected otherwise. A placeholder that vars does not fill, or a value
// that is not a host name or a label of one, is an error. Azure DevOps'
// authorization flow is its own: use the vsts package's AuthCodeURL and
// Exchange.
func (p *Provider) Endpoint(vars map[string]string) (oauth2.Endpoint, error) {
	auth, err := fillURL(p.AuthURL, vars)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	token, err := fillURL(p.TokenURL, vars)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	e := oauth2.Endpoint{AuthURL: auth, TokenURL: token}
	if p.AuthMethod.Known {
		switch p.AuthMethod.Value {
		case generic.AuthClientSecretBasic:
			e.AuthStyle = oauth2.AuthStyleInHeader
		case generic.AuthClientSecretPost, generic.AuthNone:
			e.AuthStyle = oauth2.AuthStyleInParams
		}
	}
	return e, nil
}
