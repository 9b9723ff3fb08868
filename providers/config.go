package providers

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/internal/describe"
	"github.com/oauthrt/oauthrt/internal/endpoint"
)

// Config is what an application brings to a provider of the catalog: its
// client's credentials, and the values of the provider's URL
// placeholders. [Provider.Refresher] builds a Refresher from it.
//
// Printed with any verb of fmt, logged with slog or encoded as JSON, a
// Config, value or pointer, shows its String and never its secret.
type Config struct {
	// ClientID and ClientSecret identify the client (for Azure DevOps,
	// the app ID and the client secret). An empty ClientSecret with a nil
	// PrivateKeyJWT makes a public client, which sends its ClientID and no
	// credential.
	ClientID, ClientSecret string
	// PrivateKeyJWT, when not nil, authenticates the client with a JWT
	// signed by its key (private_key_jwt) instead of a secret, whatever
	// the catalog says of the provider's usual method; for Microsoft
	// Entra ID, its Key and Certificate are the certificate credential.
	// nil: the client uses ClientSecret.
	PrivateKeyJWT *generic.PrivateKeyJWT
	// RedirectURL is the client's registered redirect URL. Only Azure
	// DevOps needs it to refresh; "" sends none.
	RedirectURL string
	// Scopes, when not empty, are sent as the scope of each refresh: a
	// narrower token for most providers, and the token's audience for
	// Microsoft Entra ID (nil: its package's default, Azure DevOps). Nil
	// sends none, and the new token has the scope granted at first.
	Scopes []string
	// Vars fill the placeholders of the provider's URLs, such as
	// {"tenant": "contoso.onmicrosoft.com"} or {"domain":
	// "acme.okta.com"}: host names or labels of them. A placeholder of
	// the token URL that Vars leaves unfilled is read, at each refresh,
	// from the URL recorded in the token (see [Provider.Refresher]). Nil
	// fills none.
	Vars map[string]string
	// TokenURL, when not empty, replaces the catalog's token endpoint,
	// placeholders and all: for tests, proxies, and sovereign clouds.
	TokenURL string
	// RevocationURL, when not empty, replaces the catalog's revocation
	// endpoint, for a provider that has one; a provider without one
	// stays without. "" means the catalog's.
	RevocationURL string
	// HTTPClient sends the token and revocation requests. Nil means the
	// module's default client; see generic.Refresher's HTTPClient for
	// what a client of your own must do about redirects and retries.
	HTTPClient *http.Client
	// AllowInsecureHTTP lets the endpoints be plain http:// to a host
	// that is not a loopback address. false: such a URL fails before
	// anything is sent; http:// to a loopback address is always allowed.
	AllowInsecureHTTP bool
}

// String describes c without its secret or key.
func (c Config) String() string {
	key := "nil"
	if c.PrivateKeyJWT != nil {
		key = c.PrivateKeyJWT.String()
	}
	vars := make([]string, 0, len(c.Vars))
	for _, k := range slices.Sorted(maps.Keys(c.Vars)) {
		vars = append(vars, fmt.Sprintf("%q: %q", k, c.Vars[k]))
	}
	return fmt.Sprintf("providers.Config{ClientID: %q, ClientSecret: %s, PrivateKeyJWT: %s, RedirectURL: %q, Scopes: %q, Vars: {%s}, TokenURL: %q, RevocationURL: %q, AllowInsecureHTTP: %t}",
		c.ClientID, endpoint.Masked(c.ClientSecret), key, endpoint.RedactedURL(c.RedirectURL), c.Scopes, strings.Join(vars, ", "),
		endpoint.RedactedURL(c.TokenURL), endpoint.RedactedURL(c.RevocationURL), c.AllowInsecureHTTP)
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// Format writes String for every verb, so that none (%x, %d…) walks the
// fields.
func (c Config) Format(f fmt.State, verb rune) { describe.Format(f, verb, c.String()) }

// LogValue is String, for slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON writes String as a JSON string, for encoding/json and
// slog's JSONHandler, which would otherwise write the secret.
func (c Config) MarshalJSON() ([]byte, error) { return describe.JSON(c.String()) }
