package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/oauthrt/oauthrt"
)

// defaultPage is how many keys a page holds when the caller gives no
// limit.
const defaultPage = 1000

// cursorPrefix starts every cursor of this package: the version of its
// layout, which is the base64 (URL alphabet, unpadded) of the last key
// of the page before.
const cursorPrefix = "s1."

// The conditions of the listings: rows that hold a token, and rows whose
// grant state is not zero (SaveGrantState writes a NULL for each zero
// field, and grant_failures for every state that is not zero).
const (
	hasTokenSQL = `token IS NOT NULL`
	hasGrantSQL = `(grant_dead_token IS NOT NULL OR grant_dead_code IS NOT NULL OR grant_dead_at IS NOT NULL` +
		` OR grant_next_attempt IS NOT NULL OR grant_failures IS NOT NULL OR grant_failing_since IS NOT NULL)`
	deleteSQL = `UPDATE {table} SET token = NULL, updated_at = NULL, {cleargrant} WHERE token_key = ?`
)

// ListKeys returns up to limit keys (zero or less: 1000) that start with
// prefix and hold a token, after those of the page that returned cursor
// ("": from the first); next is "" after the last page. A page is one
// SELECT of the key column alone, in the order of the primary key, from
// the last key of the page before (see the package doc, "Listing and
// deleting"): a walk lists each key at most once, and skips none that
// holds a token throughout, whatever is written meanwhile. See
// [oauthrt.KeyLister].
func (s *Store) ListKeys(ctx context.Context, prefix, cursor string, limit int) (keys []string, next string, err error) {
	err = s.list(ctx, "listing keys", "token_key", hasTokenSQL, prefix, cursor, limit, func(rows *sql.Rows) (string, error) {
		var k string
		err := rows.Scan(&k)
		keys = append(keys, k)
		return k, err
	}, &next)
	if err != nil {
		return nil, "", err
	}
	return keys, next, nil
}

// ListGrantStates returns up to limit keys (zero or less: 1000) that
// start with prefix and have a grant state, with that state, after those
// of the page that returned cursor ("": from the first); next is "" after
// the last page. A page is one SELECT of the key and grant_ columns of
// the rows where one of them is not NULL, paged as ListKeys pages: it
// reads no token. See [oauthrt.GrantStateLister].
func (s *Store) ListGrantStates(ctx context.Context, prefix, cursor string, limit int) (states []oauthrt.KeyGrantState, next string, err error) {
	err = s.list(ctx, "listing grant states", "token_key, {grant}", hasGrantSQL, prefix, cursor, limit, func(rows *sql.Rows) (string, error) {
		var k string
		var g grantRow
		if err := rows.Scan(append([]any{&k}, g.dest()...)...); err != nil {
			return "", err
		}
		if st := g.state(); !st.IsZero() { // zero only in a row written by hand
			states = append(states, oauthrt.KeyGrantState{Key: k, State: st})
		}
		return k, nil
	}, &next)
	if err != nil {
		return nil, "", err
	}
	return states, next, nil
}

// list runs the SELECT of a page: the columns cols of the rows where cond
// holds and the key starts with prefix, after cursor's key, in key order.
// It calls scan on each row, which takes the row into the page and
// returns its key, until the page has limit rows; next is set to the
// cursor after the last of those when more rows follow.
func (s *Store) list(ctx context.Context, doing, cols, cond, prefix, cursor string, limit int, scan func(*sql.Rows) (key string, err error), next *string) error {
	db, d, table, err := s.setup()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: %s: %w", doing, err)
	}
	if limit <= 0 {
		limit = defaultPage
	}
	q := `SELECT ` + cols + ` FROM {table} WHERE ` + cond
	var args []any
	if cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cursor, cursorPrefix))
		if err != nil || !strings.HasPrefix(cursor, cursorPrefix) {
			return fmt.Errorf("oauthrt: sqlstore: %s: the cursor is not one a page of this package returned", doing)
		}
		q += ` AND token_key > ?`
		args = append(args, d.keyArg(string(after)))
	}
	if prefix != "" {
		c, a := d.prefixCond(prefix)
		q += ` AND ` + c
		args = append(args, a...)
	}
	// One row more than the page tells whether another page follows.
	q += ` ORDER BY token_key LIMIT ?`
	args = append(args, limit+1)
	rows, err := db.QueryContext(ctx, d.sql(q, table), args...)
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: %s: %w", doing, err)
	}
	defer rows.Close()
	n := 0
	last := ""
	for rows.Next() {
		if n == limit {
			*next = cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		k, err := scan(rows)
		if err != nil {
			return fmt.Errorf("oauthrt: sqlstore: %s: %w", doing, err)
		}
		n, last = n+1, k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: %s: %w", doing, err)
	}
	return nil
}

// keyArg is key as a query argument compared with the key column: bytes
// for MySQL's binary column, so that the driver sends them as they are.
func (d *Dialect) keyArg(key string) any {
	if d.binaryKey {
		return []byte(key)
	}
	return key
}

// prefixCond returns the condition, and its arguments, that holds for
// the rows whose key starts with the bytes of prefix (not "").
//
// In SQLite (TEXT compared byte by byte, the BINARY collation) and MySQL
// (VARBINARY), those keys are the range from prefix up to the least
// string that no key starting with it reaches, which the primary key's
// index serves. PostgreSQL compares TEXT by its collation, in which the
// keys that start with a prefix need not be contiguous, and takes only
// valid UTF-8 as TEXT, where a prefix may end within a character: there
// the key's bytes are compared with the prefix's.
func (d *Dialect) prefixCond(prefix string) (string, []any) {
	if d.utf8Key {
		return `substr(convert_to(token_key, 'UTF8'), 1, ?) = ?`, []any{len(prefix), []byte(prefix)}
	}
	end, ok := successor(prefix)
	if !ok {
		return `token_key >= ?`, []any{d.keyArg(prefix)}
	}
	return `token_key >= ? AND token_key < ?`, []any{d.keyArg(prefix), d.keyArg(end)}
}

// successor returns the least string greater than every string that
// starts with prefix, and false when there is none: when prefix is all
// 0xff bytes.
func successor(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// Delete removes the token stored under key and its grant state, with
// one UPDATE that sets token, updated_at and the grant_ columns to NULL.
// The row stays, with its lease columns: a lease held on the key stays
// held, and lease_epoch goes on growing. Deleting a key that has no row,
// or no token, is not an error. It refuses the keys Save refuses. See
// [oauthrt.Deleter].
func (s *Store) Delete(ctx context.Context, key string) error {
	db, d, table, err := s.setup()
	if err != nil {
		return err
	}
	if err := d.checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: deleting key %q: %w", key, err)
	}
	_, err = db.ExecContext(ctx, d.sql(deleteSQL, table), key)
	s.rows().forget(key)
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: deleting key %q: %w", key, err)
	}
	return nil
}
