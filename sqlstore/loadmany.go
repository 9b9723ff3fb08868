package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
)

var _ oauthrt.BatchLoader = (*Store)(nil)

// BatchStore returns s: its LoadMany reads s itself. A type that embeds a
// *Store gains this method too, and returns the embedded Store, so the
// Transport reads such a wrapper key by key through its own Load. See
// [oauthrt.BatchLoader].
func (s *Store) BatchStore() oauthrt.TokenStore { return s }

// loadManyChunk is the most keys one SELECT of LoadMany names.
const loadManyChunk = 128

// LoadMany reads the tokens of keys with one SELECT for each 128 of
// them, and returns them in the order of keys: nil where a key holds no
// token, holds one that cannot be decoded, or is one the token_key
// column cannot hold (Load says why in each case). A ctx that has
// already ended, or a SELECT that fails, is an error. On MySQL it
// remembers the rows, as Load does. See [oauthrt.BatchLoader].
func (s *Store) LoadMany(ctx context.Context, keys []string) ([]*oauth2.Token, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("oauthrt: sqlstore: loading %d keys: %w", len(keys), err)
	}
	toks := make([]*oauth2.Token, len(keys))
	at := make(map[string][]int, len(keys)) // a key's places in keys
	var ask []string
	for i, k := range keys {
		if d.checkKey(k) != nil {
			continue
		}
		if _, ok := at[k]; !ok {
			ask = append(ask, k)
		}
		at[k] = append(at[k], i)
	}
	mem := s.rows()
	for len(ask) > 0 {
		n := min(len(ask), loadManyChunk)
		if err := s.loadChunk(ctx, d, table, db, ask[:n], mem, func(key string, tok *oauth2.Token) {
			for _, i := range at[key] {
				toks[i] = tok
			}
		}); err != nil {
			return nil, fmt.Errorf("oauthrt: sqlstore: loading %d keys: %w", len(keys), err)
		}
		ask = ask[n:]
	}
	return toks, nil
}

// loadChunk reads the rows of keys with one SELECT, and calls found with
// each token it decodes. The statement names a power of two of
// placeholders, the last key repeated, so that few statements are built.
func (s *Store) loadChunk(ctx context.Context, d *Dialect, table string, db *sql.DB, keys []string, mem *rowMemory, found func(string, *oauth2.Token)) error {
	n := 1
	for n < len(keys) {
		n *= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = keys[min(i, len(keys)-1)]
	}
	cols := "token"
	full := d.takeIf == takeCompareAndSwap
	if full {
		cols = "token, {grant}, lease_epoch" // what Load reads to remember the row
	}
	q := "SELECT token_key, " + cols + " FROM {table} WHERE token_key IN (" + strings.Repeat("?, ", n-1) + "?)"
	rows, err := db.QueryContext(ctx, d.sql(q, table), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var r knownRow
		dest := []any{&key, &r.token}
		if full {
			dest = append(append([]any{&key}, r.dest()...), &r.epoch)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if !r.token.Valid {
			mem.remember(key, r)
			continue
		}
		tok, err := tokencodec.Decode(r.token.V, s.AEAD, key)
		if err != nil {
			continue
		}
		mem.remember(key, r)
		found(key, tok)
	}
	return rows.Err()
}
