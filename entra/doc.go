// Package entra refreshes Microsoft Entra ID tokens (the v2.0 endpoint
// at login.microsoftonline.com), by default tokens for Azure DevOps.
//
// Microsoft Entra ID, formerly Azure Active Directory, is Microsoft's
// identity service, and the way Microsoft now wants apps to act for Azure
// DevOps users: an app registered in Entra asks for the scope
// [AzureDevOpsScope] and gets Entra access tokens, which Azure DevOps'
// REST APIs take as Bearer tokens. They last about an hour. Each refresh
// also hands out a new refresh token, which the [Refresher] returns and
// an [oauthrt.Transport] saves.
//
//	client := &http.Client{Transport: &oauthrt.Transport{
//		Store: store,
//		Refresher: &entra.Refresher{
//			Tenant:       tenantID,
//			ClientID:     clientID,
//			ClientSecret: clientSecret,
//		},
//	}}
//
// For requests to dev.azure.com and *.visualstudio.com the Refresher also
// asks Azure DevOps for a 401, not a sign-in page, when it rejects a
// token, and recognizes that page (a 203) if it comes all the same, as
// the vsts package does. Requests to other hosts, such as Microsoft Graph
// with other Scopes, are left as they are.
//
// # Migrating from package vsts
//
// Azure DevOps OAuth, the flow of package vsts, is being retired: it took
// no new app registrations from April 2025, and Microsoft has scheduled
// its removal for 2026. The sources this package was written from give no
// exact day; check Microsoft's announcement for it. Until then existing
// vsts grants keep working.
//
// A vsts grant cannot be turned into an Entra one: each user (or
// organization, for a service acting for one) must authorize the new
// Entra app once, through Entra's authorization code flow, as they once
// did through vsts.Refresher's AuthCodeURL and Exchange. The Refresher
// has both, and authenticates the exchange with a secret or a
// certificate alike:
//
//	verifier := oauth2.GenerateVerifier()
//	http.Redirect(w, req, r.AuthCodeURL(state, callbackURL, oauth2.S256ChallengeOption(verifier)), http.StatusFound)
//	// … then, in the handler of callbackURL, after checking state:
//	tok, err := r.Exchange(ctx, req.FormValue("code"), callbackURL, verifier)
//	...
//	err = store.Save(ctx, "entra:"+org, tok)
//
// During the migration, run two Transports over the same store: one
// with the vsts Refresher for the old grants, one with this package's
// for the new, under distinct keys such as "vsts:"+org and "entra:"+org.
// Send each organization's requests through the Entra one once its key
// holds a token (Load no longer reports oauthrt.ErrNoToken), and through
// the vsts one until then. Nothing else changes: the API URLs are the
// same, and so are the Transport's rules on expiry, on a 401 and on a
// dead grant.
//
// # Errors
//
// Entra answers errors with an OAuth error code and a description that
// starts with an AADSTS code. Refresh returns an error wrapping
// [oauthrt.ErrReauthRequired], after which the Transport never presents
// that refresh token again, when only a person can go on:
//
//   - invalid_grant: the refresh token expired (AADSTS700082, unused for
//     too long), was revoked, or the user's password changed;
//   - interaction_required: multifactor authentication or a Conditional
//     Access policy wants the user to sign in (AADSTS50076, AADSTS50079);
//   - consent_required: the app lacks a consent it needs;
//   - login_required: the user must sign in again.
//
// An error that blames the app, invalid_client (a wrong or expired client
// secret, AADSTS7000215 and AADSTS7000222, a certificate Entra does not
// know) or unauthorized_client, is not a dead grant, although Entra sends
// invalid_client with status 401: once the app's credential is fixed the
// old refresh tokens work again. temporarily_unavailable, like a 429 or
// 5xx answer and a network failure, comes back at once as an
// [*oauthrt.TransientError] carrying Entra's Retry-After: the Transport
// backs the key off and tries again later with the same refresh token,
// which stays usable (see [Refresher.RotationGraceWindow]). Anything else
// is returned as it is, with the [*oauth2.RetrieveError] reachable through
// errors.As.
//
// # Continuous Access Evaluation
//
// An app that sets ClientCapabilities to []string{"cp1"} tells Entra
// that it handles claims challenges. Entra then issues CAE tokens, which
// live up to 28 hours, to APIs that support CAE (Microsoft Graph, among
// others), and those APIs revoke them early, after a critical event such
// as a user disabled or a password changed, with a 401 claims challenge.
// The Transport answers it with one refresh that carries the challenge's
// claims (with cp1 merged in, as every token request of this Refresher
// carries it), then sends the request once more. A refresh that Entra
// refuses, because only the user can satisfy the claims (a Conditional
// Access policy asking to sign in), fails as every refresh answered
// interaction_required does: with an error wrapping
// [oauthrt.ErrReauthRequired] (see "Errors" below).
//
// # Certificates or secrets
//
// A client secret is a password shared with Entra; the Entra admin center
// gives secrets an expiry of at most two years, after which every refresh
// fails with invalid_client until a new secret is deployed. A certificate
// credential never leaves the app: Entra holds only the certificate, and
// the private key signs a short-lived assertion for each request, so
// nothing that could be replayed for long crosses the wire. Microsoft
// recommends certificates for apps in production. Set PrivateKey and
// Certificate (see [ParseCertificate]) instead of ClientSecret; the key may
// be any [crypto.Signer], one held in a key vault or an HSM included.
package entra
