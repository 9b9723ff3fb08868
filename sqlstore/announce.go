package sqlstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/oauthrt/oauthrt/internal/lease"
	"golang.org/x/oauth2"
)

// On PostgreSQL, the statements that release a lease (CommitRelease's
// UPDATE, Release's) announce the release in the same statement, with
// pg_notify, and a Store whose Listener is set hears the announcements
// for its waiters (TakeLeaseIf, TakeLease), which then ask the database
// again when the lease is released rather than on a timer, or learn the
// committed token without asking at all. The package documentation
// ("Announced releases") gives the channel and the payload. This file
// holds both ends: the statements and payloads that announce, and the
// Board (internal/lease) that hears them for a Store.
//
// LISTEN needs no privilege in PostgreSQL: anyone who may connect to the
// database may hear every announcement, and make one. So a payload names
// the key by a hash, and carries the committed token sealed under a key
// that only a holder of the token it replaced can derive: exactly the
// waiters of TakeLeaseIf(prev). Whatever a payload holds, a waiter acts
// on it only as it would on what it read from the table: a token other
// than prev, which it could have read there, or a hint to ask again.

// maxChannel is the longest channel name PostgreSQL takes: NAMEDATALEN
// less one. pg_notify fails on a longer one.
const maxChannel = 63

// maxPayload bounds an announcement's payload, below NOTIFY's limit of
// 8000 bytes: a longer one is sent without its sealed record.
const maxPayload = 7000

// keyHashLen is how many hex digits of the SHA-256 of a key name it in
// an announcement.
const keyHashLen = 32

// announceInfo is the start of the HKDF info of a record's sealing key;
// the store key follows it.
const announceInfo = "oauthrt sqlstore announce v1"

// channelOf returns the channel on which the releases of table's leases
// are announced: oauthrt_<table>, in lower case (PostgreSQL folds the
// unquoted table name so), a schema's dot made an underscore; a name
// longer than PostgreSQL takes keeps its first part and ends with a hash
// of the table's name.
func channelOf(table string) string {
	table = strings.ToLower(table)
	c := "oauthrt_" + strings.ReplaceAll(table, ".", "_")
	if len(c) > maxChannel {
		sum := sha256.Sum256([]byte(table))
		c = c[:maxChannel-17] + "_" + hex.EncodeToString(sum[:8])
	}
	return c
}

// keyHash names key in announcements: the first 32 hex digits of its
// SHA-256.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:keyHashLen/2])
}

// recordAEAD returns the AEAD that seals the record of a commit over
// prev under key, or nil when prev has no secret to derive it from (nil
// prev, or one without an access or a refresh token): such a commit is
// announced without its record.
func recordAEAD(key string, prev *oauth2.Token) cipher.AEAD {
	if prev == nil || prev.AccessToken == "" && prev.RefreshToken == "" {
		return nil
	}
	secret := make([]byte, 0, 16+len(prev.AccessToken)+len(prev.RefreshToken))
	for _, s := range []string{prev.AccessToken, prev.RefreshToken} {
		secret = binary.BigEndian.AppendUint64(secret, uint64(len(s)))
		secret = append(secret, s...)
	}
	k, err := hkdf.Key(sha256.New, secret, nil, announceInfo+key, 32)
	if err != nil {
		return nil
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil
	}
	return aead
}

// announcement returns the payload that announces the release of key's
// lease, with the commit of the token stored as b over prev when b is
// not nil: the key's hash, then, when prev has a secret and the payload
// fits, a space and the base64 of b sealed under prev (a random nonce,
// then the sealed bytes).
func announcement(key string, prev *oauth2.Token, b []byte) string {
	h := keyHash(key)
	if b == nil || base64.StdEncoding.EncodedLen(12+len(b)+16)+len(h)+1 > maxPayload {
		return h
	}
	aead := recordAEAD(key, prev)
	if aead == nil {
		return h
	}
	sealed := make([]byte, aead.NonceSize(), aead.NonceSize()+len(b)+aead.Overhead())
	rand.Read(sealed)
	sealed = aead.Seal(sealed, sealed, b, nil)
	return h + " " + base64.StdEncoding.EncodeToString(sealed)
}

// parseAnnouncement reads a payload: the key's hash, and the sealed
// record, or nil. ok is false when the payload does not start with a
// hash, whoever sent it; a record that is not base64 is handed on as it
// is, and does not open.
func parseAnnouncement(p string) (hash string, sealed []byte, ok bool) {
	if len(p) < keyHashLen {
		return "", nil, false
	}
	for i := range keyHashLen {
		c := p[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", nil, false
		}
	}
	hash, rest := p[:keyHashLen], p[keyHashLen:]
	switch {
	case rest == "":
		return hash, nil, true
	case rest[0] != ' ':
		return "", nil, false
	}
	sealed, err := base64.StdEncoding.DecodeString(rest[1:])
	if err != nil || len(sealed) == 0 {
		sealed = []byte(rest[1:])
	}
	return hash, sealed, true
}

// openRecord opens a record sealed under aead (recordAEAD's), and
// returns the token bytes as the store holds them; false when it does
// not open.
func openRecord(aead cipher.AEAD, sealed []byte) ([]byte, bool) {
	if aead == nil || len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, false
	}
	n := aead.NonceSize()
	b, err := aead.Open(nil, sealed[:n], sealed[n:], nil)
	return b, err == nil
}

// announcing makes q, an UPDATE that releases a lease, the statement of
// a dialect that announces: a data-modifying WITH whose SELECT calls
// pg_notify once for the row the UPDATE changed, and not at all when it
// changed none, and answers how many it changed. Its two last
// placeholders are the channel and the payload.
func announcing(q string) string {
	return `WITH released AS (` + q + ` RETURNING 1) SELECT count(pg_notify(?, ?)) FROM released`
}

// execReleasing runs q, an UPDATE that releases a lease, with args, and
// returns the count of rows it changed; on a dialect that announces,
// it runs it as announcing makes it, announcing payload on table's
// channel. On the others, announcer (the Store's Announcer), when not
// nil, announces payload on that channel once the UPDATE changed a row.
func execReleasing(ctx context.Context, db *sql.DB, d *Dialect, table, q string, payload string, announcer func(context.Context, string, string) error, args ...any) (int64, error) {
	if !d.announces {
		res, err := db.ExecContext(ctx, d.sql(q, table), args...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err == nil && n > 0 && announcer != nil {
			_ = announcer(ctx, channelOf(table), payload) // a hint: see Store.Announcer
		}
		return n, err
	}
	var n int64
	args = append(args, channelOf(table), payload)
	err := db.QueryRowContext(ctx, d.sql(announcing(q), table), args...).Scan(&n)
	return n, err
}

// boards holds each Store's Board, by a weak pointer to the Store, and
// loses it when the Store is collected; not a field of Store, for the
// reason that its row memories are not (see memories). A Board refers to
// the Store's Listener, never to the Store.
var boards sync.Map // weak.Pointer[Store] → *lease.Board

// board returns the Board that wakes the Store's waiters on table when a
// lease is announced released, creating it at the first call; nil, so
// that they poll, when the Store has no Listener, or when neither d nor
// its Announcer announces.
func (s *Store) board(d *Dialect, table string) *lease.Board {
	if s.Listener == nil || !d.announces && s.Announcer == nil {
		return nil
	}
	k := weak.Make(s)
	if b, ok := boards.Load(k); ok {
		return b.(*lease.Board)
	}
	b, loaded := boards.LoadOrStore(k, &lease.Board{Listen: listen(s.Listener, channelOf(table)), Topic: keyHash})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Store]) { boards.Delete(k) }, k)
	}
	return b.(*lease.Board)
}

// listen returns the Listen of a Board: it runs listener on channel, and
// hands the Board each announcement that names a key; payloads that do
// not are ignored.
func listen(listener func(context.Context, string, func(), func(string)) error, channel string) func(context.Context, func(), func(string, []byte)) error {
	return func(ctx context.Context, ready func(), announce func(string, []byte)) error {
		return listener(ctx, channel, ready, func(payload string) {
			if hash, sealed, ok := parseAnnouncement(payload); ok {
				announce(hash, sealed)
			}
		})
	}
}
