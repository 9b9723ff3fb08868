package generic

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Revoke revokes tok at RevocationURL, the provider's RFC 7009
// revocation endpoint: first its refresh token (token_type_hint
// refresh_token), which ends the grant, then its access token
// (token_type_hint access_token). Each request authenticates the client
// as Refresh does, by AuthMethod or AuthStyle, with what AutoDetect found
// at the token endpoint; under AutoDetect with nothing found yet, it
// tries Basic and then the form once, as Refresh does, but does not
// remember the answer. A private_key_jwt assertion's audience is
// RevocationURL (unless PrivateKeyJWT.Audience says otherwise).
//
// Any 2xx answer without an error code means revoked, whatever its body:
// RFC 7009 §2.2 has the endpoint answer 200 for a token it does not
// know, too. An answer that says the token is dead already
// (invalid_grant, invalid_token, or one of Dialect's DeadCodes) is not an
// error either, nor is unsupported_token_type for the access token (a
// provider that revokes only refresh tokens). A failed revocation of the
// refresh token stops there, before the access token.
//
// Without a RevocationURL, Revoke fails with an error wrapping
// [oauthrt.ErrRevokeUnsupported], and sends nothing. A nil tok, or one
// with neither token, is an error, sent nowhere. Error answers wrap an
// [*oauth2.RetrieveError] and never [oauthrt.ErrReauthRequired]; a
// failure that may pass (a 429 or 5xx answer, a network error) wraps an
// [*oauthrt.TransientError], as Refresh's do. RevocationURL follows
// TokenURL's rules: https unless AllowInsecureHTTP or a loopback host,
// and never a redirect.
func (r *Refresher) Revoke(ctx context.Context, tok *oauth2.Token) error {
	if r.RevocationURL == "" {
		return fmt.Errorf("generic: revoke: Refresher.RevocationURL is empty: %w", oauthrt.ErrRevokeUnsupported)
	}
	if err := r.checkClient(); err != nil {
		return err
	}
	if tok == nil || (tok.RefreshToken == "" && tok.AccessToken == "") {
		return errors.New("generic: revoke: no token to revoke")
	}
	secrets := []string{tok.RefreshToken, tok.AccessToken, r.ClientSecret}
	if tok.RefreshToken != "" {
		form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
		if _, err := r.request(ctx, call{url: r.RevocationURL, form: form, secrets: secrets, revoke: true}); err != nil {
			return fmt.Errorf("generic: revoke: the refresh token: %w", err)
		}
	}
	if tok.AccessToken != "" {
		form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
		_, err := r.request(ctx, call{url: r.RevocationURL, form: form, secrets: secrets, revoke: true})
		var re *oauth2.RetrieveError
		if err != nil && !(errors.As(err, &re) && re.ErrorCode == "unsupported_token_type") {
			return fmt.Errorf("generic: revoke: the access token: %w", err)
		}
	}
	return nil
}
