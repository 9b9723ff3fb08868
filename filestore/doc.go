// Package filestore is an [oauthrt.TokenStore] that keeps tokens in
// files: the embedded default for command-line tools and for services
// that run on a single host.
//
//	store := &filestore.Store{Path: filepath.Join(dir, "tokens.json")}
//	client := &http.Client{Transport: &oauthrt.Transport{Store: store, Refresher: refresher}}
//
// # Choosing a layout
//
// A Store keeps its tokens in one of two layouts, and a Store sets
// exactly one of the fields that name them.
//
// Path is one JSON file holding every key. Every write rewrites the
// whole file under one lock, and every lease rewrites a file of every
// key's epochs: a write costs more as the file fills, and the writes of
// all keys wait for each other. It suits a command-line tool with a
// handful of grants, and it reads the files earlier releases of this
// package wrote.
//
//	store := &filestore.Store{Dir: filepath.Join(dir, "tokens")}
//
// Dir is a directory with one record file per key. A write rewrites the
// key's record alone, under a lock of the key's own, so it costs the
// same with ten keys or thousands, and writes of different keys do not
// wait for each other. Pick it for more than a few dozen keys, or for
// many processes sharing the store. A page of ListKeys or
// ListGrantStates reads every record.
//
// The two layouts do not read each other: a Store with Dir does not see
// the tokens of a token file.
//
// # Guarantees
//
// What follows is said of the layout of Path; the layout of Dir keeps
// the same guarantees, for each key's record (see "Directory layout").
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
// Store is an [oauthrt.Inspector] too: a page of Inspect reads the token
// file and the epochs file once, and the lease file of each of its keys.
//
// Store also implements [oauthrt.LeaseLocker]. The refresh lease of a key
// is an exclusive OS file lock (flock(2) on Unix, LockFileEx on Windows)
// on the key's lease file, held for as long as the lease is. The kernel
// releases it when the holder's process exits, however it exits: a
// command killed in the middle of a refresh, or one that exited and that
// its parent has not reaped yet (a zombie), does not hold up the next
// one. No process id is checked (the lease file names its holder's host
// and PID for operators only), so processes in different PID namespaces
// (containers) sharing the volume on one host exclude each other
// correctly. The lock belongs to the open file, so two
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
// Store is an [oauthrt.SnapshotLoader] and an [oauthrt.LeaseLoader], and
// its leases are [oauthrt.CommitReleaser]s, so that the [oauthrt.Transport]
// refreshes a token with three calls of the store (TakeLeaseIf, Renew,
// CommitRelease) where it would make eight without them. Each merges
// steps that the other methods take one by one, and keeps their
// guarantees:
//
//   - LoadSnapshot reads a key's token and grant state from one read of
//     the token file, without the lock, where Load and LoadGrantState
//     read it once each.
//   - TakeLeaseIf takes the lease as TakeLease does, and reads the key
//     under the lock of Path + ".lock", once the lease file is locked and
//     before the epoch is raised: the lease is taken only while the file
//     holds the token the refresh starts from, and no write comes between
//     the read and the taking. It costs what TakeLease costs, the read of
//     the token file moving under the lock: TakeLease reads it before it
//     tries, to refuse a file it could not write. When the file holds
//     another token, the lease file is let go (removed while locked, as
//     on release) and no epoch is raised. While another holder has the
//     lease, each try that finds it held reads the token file once more,
//     without the lock, so that a waiter returns the holder's token as
//     soon as it is stored.
//   - CommitRelease commits as Commit does and releases the lease as
//     Release does, under one holding of the lock of Path + ".lock": one
//     open and flock of the lock file, where Commit and then Release take
//     it once each.
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
// one line, of a fixed length for each holding, rewritten in place on
// every renewal: the time at which the lease lapses, in nanoseconds since
// the Unix epoch, the holder's id (the host and PID of its process and a
// random part, which tell an operator who holds the lease), and the
// CRC-32 (IEEE, in hex) of what comes before it:
//
//	until 01767225600000000000 worker-7/4121/9f3c5e0a1b2d4c6e 5ec4e967
//
// The holder empties the file as it lets the lease go, so a file left in
// place shows no lease. A line without the holder's id, as the release
// before this one wrote, reads as well. A file whose contents are not
// such a line (a read that met a rewrite half done, a file damaged by
// hand) lapses only once it has not been written for the taker's
// LeaseTTL: the release before this one reads only lines without an id,
// so its processes take a lease of this one's over only once its holder
// has not renewed it for their LeaseTTL. An empty file never lapses: the
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
// # Directory layout
//
// With Dir, the directory (created with mode 0700, as its parents are
// when missing) holds:
//
//	VERSION          {"layout":"oauthrt filestore directory","version":1}
//	records/<name>   the key's record (mode 0600)
//	locks/<name>     the key's lock file, with its lease epoch (mode 0600)
//	leases/<name>    the key's lease file (mode 0600)
//
// where <name> is the hex SHA-256 of the key's bytes, as for the lease
// files of Path: any key names files of a fixed, portable name. The
// subdirectories have mode 0700.
//
// VERSION is written before anything else, and every method reads it: a
// directory of a newer layout is refused, and a VERSION this package did
// not write is an error wrapping [oauthrt.ErrCorruptToken]. A directory
// without it holds no token yet; the first write creates it.
//
// A key's record is one line of JSON:
//
//	{"key":"org/1","token":{"access_token":"…",…},
//	 "grant_state":{"dead_token":"<fingerprint>",…}}
//
// "key" holds the key's exact bytes when they are valid UTF-8; a key
// that is not has "byte_key" instead, the standard base64 of its bytes,
// as in the token file. "token" is the key's token as the token file
// keeps it: a JSON object, or with an AEAD the base64 of the sealed
// token (sealed with the key as additional data, so that a token copied
// into another key's record does not open). "grant_state" is the key's
// grant state, in the clear, as in the token file. Each is left out
// when the key has none, and a record left with neither token nor grant
// state (by Delete, say) is removed. A record whose name is not that of
// the key it holds, or that this package cannot read, is an error
// wrapping [oauthrt.ErrCorruptToken] for every method on that key (and
// for every page of ListKeys and ListGrantStates), and is left as it
// is: it is never replaced. Other keys are not affected.
//
// A record is written as the token file is: whole, to a temporary file
// in records (named after it, with a ".tmp-" suffix), synced, renamed
// over the record, and the directory synced. Every read-modify-write of
// a key's record (Save, Commit, SaveGrantState, Delete), and every
// raising of its lease epoch, holds the flock(2) (LockFileEx on Windows)
// of the key's lock file, which plays for the key the part Path + ".lock"
// plays for the token file: Commit compares and writes under it, and a
// lease taker checks and replaces a lapsed lease's file under it. Reads
// take no lock. Writes of different keys share neither a file nor a
// lock.
//
// LoadSnapshot reads VERSION and the key's record. TakeLeaseIf and
// CommitRelease work as with Path, under the key's lock file: TakeLeaseIf
// reads the key's record under it, and CommitRelease rewrites the record
// and lets go of the lease file under one holding of it.
//
// Leases work as with Path, each on the key's file in leases, with two
// differences. A released lease's file stays in place, emptied, as on
// Windows, for the key's next lease, rather than being created and
// removed for each one in the directory that every key's leases share; the key's
// first record creates it, empty, so that not even the key's first
// refresh waits for its creation. And the epoch of the key's last
// lease is in its lock file, which is never removed (it is created once
// per key, and its directory synced), in two slots of one line each, at
// offsets 0 and 512, each written in place and synced:
//
//	epoch 00000000000000000042 1dc3476b
//
// the epoch in decimal and the CRC-32 (IEEE, in hex) of what comes
// before it. Epoch n goes to the slot at offset 512 × (n mod 2), so the
// other slot keeps n-1 while it is written, and the key's epoch is the
// greater of the two slots that read whole: a crash in the middle of a
// write leaves the epoch before it, which no lease was handed out with.
// A lock file with no whole slot (but for a first slot never written,
// all zero bytes) is an error wrapping [oauthrt.ErrCorruptToken] for the
// key's leases, and is left as it is. A raise thus costs one write and
// one sync of a file that exists, rather than a new record and a sync of
// the directory. Removing a key's lock file while no lease of it is held
// starts its epochs again from 1.
//
// Cross-process locking is implemented with flock on Unix systems and
// LockFileEx on Windows; on other systems every method that writes
// (Save, Commit, SaveGrantState, Delete, Lock, TakeLease, TakeLeaseIf)
// returns an error.
package filestore
