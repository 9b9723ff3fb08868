package filestore

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/oauthrt/oauthrt"
)

// The lifecycle capabilities read the token file as Load does, without
// the lock, and Delete writes it as Save does, under the lock. With Dir,
// a page reads every record, and Delete writes the key's record.

// defaultPage is how many keys a page holds when the caller gives no
// limit.
const defaultPage = 1000

// cursorPrefix starts every cursor of this package: the version of its
// layout, which is the base64 (URL alphabet, unpadded) of the last key
// of the page before.
const cursorPrefix = "f1."

// ListKeys returns, in byte order, up to limit keys (zero or less: 1000)
// that start with prefix and hold a token, after those of the page that
// returned cursor ("": from the first). next is "" after the last page.
// Each page reads the whole file, or, with Dir, every record. See
// [oauthrt.KeyLister].
func (s *Store) ListKeys(ctx context.Context, prefix, cursor string, limit int) (keys []string, next string, err error) {
	if s.Dir != "" {
		after, err := s.pageFrom(ctx, cursor)
		if err != nil {
			return nil, "", err
		}
		var all []string
		err = s.eachRecord(ctx, func(r *keyRecord) {
			if r.Token != nil {
				all = append(all, r.key())
			}
		})
		if err != nil {
			return nil, "", err
		}
		keys, next = page(all, prefix, after, limit)
		return keys, next, nil
	}
	doc, after, err := s.readFrom(ctx, cursor)
	if err != nil {
		return nil, "", err
	}
	all := make([]string, 0, len(doc.Tokens)+len(doc.ByteKeys))
	for k := range doc.Tokens {
		all = append(all, k)
	}
	for name := range doc.ByteKeys {
		all = append(all, byteKeyOf(name))
	}
	keys, next = page(all, prefix, after, limit)
	return keys, next, nil
}

// ListGrantStates returns, in byte order of their keys, up to limit keys
// (zero or less: 1000) that start with prefix and have a grant state, with
// that state, after those of the page that returned cursor ("": from the
// first); next is "" after the last page. It reads no token. See
// [oauthrt.GrantStateLister].
func (s *Store) ListGrantStates(ctx context.Context, prefix, cursor string, limit int) (states []oauthrt.KeyGrantState, next string, err error) {
	if s.Dir != "" {
		after, err := s.pageFrom(ctx, cursor)
		if err != nil {
			return nil, "", err
		}
		found := map[string]grantRecord{}
		var all []string
		err = s.eachRecord(ctx, func(r *keyRecord) {
			if r.GrantState != (grantRecord{}) {
				k := r.key()
				found[k] = r.GrantState
				all = append(all, k)
			}
		})
		if err != nil {
			return nil, "", err
		}
		keys, next := page(all, prefix, after, limit)
		states = make([]oauthrt.KeyGrantState, len(keys))
		for i, k := range keys {
			states[i] = oauthrt.KeyGrantState{Key: k, State: found[k].state()}
		}
		return states, next, nil
	}
	doc, after, err := s.readFrom(ctx, cursor)
	if err != nil {
		return nil, "", err
	}
	all := make([]string, 0, len(doc.GrantStates)+len(doc.ByteKeyGrantStates))
	for k, r := range doc.GrantStates {
		if r != (grantRecord{}) {
			all = append(all, k)
		}
	}
	for name, r := range doc.ByteKeyGrantStates {
		if r != (grantRecord{}) {
			all = append(all, byteKeyOf(name))
		}
	}
	keys, next := page(all, prefix, after, limit)
	states = make([]oauthrt.KeyGrantState, len(keys))
	for i, k := range keys {
		states[i] = oauthrt.KeyGrantState{Key: k, State: doc.grantState(k).state()}
	}
	return states, next, nil
}

// Delete removes the token stored under key and its grant state, in one
// write of the file under its lock, as Save writes it; a key that holds
// neither leaves the file as it is. The key's lease, and the epoch of its
// leases in Path + ".epochs", are left alone, so that epochs go on
// growing. With Dir, the key's record is removed, and the epoch stays
// in the key's lock file. See [oauthrt.Deleter].
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if s.Dir != "" {
		return s.updateRecord(ctx, key, func(r *keyRecord) (bool, error) {
			changed := r.Token != nil || r.GrantState != (grantRecord{})
			r.Token, r.GrantState = nil, grantRecord{}
			return changed, nil
		})
	}
	return s.update(ctx, func(doc *document) (bool, error) {
		return doc.remove(key), nil
	})
}

// remove deletes key's token and grant state, and reports whether the
// document changed.
func (d *document) remove(key string) bool {
	changed := d.putGrantState(key, grantRecord{})
	tokens, name := d.Tokens, key
	if !utf8.ValidString(key) {
		tokens, name = d.ByteKeys, byteKeyName(key)
	}
	if _, ok := tokens[name]; ok {
		delete(tokens, name)
		changed = true
	}
	return changed
}

// byteKeyOf is the key whose byteKeyName is name, which parse checked.
func byteKeyOf(name string) string {
	b, _ := base64.StdEncoding.DecodeString(name)
	return string(b)
}

// readFrom checks the store and ctx, decodes cursor as pageFrom does,
// and reads the file.
func (s *Store) readFrom(ctx context.Context, cursor string) (*document, *string, error) {
	after, err := s.pageFrom(ctx, cursor)
	if err != nil {
		return nil, nil, err
	}
	doc, err := s.read()
	if err != nil {
		return nil, nil, err
	}
	return doc, after, nil
}

// pageFrom checks the store and ctx, and decodes cursor into the key the
// page starts after (nil for the first page).
func (s *Store) pageFrom(ctx context.Context, cursor string) (*string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if cursor == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cursor, cursorPrefix))
	if err != nil || !strings.HasPrefix(cursor, cursorPrefix) {
		return nil, errors.New("oauthrt: filestore: the cursor is not one a page of this package returned")
	}
	k := string(b)
	return &k, nil
}

// page returns, sorted, the first limit (zero or less: defaultPage) of
// keys that start with prefix and come after after (all, when after is
// nil), and the cursor of the next page: "" when no key is left.
func page(keys []string, prefix string, after *string, limit int) ([]string, string) {
	if limit <= 0 {
		limit = defaultPage
	}
	keys = slices.DeleteFunc(keys, func(k string) bool {
		return !strings.HasPrefix(k, prefix) || after != nil && k <= *after
	})
	slices.Sort(keys)
	if len(keys) <= limit {
		return keys, ""
	}
	keys = keys[:limit:limit]
	return keys, cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(keys[limit-1]))
}
