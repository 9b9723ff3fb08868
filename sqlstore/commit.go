package sqlstore

import (
	"bytes"
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
)

// commitTries bounds the rounds of Commit that find the token they read
// replaced, before they could write, by another token of the same
// fingerprint (saved again with another expiry, or sealed with another
// nonce). Each round needs a write by another process in between.
const commitTries = 5

// Commit stores tok under key, as Save does, only if the table holds prev
// under key: a token with prev's [oauthrt.Fingerprint], or, when prev is
// nil, no token (no row, or a row that only carries a lease). Otherwise
// it stores nothing and returns an error wrapping
// [oauthrt.ErrCommitConflict]. A successful Commit clears the key's grant
// state in the same statement. It accepts and refuses keys as Save does;
// a nil tok is an error. See [oauthrt.Committer].
//
// With a non-nil prev, Commit reads the stored token, compares its
// fingerprint with prev's, and then writes with one conditional UPDATE
// whose WHERE requires the row to hold still the very bytes it read: the
// database runs it against the row's latest committed version under a
// row lock, so between the comparison and the write no other writer can
// slip in, whichever release of this package it runs. With a nil prev it
// makes sure the key has a row, as TakeLease does, and writes with an
// UPDATE that requires the row's token to be NULL. A stored token that
// cannot be decrypted or decoded is an error, not a conflict.
func (s *Store) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	db, d, table, b, err := s.prepareWrite(ctx, "committing", key, tok)
	if err != nil {
		return err
	}
	if prev == nil {
		// The key may have no row yet; a lease's CommitRelease has one.
		if _, err := db.ExecContext(ctx, d.sql(d.ensure, table), key); err != nil {
			return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
		}
	}
	w := writer{db: db, d: d, table: table, aead: s.AEAD, key: key}
	_, err = w.commit(ctx, prev, b, "", nil)
	s.rows().forget(key) // Commit knows the row's token, but not its lease_epoch
	return err
}

// A writer runs the statements of one commit to key's row.
type writer struct {
	db    *sql.DB
	d     *Dialect
	table string
	aead  cipher.AEAD
	key   string
	// announce is the Store's Announcer, for the statements that release
	// a lease on a dialect that does not announce.
	announce func(context.Context, string, string) error
}

// commit writes the encoded token b into the row, which must exist, if
// the row holds prev (nil: no token); otherwise it returns an error
// wrapping [oauthrt.ErrCommitConflict]. When holder is not "", the UPDATE
// that writes also releases holder's lease if the row still holds it,
// and wrote reports that such an UPDATE changed the row: then the lease
// is no longer holder's. read, when not nil, is what the row held when
// the caller last read it, and held prev: the first round writes over it
// without reading the row again.
//
// With a non-nil prev, each round reads the row's token (but the first
// with read), compares its fingerprint with prev's, and writes with an
// UPDATE whose WHERE requires the row to hold still the very bytes
// compared; a round whose UPDATE matches nothing starts again.
func (w writer) commit(ctx context.Context, prev *oauth2.Token, b []byte, holder string, read *sql.Null[[]byte]) (wrote bool, err error) {
	// What the UPDATE that releases the lease announces, if the dialect
	// announces: b, sealed under prev.
	var payload string
	if holder != "" && (w.d.announces || w.announce != nil) {
		payload = announcement(w.key, prev, b)
	}
	if prev == nil {
		n, err := w.update(ctx, commitFirstSQL, b, holder, payload)
		if err != nil {
			return false, err
		}
		// The UPDATE changes a NULL token to b when it matches, so even
		// MySQL's count of changed rows is the count of matched ones.
		if n == 0 {
			return false, conflict(w.key)
		}
		return true, nil
	}
	want := oauthrt.Fingerprint(prev)
	for try := range commitTries {
		var held sql.Null[[]byte]
		if try == 0 && read != nil && read.Valid {
			held = *read
		} else {
			err := w.db.QueryRowContext(ctx, w.d.sql(loadSQL, w.table), w.key).Scan(&held)
			switch {
			case errors.Is(err, sql.ErrNoRows), err == nil && !held.Valid:
				return false, conflict(w.key)
			case err != nil:
				return false, fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", w.key, err)
			}
			cur, err := tokencodec.Decode(held.V, w.aead, w.key)
			if err != nil {
				return false, fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", w.key, err)
			}
			if oauthrt.Fingerprint(cur) != want {
				return false, conflict(w.key)
			}
		}
		if try > 0 && bytes.Equal(held.V, b) {
			// The row holds prev, as tok's very bytes: MySQL counts the
			// rows an UPDATE changed, not those it matched, so the last
			// round's UPDATE, which set every column to what it held,
			// counted none.
			return false, nil
		}
		n, err := w.update(ctx, commitSQL, b, holder, payload, held.V)
		if err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
		// The row changed since it was read: read it again.
	}
	// Not a conflict: the store held prev each time, and the Transport
	// would adopt a token whose refresh token it has just used.
	return false, fmt.Errorf("oauthrt: sqlstore: committing key %q: the stored token was replaced by one of the same fingerprint %d times in a row; nothing committed", w.key, commitTries)
}

// update runs the commit UPDATE q (commitSQL or commitFirstSQL) of b,
// releasing holder's lease in the same statement when holder is not "",
// and returns the count of rows it changed. Such an UPDATE announces
// payload, on a dialect that announces, when it changes the row (see
// execReleasing). held is the bytes commitSQL requires the row to hold.
func (w writer) update(ctx context.Context, q string, b []byte, holder, payload string, held ...[]byte) (int64, error) {
	args := []any{b}
	if holder != "" {
		q = strings.Replace(q, " WHERE ", releasing+" WHERE ", 1)
		args = append(args, holder, holder)
	}
	args = append(args, w.key)
	for _, h := range held {
		args = append(args, h)
	}
	var n int64
	var err error
	if holder != "" {
		n, err = execReleasing(ctx, w.db, w.d, w.table, q, payload, w.announce, args...)
	} else {
		var res sql.Result
		if res, err = w.db.ExecContext(ctx, w.d.sql(q, w.table), args...); err == nil {
			n, err = res.RowsAffected()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", w.key, err)
	}
	return n, nil
}

func conflict(key string) error {
	return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, oauthrt.ErrCommitConflict)
}
