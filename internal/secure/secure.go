// Package secure decides which URLs may carry credentials: HTTPS ones,
// and plain HTTP ones only to a loopback host, as azcore's
// checkHTTPSForAuth does for Azure's SDKs.
package secure

import (
	"net/netip"
	"net/url"
	"strings"
)

// Allowed reports whether a request to u may carry a token or a client
// credential: its scheme is https, or http with a loopback host.
func Allowed(u *url.URL) bool {
	if u == nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return true
	case "http":
		return Loopback(u.Hostname())
	}
	return false
}

// Loopback reports whether host is "localhost" or a loopback address
// (127.0.0.0/8, ::1, or an IPv4-mapped form of them). Other names are not
// resolved: what a name resolves to can change, and a resolver can lie.
func Loopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// Host returns the host of u for an error message: never its user
// information, path or query, which can hold secrets.
func Host(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Host
}
