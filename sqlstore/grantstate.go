package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthrt/oauthrt"
)

// LoadGrantState returns the grant state kept for key: the zero
// [oauthrt.GrantState], and no error, when none is (no row, or a row
// whose grant_ columns are NULL). Its times are UTC, to the millisecond.
// See [oauthrt.GrantStateStore].
func (s *Store) LoadGrantState(ctx context.Context, key string) (oauthrt.GrantState, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return oauthrt.GrantState{}, err
	}
	if err := d.checkKey(key); err != nil {
		return oauthrt.GrantState{}, err
	}
	if err := ctx.Err(); err != nil {
		return oauthrt.GrantState{}, fmt.Errorf("oauthrt: sqlstore: loading the grant state of key %q: %w", key, err)
	}
	var g grantRow
	err = db.QueryRowContext(ctx, d.sql(loadGrantSQL, table), key).Scan(g.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return oauthrt.GrantState{}, nil
	case err != nil:
		return oauthrt.GrantState{}, fmt.Errorf("oauthrt: sqlstore: loading the grant state of key %q: %w", key, err)
	}
	return g.state(), nil
}

// grantRow is what a row's grant_ columns hold, as they are scanned.
type grantRow struct {
	deadToken, deadCode                  sql.Null[[]byte]
	deadAt, next, failures, failingSince sql.NullInt64
}

// dest returns where to scan the columns {grant} names, in their order.
func (g *grantRow) dest() []any {
	return []any{&g.deadToken, &g.deadCode, &g.deadAt, &g.next, &g.failures, &g.failingSince}
}

func (g *grantRow) state() oauthrt.GrantState {
	return oauthrt.GrantState{
		DeadToken:    string(g.deadToken.V),
		DeadCode:     string(g.deadCode.V),
		DeadAt:       fromMillis(g.deadAt),
		NextAttempt:  fromMillis(g.next),
		Failures:     int(g.failures.Int64),
		FailingSince: fromMillis(g.failingSince),
	}
}

// SaveGrantState replaces the grant state kept for key, leaving its token
// and lease as they are, with one statement: an upsert of the grant_
// columns, which makes a row without a token for a key that has none, or,
// for the zero GrantState, an UPDATE that sets them to NULL. Times are
// kept in Unix milliseconds: finer parts are dropped. See
// [oauthrt.GrantStateStore].
func (s *Store) SaveGrantState(ctx context.Context, key string, st oauthrt.GrantState) error {
	db, d, table, err := s.setup()
	if err != nil {
		return err
	}
	if err := d.checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: saving the grant state of key %q: %w", key, err)
	}
	if st.IsZero() {
		_, err = db.ExecContext(ctx, d.sql(clearGrantSQL, table), key)
	} else {
		_, err = db.ExecContext(ctx, d.sql(saveGrantSQL+d.grant, table), key,
			nullBytes(st.DeadToken), nullBytes(st.DeadCode), toMillis(st.DeadAt), toMillis(st.NextAttempt), int64(st.Failures),
			toMillis(st.FailingSince))
	}
	s.rows().forget(key)
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: saving the grant state of key %q: %w", key, err)
	}
	return nil
}

// nullBytes is s as a column value: its bytes, NULL for "".
func nullBytes(s string) sql.Null[[]byte] {
	return sql.Null[[]byte]{V: []byte(s), Valid: s != ""}
}

// toMillis is t as a column value: Unix milliseconds, NULL for the zero
// time.
func toMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis is the inverse of toMillis, in UTC.
func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}
