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
//
// Store is an [oauthrt.Committer]: Commit compares the stored token's
// [oauthrt.Fingerprint] with that of the token the refresh started from,
// and writes, under that same lock, so that a process that lost its lease
// never writes an older token over a newer one. The stored token is
// decrypted for the comparison; the file keeps no fingerprint, which a
// Save by an earlier version of this package would leave stale.
//
// Store is an [oauthrt.GrantStateStore]: each key's grant state (a dead
// grant, a backoff) is kept in the token file beside the tokens, in the
// clear even with an AEAD (it holds fingerprints and times, no token),
// and Save and Commit delete it in the same write that stores the token.
//
// Store is an [oauthrt.KeyLister], an [oauthrt.GrantStateLister] and an
// [oauthrt.Deleter]. ListKeys and ListGrantStates read the file as Load
// does, without the lock, and page through its keys in byte order; each
// page reads the whole file, which suits the number of grants a file
// holds. Delete removes a key's token and grant state in one write under
// the lock, and leaves the epochs of its leases, which go on growing.
//
// Store also implements [oauthrt.LeaseLocker]. The refresh lease of a key
// is an exclusive OS file lock (flock(2) on Unix, LockFileEx on Windows)
// on the key's lease file, held for as long as the lease is. The kernel
// releases it when the holder's process exits, however it exits: a
// command killed in the middle of a refresh, or one that exited and that
// its parent has not reaped yet (a zombie), does not hold up the next
// one. No process id is recorded or checked, so processes in different
// PID namespaces (containers) sharing the volume on one host exclude
// each other correctly. The lock belongs to the open file, so two
// goroutines of one process exclude each other too.
//
// The TTL is kept in the lease file. The holder writes there the time at
// which its lease lapses, LeaseTTL after it took or last renewed it, and
// releases the lock itself once that time passes. A holder that is alive
// but does not run (stopped by SIGSTOP, in a paused VM, swapping) keeps
// its lock, and releases nothing: so, on Unix, a taker that finds the
// lock held and that time passed takes the lease over. Under the lock of
// Path + ".lock", it checks that the file it found lapsed is still the
// one at the path and still lapsed, removes it, creates a new lease file
// at the path, and locks that. The stopped holder's lock, on the removed
// file, then excludes no one; when it runs again, its Renew fails with
// [oauthrt.ErrLeaseLost] (it checks, under the same lock, that its lease
// has not lapsed and that its file is still the one at the path), and
// its Release removes no file but its own. A holder that renews its
// lease, as the refresh does every third of the TTL, is never taken
// over. The time is the wall clock's, which all processes on one host
// share: setting the clock forward shortens the leases held at the time.
// On Windows, which does not remove a file another process has open, a
// stopped holder holds its lease until it runs again.
//
// Leases are [oauthrt.FencedLease]s: each lease taken on a key gets the
// key's next epoch, raised under the lock of Path + ".lock" once the
// lease file is locked, and Renew also fails with [oauthrt.ErrLeaseLost]
// once a later epoch exists. A released lease's file is removed while
// still locked, under the lock of Path + ".lock" (a taker checks, once it
// holds a lock, that the file it locked is still the one at the path,
// and starts again otherwise), so lease files do not pile up; on Windows
// they are left in place.
//
// File locks are only as good as the file system's: use a local disk,
// not a network file system, for a token file shared by processes.
//
// Keys are arbitrary strings: every key, including the empty one, one
// with NUL bytes or invalid UTF-8, and a long one, is stored under
// exactly its bytes.
//
// A file that is not what this package writes is an error wrapping
// [oauthrt.ErrCorruptToken], for every method alike: it is never
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
//	  "byte_keys": {
//	    "<standard base64 of a key that is not valid UTF-8>": <its token, as in "tokens">
//	  },
//	  "grant_states": {
//	    "<key>": {"dead_token": "<fingerprint>", "dead_code": "invalid_grant",
//	              "dead_at": "…", "next_attempt": "…", "failures": 3,
//	              "failing_since": "…"}
//	  },
//	  "byte_key_grant_states": {
//	    "<standard base64 of a key that is not valid UTF-8>": <its grant state>
//	  }
//	}
//
// A token is the JSON record every store of this module writes; with an
// AEAD it is sealed (AES-GCM, say) and kept as a base64 string, so the
// file holds no token in the clear.
//
// A JSON string cannot spell a key that is not valid UTF-8 (encoding it
// would turn the invalid bytes into U+FFFD, another key), so such keys
// go to "byte_keys", spelled in base64. Keeping them apart means no
// valid key, however it reads, can collide with one. A file with
// "byte_keys" has version 2, so that an earlier version of this package,
// which would rewrite it without them, refuses it instead; a file
// without them keeps version 1.
//
// A grant state's members are left out at their zero value, and its
// times are in UTC to the nanosecond; a key without a grant state has no
// entry. "grant_states" and "byte_key_grant_states" leave the version as
// it is: an earlier version of this package reads the file as before,
// and drops them when it writes it. That loses only advisory state (one
// more call to a failing token endpoint, one more refusal of a dead
// refresh token), where raising the version would make it refuse the
// file, and the tokens in it. The version just before this one also
// takes the same lease files, so its processes and this one's exclude
// each other's refreshes, but it saves without Commit's check.
//
// A "leases" object, where older versions kept lease records, is
// ignored, and dropped on the next write. So processes of those versions
// and of this one do not exclude each other's refreshes: stop the old
// ones before starting new ones on the same file.
//
// The lease files are in the directory Path + ".leases" (mode 0700), one
// per key, named by the hex SHA-256 of the key's bytes (mode 0600): any
// key names a file of a fixed, portable name. A held lease's file holds
// one line of fixed length, rewritten in place on every renewal: the
// time at which the lease lapses, in nanoseconds since the Unix epoch,
// and the CRC-32 (IEEE, in hex) of what comes before it:
//
//	until 01767225600000000000 b1392fae
//
// A file whose contents are not such a line (a read that met a rewrite
// half done, a file damaged by hand) lapses only once it has not been
// written for the taker's LeaseTTL. An empty file never lapses: the
// previous release of this package locks empty files and keeps its TTL
// itself, so its processes and this one's still exclude each other's
// refreshes, but a stopped process of that release still holds its lease
// until it runs again. The epoch of the last lease taken on each key is
// in the file Path + ".epochs" (mode 0600), under the name of the key's
// lease file, written as the token file is, under the lock of
// Path + ".lock":
//
//	{"version": 1, "epochs": {"<hex SHA-256 of the key>": 42}}
//
// It outlives the lease files, which are removed on release, and no
// earlier version of this package writes it. Removing it while no lease
// is held starts every key's epochs again from 1.
//
// Cross-process locking is implemented with flock on Unix systems and
// LockFileEx on Windows; on other systems every method that writes
// (Save, Commit, SaveGrantState, Delete, Lock, TakeLease) returns an
// error.
package filestore
