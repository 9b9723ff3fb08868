// Package gogithub shows oauthrt with go-github, GitHub's Go SDK, at its
// newest major version, v93.
//
// GitHub Apps can give their user access tokens an expiry: such a token
// lasts eight hours and comes with a refresh token that lasts six months
// and is rotated on every use. Hand the SDK a client whose transport is an
// [oauthrt.Transport] and the tokens are refreshed, and the rotated
// refresh token saved, without the code calling GitHub knowing:
//
//	tr := &oauthrt.Transport{
//		Store: store, // filestore, sqlstore or redisstore to keep the refresh token
//		Key:   "user-42",
//		Refresher: &generic.Refresher{
//			TokenURL:     "https://github.com/login/oauth/access_token",
//			ClientID:     appClientID,
//			ClientSecret: appClientSecret,
//			AuthStyle:    oauth2.AuthStyleInParams, // as GitHub documents it
//		},
//	}
//	client, err := gogithub.NewClient(tr)
//
// GitHub's token endpoint reports a dead refresh token as
// bad_refresh_token, with status 200; the generic Refresher reads it as
// it reads invalid_grant, and the SDK call fails with an error wrapping
// [oauthrt.ErrReauthRequired].
//
// Do not add github.WithAuthToken as well: its token would be replaced by
// the Transport's on every request anyway.
package gogithub

import (
	"slices"

	"github.com/google/go-github/v93/github"
	"github.com/oauthrt/oauthrt"
)

// NewClient returns a go-github client whose requests are authorized by
// tr, configured further by opts: github.WithEnterpriseURLs for GitHub
// Enterprise Server, github.WithTimeout, or github.WithHTTPClient for a
// client of your own, whose Transport is replaced by tr.
//
// The Transport authorizes every request sent through it, whatever its
// host, except one that a redirect took to another host. go-github builds
// its URLs from its base URL, but the http.Client given to
// DownloadReleaseAsset fetches the asset from a storage host: give it
// one without tr, such as http.DefaultClient.
func NewClient(tr *oauthrt.Transport, opts ...github.ClientOptionsFunc) (*github.Client, error) {
	return github.NewClient(append(slices.Clip(opts), github.WithTransport(tr))...)
}
