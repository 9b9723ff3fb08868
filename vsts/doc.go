// Package vsts refreshes Azure DevOps (formerly Visual Studio Team
// Services) OAuth tokens.
//
// Azure DevOps OAuth is not RFC 6749 as written: the authorization code
// and the refresh token travel as a JWT bearer "assertion", the app's
// client secret as a "client_assertion", and every token request repeats
// the registered callback URL. Errors come back with PascalCase members
// (Error, ErrorDescription).
//
// A [Refresher] does the refresh, gets the first token with
// [Refresher.Exchange], and builds the authorization URL with
// [Refresher.AuthCodeURL]. Given to an [oauthrt.Transport], it also asks
// Azure DevOps to answer a rejected token with a 401 instead of a sign-in
// page ([Refresher.PrepareRequest]), and recognizes the 203 sign-in page
// that Azure DevOps answers otherwise ([Refresher.TokenRejected]).
//
// Azure DevOps OAuth is being retired: it has taken no new app
// registrations since April 2025, and Microsoft has scheduled its removal
// for 2026. Its successor is Microsoft Entra ID, whose tokens Azure
// DevOps accepts too: package entra refreshes them, and its documentation
// describes the migration.
package vsts
