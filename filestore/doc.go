// Package filestore is an [oauthrt.TokenStore] that keeps tokens in one
// JSON file: the embedded default for command-line tools and for
// services that run on a single host.
//
//	store := &filestore.Store{Path: filepath.Join(dir, "tokens.json")}
//	client := &http.Client{Transport: &oauthrt.Transport{Store: store, Refresher: refresher}}
//
// # Guarantees
//
// Every write replaces the file atomically: the new contents go to a
// temporary file in the same directory, which is synced and renamed over
// the old one, so a crash leaves the old file or the new one, never half
// of either. The file is created with mode 0600 and its directory, when
// missing, with 0700.
//
// Processes on one host coordinate through flock(2) on a companion file,
// Path + ".lock": every read-modify-write of the token file holds it, so
// two processes saving different keys never lose each other's writes.
// Store also implements [oauthrt.Locker]: the refresh lease of a key is a
// record in the file, taken and released under the same flock. It lapses
// after LeaseTTL, or as soon as the process that holds it has exited, so
// a command killed in the middle of a refresh does not hold up the next
// one.
//
// A file that is not what this package writes is an error wrapping
// [oauthrt.ErrCorruptToken], for Load and Save alike: it is never
// replaced, so nothing stored in it is silently lost.
//
// # File layout
//
//	{
//	  "version": 1,
//	  "tokens": {
//	    "<key>": {"access_token": "…", "refresh_token": "…", "expiry": "…", …},
//	    "<key, with an AEAD>": "<base64 of the sealed token>"
//	  },
//	  "leases": {
//	    "<key>": {"holder": "<random hex>", "pid": 1234, "until": "<RFC 3339 time>"}
//	  }
//	}
//
// A token is the JSON record every store of this module writes; with an
// AEAD it is sealed (AES-GCM, say) and kept as a base64 string, so the
// file holds no token in the clear.
//
// Cross-process locking is implemented with flock on Unix systems and
// LockFileEx on Windows; on other systems Save and Lock return an error.
package filestore
