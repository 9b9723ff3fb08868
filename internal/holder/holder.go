// Package holder names the takers of leases, so that an operator who
// finds a lease held can tell which process holds it.
package holder

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"sync"
)

// maxHost is how many bytes of the host name a holder id keeps: with a
// process ID of at most 19 digits and the random part, an id is at most
// 61 bytes, which the stores' VARCHAR(64) holder columns hold.
const maxHost = 24

// New returns a holder id for one taking of a lease: the host name and
// process ID of this process, then 16 random hex digits unique to the
// taking, separated by '/', such as "worker-7/4121/9f3c5e0a1b2d4c6e".
// Only the taker that wrote an id may release its lease; two ids are the
// same taking only when they are equal.
func New() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("oauthrt: crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	return process() + hex.EncodeToString(b[:])
}

// process is "<host>/<pid>/", computed once.
var process = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	return sanitize(host) + "/" + strconv.Itoa(os.Getpid()) + "/"
})

// sanitize returns the host name h as a holder id spells it: each byte
// outside [A-Za-z0-9.-] replaced by '-', cut to 24 bytes; "unknown" when
// h is "".
func sanitize(h string) string {
	if h == "" {
		return "unknown"
	}
	b := []byte(h[:min(len(h), maxHost)])
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}
