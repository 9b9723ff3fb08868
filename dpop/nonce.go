package dpop

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// NonceHeader is the header in which a server hands out the nonce that
// its next proofs must carry (RFC 9449 §8 and §9).
const NonceHeader = "DPoP-Nonce"

// maxOrigins bounds the origins a Nonces remembers: past it, the oldest
// nonces are dropped all at once, and a server whose nonce was dropped
// asks for it again with one use_dpop_nonce answer.
const maxOrigins = 4096

// Nonces keeps the newest DPoP-Nonce that each origin (scheme, host and
// port) handed out, for the next proof sent there. The zero value is
// ready to use; it is safe for concurrent use.
type Nonces struct {
	m sync.Map // origin → string
	n atomic.Int64
}

// Get returns the newest nonce u's origin handed out, or "".
func (ns *Nonces) Get(u *url.URL) string {
	if u == nil {
		return ""
	}
	v, _ := ns.m.Load(origin(u))
	s, _ := v.(string)
	return s
}

// Update records the nonce in h's DPoP-Nonce header, when it has one, as
// u's origin's newest; a server may send one with any answer. It
// reports whether the nonce differs from the one recorded before.
func (ns *Nonces) Update(u *url.URL, h http.Header) bool {
	if u == nil {
		return false
	}
	nonce := h.Get(NonceHeader)
	if nonce == "" || !validNonce(nonce) {
		return false
	}
	key := origin(u)
	old, loaded := ns.m.Swap(key, nonce)
	if !loaded && ns.n.Add(1) > maxOrigins {
		ns.m.Clear()
		ns.n.Store(1)
		ns.m.Store(key, nonce)
	}
	return old != nonce
}

// validNonce reports whether s is a nonce as RFC 9449 §8.1 allows: one or
// more of the characters %x21 / %x23-5B / %x5D-7E (printable ASCII but
// '"' and '\').
func validNonce(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// origin returns u's scheme and host, in lower case, without the
// scheme's default port.
func origin(u *url.URL) string {
	h := HTU(&url.URL{Scheme: u.Scheme, Host: u.Host})
	return strings.TrimSuffix(h, "/")
}
