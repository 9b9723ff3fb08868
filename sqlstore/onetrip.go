package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
)

// This file holds the capabilities that merge the steps of a refresh
// into fewer statements (see [oauthrt.SnapshotLoader],
// [oauthrt.LeaseLoader] and [oauthrt.CommitReleaser]), in the order a
// refresh takes them.

var _ oauthrt.SnapshotLoader = (*Store)(nil)

// snapshotSQL reads what LoadSnapshot returns: the token and the grant
// state, in scanRow's order.
const snapshotSQL = `SELECT token, {grant} FROM {table} WHERE token_key = ?`

// LoadSnapshot returns the token stored under key (nil when there is
// none: no row, or a row that only carries a lease or a grant state) and
// the key's grant state, read together by one SELECT on every dialect.
// A stored token that cannot be decrypted gives an error wrapping
// [oauthrt.ErrDecrypt], one that is not a token an error wrapping
// [oauthrt.ErrCorruptToken], as Load does. See [oauthrt.SnapshotLoader].
func (s *Store) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return oauthrt.Snapshot{}, err
	}
	if err := d.checkKey(key); err != nil {
		return oauthrt.Snapshot{}, err
	}
	if err := ctx.Err(); err != nil {
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	}
	var r storedRow
	err = db.QueryRowContext(ctx, d.sql(snapshotSQL, table), key).Scan(r.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return oauthrt.Snapshot{}, nil
	case err != nil:
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	}
	snap, err := r.snapshot(s, key)
	if err != nil {
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	}
	return snap, nil
}

// storedRow is a row's token and grant state, as they are scanned.
type storedRow struct {
	token sql.Null[[]byte]
	grant grantRow
}

// dest returns where to scan token and the columns {grant} names, in
// their order.
func (r *storedRow) dest() []any {
	return append([]any{&r.token}, r.grant.dest()...)
}

// snapshot decodes the row with s's AEAD, bound to key.
func (r *storedRow) snapshot(s *Store, key string) (oauthrt.Snapshot, error) {
	snap := oauthrt.Snapshot{State: r.grant.state()}
	if !r.token.Valid {
		return snap, nil
	}
	tok, err := tokencodec.Decode(r.token.V, s.AEAD, key)
	if err != nil {
		return oauthrt.Snapshot{}, err
	}
	snap.Token = tok
	return snap, nil
}
