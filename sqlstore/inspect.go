package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
)

var _ oauthrt.Inspector = (*Store)(nil)

// inspectCols are the columns of a page of Inspect: the key, its token,
// its lease, whether the lease is held by the database's clock (read once
// a row, so that the holder and its end agree), its epoch, and its grant
// state.
const inspectCols = `token_key, token, lease_holder, lease_until, CASE WHEN lease_until > {now} THEN 1 ELSE 0 END, lease_epoch, {grant}`

// Inspect returns the records of up to limit keys (zero or less: 1000)
// that start with prefix and hold a token, after those of the page that
// returned cursor ("": from the first); next is "" after the last page.
// A page is one SELECT of the rows' token, lease and grant columns, paged
// as ListKeys pages keys, and sorted in byte order of the keys. A lease whose lease_until has passed by the
// database's clock, in the same SELECT, is reported as none held. See
// [oauthrt.Inspector].
func (s *Store) Inspect(ctx context.Context, prefix, cursor string, limit int) (records []oauthrt.Record, next string, err error) {
	err = s.list(ctx, "inspecting keys", inspectCols, hasTokenSQL, prefix, cursor, limit, func(rows *sql.Rows) (string, error) {
		var (
			r            oauthrt.Record
			token        []byte
			holder       sql.NullString
			until, epoch int64
			held         int
			g            grantRow
		)
		if err := rows.Scan(append([]any{&r.Key, &token, &holder, &until, &held, &epoch}, g.dest()...)...); err != nil {
			return "", err
		}
		r.Token, r.KeyID, r.Err = tokencodec.DecodeKey(token, s.AEAD, r.Key)
		if r.Err != nil {
			r.Err = fmt.Errorf("oauthrt: sqlstore: key %q: %w", r.Key, r.Err)
		}
		r.Sealed, r.State, r.Lease.Epoch = tokencodec.IsSealed(token), g.state(), uint64(epoch)
		if holder.Valid && held == 1 {
			r.Lease.Holder, r.Lease.Until = holder.String, time.UnixMilli(until).UTC()
		}
		records = append(records, r)
		return r.Key, nil
	}, &next)
	if err != nil {
		return nil, "", err
	}
	// The SELECT follows the key column's order, which on PostgreSQL is
	// its collation's; a page is in byte order.
	slices.SortFunc(records, func(a, b oauthrt.Record) int { return strings.Compare(a.Key, b.Key) })
	return records, next, nil
}
