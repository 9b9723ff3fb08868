package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/providers"
	"github.com/spf13/pflag"
)

const clientHelp = `
The provider's client is given by flags: --provider ID for a provider of
the catalog (its endpoints, client authentication and error dialect; fill
its URL placeholders with --var, such as --var tenant=contoso or --var
domain=acme.okta.com), or --token-url URL for any RFC 6749 token endpoint
(with --revocation-url for its RFC 7009 revocation endpoint). --token-url
and --revocation-url also replace a catalog provider's endpoints.

The client secret is never a flag's value, which other users could read in
the process list: give --client-secret-env NAME to read it from environment
variable NAME, or --client-secret-file PATH to read it from a file (its
trailing newline dropped). Without either, the client is a public one.
`

// clientFlags are the flags that build the provider's client, for refresh
// and revoke.
type clientFlags struct {
	provider      string
	tokenURL      string
	revocationURL string
	clientID      string
	secretEnv     string
	secretFile    string
	vars          map[string]string
}

// add adds the flags to fs.
func (f *clientFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.provider, "provider", "", "the provider `ID` in the catalog")
	fs.StringVar(&f.tokenURL, "token-url", "", "the token endpoint `URL` (without --provider: a generic RFC 6749 client)")
	fs.StringVar(&f.revocationURL, "revocation-url", "", "the RFC 7009 revocation endpoint `URL`")
	fs.StringVar(&f.clientID, "client-id", "", "the client `ID`")
	fs.StringVar(&f.secretEnv, "client-secret-env", "", "read the client secret from environment variable `NAME`")
	fs.StringVar(&f.secretFile, "client-secret-file", "", "read the client secret from the file at `PATH`")
	fs.StringToStringVar(&f.vars, "var", nil, "fill the provider's URL placeholder `k=v` (repeatable)")
}

// secret returns the client secret the flags point at; "" when none.
func (f *clientFlags) secret() (string, error) {
	switch {
	case f.secretEnv != "" && f.secretFile != "":
		return "", usagef("give --client-secret-env or --client-secret-file, not both")
	case f.secretEnv != "":
		v, ok := os.LookupEnv(f.secretEnv)
		if !ok || v == "" {
			return "", usagef("--client-secret-env: environment variable %s is not set", f.secretEnv)
		}
		return v, nil
	case f.secretFile != "":
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return "", fmt.Errorf("reading the client secret: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("reading the client secret: %s is empty", f.secretFile)
		}
		return v, nil
	}
	return "", nil
}

// refresher returns the Refresher the flags describe.
func (f *clientFlags) refresher() (oauthrt.Refresher, error) {
	for _, u := range []struct{ flag, url string }{{"token-url", f.tokenURL}, {"revocation-url", f.revocationURL}} {
		if err := checkEndpoint(u.flag, u.url); err != nil {
			return nil, err
		}
	}
	secret, err := f.secret()
	if err != nil {
		return nil, err
	}
	if f.provider == "" {
		if f.tokenURL == "" {
			return nil, usagef("name the provider: --provider ID (see the providers package) or --token-url URL")
		}
		if len(f.vars) > 0 {
			return nil, usagef("--var fills a catalog provider's URLs: give --provider too")
		}
		return &generic.Refresher{
			TokenURL:      f.tokenURL,
			ClientID:      f.clientID,
			ClientSecret:  secret,
			RevocationURL: f.revocationURL,
		}, nil
	}
	p, err := lookupProvider(f.provider)
	if err != nil {
		return nil, err
	}
	r, err := p.Refresher(providers.Config{
		ClientID:      f.clientID,
		ClientSecret:  secret,
		Vars:          f.vars,
		TokenURL:      f.tokenURL,
		RevocationURL: f.revocationURL,
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("--provider %s: %w", f.provider, err)}
	}
	return r, nil
}

// checkEndpoint checks that the URL of flag names an endpoint: http or
// https, with a host. "" is no endpoint, and passes.
func checkEndpoint(flag, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return usagef("--%s: give an http:// or https:// URL with a host", flag)
	}
	return nil
}
