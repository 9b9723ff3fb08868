package filestore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Commit stores tok under key, as Save does, only if the store holds prev
// under key: a token with prev's [oauthrt.Fingerprint], or, when prev is
// nil, no token at all. Otherwise it stores nothing and returns an error
// wrapping [oauthrt.ErrCommitConflict]; a stored token this Store cannot
// read (corrupt, or sealed with another AEAD) is not prev either, and the
// error wraps its cause too. A nil tok is an error.
//
// The comparison and the write are one step for every process on the
// host: both happen under the lock file's lock, which every write of the
// file holds (with Dir, under the key's lock, which every write of the
// key's record holds). The stored token is decrypted for the
// comparison, so the file keeps no fingerprint of its own that a write
// by an earlier release of this package could leave stale. A successful
// Commit deletes the key's grant state in the same write.
func (s *Store) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	raw, err := s.encode(key, tok)
	if err != nil {
		return err
	}
	if s.Dir != "" {
		return s.updateRecord(ctx, key, s.commitRecord(key, prev, raw))
	}
	return s.update(ctx, s.commitDoc(key, prev, raw))
}

// commitLocked writes raw, an encoded token, under key if the store
// holds prev there, as Commit does; its caller holds the lock that
// Commit takes (a lease's lock, which is the same file).
func (s *Store) commitLocked(key string, prev *oauth2.Token, raw json.RawMessage) error {
	if s.Dir != "" {
		return s.modifyRecord(key, s.commitRecord(key, prev, raw))
	}
	return s.rewrite(s.commitDoc(key, prev, raw))
}

// commitDoc is Commit's change of the token file: raw goes under key if
// the file holds prev there.
func (s *Store) commitDoc(key string, prev *oauth2.Token, raw json.RawMessage) func(*document) (bool, error) {
	return func(doc *document) (bool, error) {
		held, ok := doc.token(key)
		if err := s.holds(key, held, ok, prev); err != nil {
			return false, err
		}
		doc.put(key, raw)
		return true, nil
	}
}

// commitRecord is Commit's change of key's record, with Dir: raw goes in
// if the record holds prev.
func (s *Store) commitRecord(key string, prev *oauth2.Token, raw json.RawMessage) func(*keyRecord) (bool, error) {
	return func(r *keyRecord) (bool, error) {
		if err := s.holds(key, r.Token, r.Token != nil, prev); err != nil {
			return false, err
		}
		r.Token, r.GrantState = raw, grantRecord{}
		return true, nil
	}
}

// holds returns nil if held, the token stored under key (ok false when
// none is), is prev, as Commit compares them, and an error wrapping
// [oauthrt.ErrCommitConflict] otherwise.
func (s *Store) holds(key string, held json.RawMessage, ok bool, prev *oauth2.Token) error {
	switch {
	case !ok && prev == nil:
	case !ok:
		return fmt.Errorf("oauthrt: filestore: committing the token of key %q: %w (none is stored)", key, oauthrt.ErrCommitConflict)
	case prev == nil:
		return fmt.Errorf("oauthrt: filestore: committing the token of key %q: %w (one is stored, and none was expected)", key, oauthrt.ErrCommitConflict)
	default:
		tok, err := s.decode(key, held)
		if err != nil {
			return fmt.Errorf("oauthrt: filestore: committing the token of key %q: %w, which cannot be read: %w", key, oauthrt.ErrCommitConflict, err)
		}
		if oauthrt.Fingerprint(tok) != oauthrt.Fingerprint(prev) {
			return fmt.Errorf("oauthrt: filestore: committing the token of key %q: %w", key, oauthrt.ErrCommitConflict)
		}
	}
	return nil
}
