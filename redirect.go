package oauthrt

import (
	"net/http"
	"net/url"
	"strings"
)

// maxHops bounds the walk along a redirect chain; net/http stops at 10.
const maxHops = 64

// credentialsAllowed reports whether req may carry the token. A request
// the client made itself may; one created by following a redirect may
// only if every hop stayed on the first request's host or a subdomain of
// it. That is net/http's own rule for the Authorization header
// (shouldCopyHeaderOnRedirect), which golang.org/x/oauth2's Transport does
// not apply to the token it adds.
func credentialsAllowed(req *http.Request) bool {
	if req.Response == nil {
		return true
	}
	var chain []*url.URL
	for r := req; ; r = r.Response.Request {
		if r.URL == nil || len(chain) == maxHops {
			return false
		}
		chain = append(chain, r.URL)
		if r.Response == nil {
			break
		}
		if r.Response.Request == nil {
			return false // the first request is unknown
		}
	}
	first := chain[len(chain)-1]
	parent := canonicalHost(first)
	for _, u := range chain[:len(chain)-1] {
		if u.Host != first.Host && !isDomainOrSubdomain(canonicalHost(u), parent) {
			return false
		}
	}
	return true
}

func canonicalHost(u *url.URL) string {
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
}

// isDomainOrSubdomain reports whether sub is parent or a subdomain of it.
func isDomainOrSubdomain(sub, parent string) bool {
	if sub == parent {
		return true
	}
	// An IPv6 address (or one with a zone) is never a subdomain.
	if strings.ContainsAny(sub, ":%") {
		return false
	}
	return strings.HasSuffix(sub, "."+parent)
}
