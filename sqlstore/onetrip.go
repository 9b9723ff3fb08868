package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
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

// CommitRelease commits tok under the lease's key over prev, as the
// Store's Commit does (and so clears the key's grant state), and releases
// the lease if the row still holds it, with one UPDATE on every dialect:
// Commit's conditional UPDATE, whose SET also hands the lease back where
// lease_holder is still this holder's. See [oauthrt.CommitReleaser].
//
// The UPDATE's condition is Commit's: the row must hold the very bytes
// that were compared with prev, or, for a nil prev, no token. A lease
// taken by TakeLeaseIf over prev remembers the bytes the row held as it
// was taken, and so writes without reading them again; a lease taken by
// TakeLease, or a prev other than the one TakeLeaseIf was given, reads
// and compares them first, one SELECT more. When the UPDATE matches
// nothing (the row was written since, or, on MySQL, it changed nothing),
// CommitRelease reads and compares again, as Commit does. A conflict
// stores nothing, returns an error wrapping [oauthrt.ErrCommitConflict],
// and releases the lease with one more statement. Other errors leave the
// lease as it may be: Release it, or let it lapse.
func (l *fencedLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", l.w.key, err)
	}
	b, err := tokencodec.Encode(tok, l.w.aead, l.w.key)
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", l.w.key, err)
	}
	var read *sql.Null[[]byte]
	if l.read != nil && oauthrt.Fingerprint(prev) == l.readFP {
		read = l.read
	}
	wrote, err := l.w.commit(ctx, prev, b, l.holder, read)
	if wrote {
		l.released.Store(true)
	}
	if err == nil || errors.Is(err, oauthrt.ErrCommitConflict) {
		l.Release() // sends nothing when the UPDATE released it
	}
	return err
}
