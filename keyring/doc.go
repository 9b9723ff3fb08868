// Package keyring rotates the key that encrypts a store's tokens at
// rest, with no change to the store and no downtime.
//
// A [Ring] is a [cipher.AEAD] over several keys. Set it as the AEAD of
// any store (filestore, sqlstore, redisstore) in place of a single
// AES-GCM:
//
//	ring, err := keyring.Load("/etc/myapp/token-keys") // mode 0600
//	if err != nil {
//		log.Fatal(err)
//	}
//	store := &sqlstore.Store{DB: db, AEAD: ring}
//
// The ring seals with its primary key, the first it lists, and writes
// the key's ID in front of what it seals. It opens with the key a record
// names, so records sealed under different keys live side by side and
// every process reads all of them. A record sealed before the ring was
// set up, by a key's bare AEAD, names no key: the ring tries each of its
// keys on it in turn. A store that set AEAD to an AES-GCM of its own
// therefore moves to a ring by listing that same secret as the ring's
// only key, and reads every record it already has.
//
// # Key sources
//
// [Parse] reads a key source, one key per line: an ID (1 to 32 bytes of
// letters, digits, '.', '_' and '-') and the base64 of a 32-byte
// AES-256 secret.
//
//	# token keys of myapp; the first line is the primary
//	2026-06 vRNbXQ0bVZ0m3Ykz8bDk2Hf9zC1k8n6oWm3qv5Qy3tE=
//	2026-01 3m7aLr0hW6oZ9pS2nQ4tV1xY5uB8cE0gJ2kM4nP6rT8=
//
// These secrets are examples: never use them. [Generate] makes a new
// line, with a secret from crypto/rand (`openssl rand -base64 32` makes
// a secret too). [Load] reads a key source from a file, refusing a file
// that other users could read or write; [FromEnv] from an environment
// variable. A key's ID is not secret: it is
// written in the clear in every record the key seals. It is bound to
// the key, though: the key listed under another ID opens none of the
// records it sealed, so choose IDs once (a date does well) and never
// rename them. Errors from this package name IDs and line numbers, never
// a secret, and a Ring prints, logs and encodes as JSON as its IDs
// alone.
//
// # Rotating a key
//
// Rotation runs in four steps, each finished everywhere before the next
// begins:
//
//  1. Add the new key first, above the old one, in the key source of
//     every process that uses the store.
//  2. Deploy that everywhere. From then on every write is sealed with
//     the new key, and every process still reads the records sealed with
//     the old one. While the deploy rolls out, a process still on the
//     old source cannot read what the updated ones write: its Load fails
//     with oauthrt.ErrDecrypt. To avoid that window, add the new key
//     below the old one first, deploy, then move it to the top, and
//     deploy again.
//  3. Rewrite the records that are still sealed with the old key. Tokens
//     that refresh are rewritten on their own; for the rest, the oauthrt
//     command's rekey reads every record and saves those that name
//     another key than the primary. [Ring.OpenKey] says which key opened
//     a record.
//  4. Remove the old key from every key source, and deploy. A record the
//     rewrite missed no longer opens: its store's Load fails with
//     oauthrt.ErrDecrypt, and the grant needs a new authorization.
//
// # Format
//
// What a Ring seals is the byte 'K' (0x4B), the length of the key's ID
// in one byte, the ID, then the output of the key's AEAD. That AEAD
// authenticates the prefix with the caller's additional data, so a
// record stripped of its prefix, or given another key's, does not open.
// [Ring.Overhead] is the largest prefix and AEAD overhead of the ring's
// keys; a record written before the ring can be shorter than it.
package keyring
