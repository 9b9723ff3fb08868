package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

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
		return commitFirst(ctx, db, d, table, key, b)
	}
	want := oauthrt.Fingerprint(prev)
	for try := range commitTries {
		var held sql.Null[[]byte]
		err := db.QueryRowContext(ctx, d.sql(loadSQL, table), key).Scan(&held)
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && !held.Valid:
			return conflict(key)
		case err != nil:
			return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
		}
		cur, err := tokencodec.Decode(held.V, s.AEAD, key)
		if err != nil {
			return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
		}
		if oauthrt.Fingerprint(cur) != want {
			return conflict(key)
		}
		if try > 0 && bytes.Equal(held.V, b) {
			// The row holds prev, as tok's very bytes: MySQL counts the
			// rows an UPDATE changed, not those it matched, so the last
			// round's UPDATE, which set every column to what it held,
			// counted none.
			return nil
		}
		res, err := db.ExecContext(ctx, d.sql(commitSQL, table), b, key, held.V)
		if err != nil {
			return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
		}
		if n > 0 {
			return nil
		}
		// The row changed since it was read: read it again.
	}
	// Not a conflict: the store held prev each time, and the Transport
	// would adopt a token whose refresh token it has just used.
	return fmt.Errorf("oauthrt: sqlstore: committing key %q: the stored token was replaced by one of the same fingerprint %d times in a row; nothing committed", key, commitTries)
}

// commitFirst commits the encoded token b into key's row if the row holds
// no token, creating it if need be.
func commitFirst(ctx context.Context, db *sql.DB, d *Dialect, table, key string, b []byte) error {
	if _, err := db.ExecContext(ctx, d.sql(d.ensure, table), key); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
	}
	res, err := db.ExecContext(ctx, d.sql(commitFirstSQL, table), b, key)
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
	}
	// The UPDATE changes a NULL token to b when it matches, so even
	// MySQL's count of changed rows is the count of matched ones.
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, err)
	}
	if n == 0 {
		return conflict(key)
	}
	return nil
}

func conflict(key string) error {
	return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", key, oauthrt.ErrCommitConflict)
}
