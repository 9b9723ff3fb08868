// Package providers is a catalog of OAuth2 providers: where their
// endpoints are, how clients authenticate, and what their documentation
// says of a grant's life. How long does an access token live? Does a
// refresh rotate the refresh token, and does the old one keep working for
// a while? Does a grant left unused die, and after how long? How does the
// token endpoint say that a refresh token is dead, and which members of
// the first token must be kept for the API to be called?
//
// Every such fact is a [Fact]: a value with the public page it comes from
// and the day it was read, or unknown when nobody could source it. The
// catalog acts only on known facts; the README's table, generated from
// the catalog, shows them all with their sources.
//
// # Using a provider
//
// Look the provider up, and build a Refresher from your client's
// credentials with [Provider.Refresher]: it comes set up from the
// catalog (client authentication, error dialect, members to keep, the
// lifetime to assume when answers have no expires_in, the rotation grace
// window, the revocation endpoint), ready for an [oauthrt.Transport]:
//
//	p, _ := providers.Lookup("hubspot")
//	r, err := p.Refresher(providers.Config{ClientID: id, ClientSecret: secret})
//	if err != nil { … }
//	client := &http.Client{Transport: &oauthrt.Transport{Store: store, Refresher: r}}
//
// [Provider.Endpoint] gives the authorization and token endpoints to an
// oauth2.Config for the authorization flow.
//
// # Keeping grants alive
//
// A grant whose refresh token dies when unused ([Provider.IdleLifetime])
// must be refreshed within that time even when nobody calls the API:
// [oauthrt.Transport.Refresh] does it for one key, and a sweep over the
// store's keys for all of them. A grant that dies whatever is done
// ([Provider.AbsoluteLifetime]) needs the user to authorize again before
// then.
//
// # A token endpoint per customer
//
// Some providers give each customer an endpoint of its own, such as
// https://{domain}/oauth/token. Config.Vars fills the placeholders for
// one customer. Left unfilled, they are read from each token: every token
// a Refresher of the generic package returns records the token URL that
// issued it, the stores keep it, and the Refresher refreshes each token
// there, provided the URL is the catalog's with each placeholder holding
// a host name or a label of one. So one Refresher serves every customer,
// and a process restarted with nothing but the store still knows where
// each token goes. Whoever can write to the store can choose, within the
// catalog's URL, where the client's credentials are posted: keep the
// store as safe as the tokens in it.
package providers
