package filestore

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
)

// Store is an [oauthrt.TokenStore], [oauthrt.LeaseLocker],
// [oauthrt.Committer], [oauthrt.GrantStateStore], [oauthrt.KeyLister],
// [oauthrt.GrantStateLister], [oauthrt.Deleter], [oauthrt.SnapshotLoader],
// [oauthrt.LeaseLoader] and [oauthrt.Inspector] on files, whose leases are
// [oauthrt.FencedLease]s and [oauthrt.CommitReleaser]s: one JSON file
// (Path), or a directory with one record file per key (Dir). It is safe
// for concurrent use by goroutines and by processes on one host. See the
// package documentation for the layouts and their guarantees.
//
// Set exactly one of Path and Dir. Pick Dir for more than a few dozen
// keys, or for many processes writing at once: each write of Path
// rewrites the whole file under one lock, so its writes get slower as
// the file fills and every key waits for every other, while a write of
// Dir rewrites one key's record under that key's own lock. Pick Path for
// a command-line tool with a handful of grants, and to keep using a file
// written by an earlier release of this package: the two layouts do not
// read each other. With Path, a lease holder's renewals and its commit
// wait for that one lock behind every other write; a holder kept waiting
// longer than LeaseTTL loses its lease after it has presented its refresh
// token, and another process may present it again. Four processes of
// eight goroutines each, refreshing 300 keys of one file under the race
// detector (a tenfold slowdown), have kept holders waiting that long on a
// 2-core machine; with Dir, each key's writes wait only for that key's.
type Store struct {
	// Path is the token file of the single-file layout. The lock file
	// Path + ".lock", the lease directory Path + ".leases" and the lease
	// epochs file Path + ".epochs" are created beside it. Exactly one of
	// Path and Dir must be set: with both, or neither, every method
	// fails.
	Path string

	// Dir is the directory of the layout with one record file per key,
	// created (mode 0700) on the first write if missing. Give it a
	// directory of its own: the store creates VERSION and the
	// subdirectories records, locks and leases in it. Empty means the
	// layout of Path.
	Dir string

	// LeaseTTL is how long a refresh lease lasts when its holder neither
	// renews nor releases it; a lease whose process exits ends at once.
	// It holds for a holder that is alive but does not run (stopped by
	// SIGSTOP, in a paused VM) too: once LeaseTTL has passed since it
	// took or last renewed the lease, another process takes the lease
	// over, on Unix, and the stopped holder's Renew fails when it runs
	// again. Zero or negative means [oauthrt.DefaultLeaseTTL]. A positive
	// LeaseTTL shorter than [oauthrt.MinLeaseTTL] makes Lock and
	// TakeLease fail. A lease taken by Lock is never renewed: keep its
	// TTL longer than [oauthrt.RefreshTimeout].
	LeaseTTL time.Duration

	// AEAD encrypts the tokens in the file. nil means they are stored in
	// the clear (the file is still readable only by its owner). Grant
	// states and lease epochs, which hold no token, are always in the
	// clear.
	AEAD cipher.AEAD
}

var (
	_ oauthrt.TokenStore       = (*Store)(nil)
	_ oauthrt.LeaseLocker      = (*Store)(nil)
	_ oauthrt.Committer        = (*Store)(nil)
	_ oauthrt.GrantStateStore  = (*Store)(nil)
	_ oauthrt.KeyLister        = (*Store)(nil)
	_ oauthrt.GrantStateLister = (*Store)(nil)
	_ oauthrt.Deleter          = (*Store)(nil)
)

// fileVersion is the newest layout this package reads and writes. It
// writes layout 1 while every key in the file is valid UTF-8, and layout
// 2, which adds "byte_keys", once one is not: a package of layout 1 then
// refuses the file instead of rewriting it without those tokens.
const fileVersion = 2

// document is the token file.
type document struct {
	Version int                        `json:"version"`
	Tokens  map[string]json.RawMessage `json:"tokens"`
	// ByteKeys holds the tokens of the keys that are not valid UTF-8,
	// which a JSON string cannot spell, each under the standard base64
	// of the key's bytes. Being apart from Tokens, they cannot collide
	// with a key that reads like base64.
	ByteKeys map[string]json.RawMessage `json:"byte_keys,omitempty"`
	// GrantStates holds the keys' grant states, under the same names as
	// their tokens: a key that is valid UTF-8 in GrantStates, and the
	// base64 of one that is not in ByteKeyGrantStates. Neither changes
	// the layout version: see grantstate.go.
	GrantStates        map[string]grantRecord `json:"grant_states,omitempty"`
	ByteKeyGrantStates map[string]grantRecord `json:"byte_key_grant_states,omitempty"`
	// A "leases" object, which earlier versions wrote, is ignored, and
	// dropped when the file is written.
}

// token returns the token stored under key.
func (d *document) token(key string) (json.RawMessage, bool) {
	if utf8.ValidString(key) {
		raw, ok := d.Tokens[key]
		return raw, ok
	}
	raw, ok := d.ByteKeys[byteKeyName(key)]
	return raw, ok
}

// put stores raw under key, and deletes the key's grant state: a new
// token starts its grant afresh.
func (d *document) put(key string, raw json.RawMessage) {
	d.putGrantState(key, grantRecord{})
	if utf8.ValidString(key) {
		d.Tokens[key] = raw
		return
	}
	if d.ByteKeys == nil {
		d.ByteKeys = map[string]json.RawMessage{}
	}
	d.ByteKeys[byteKeyName(key)] = raw
}

// byteKeyName is the name in "byte_keys" and "byte_key_grant_states" of
// a key that is not valid UTF-8.
func byteKeyName(key string) string {
	return base64.StdEncoding.EncodeToString([]byte(key))
}

// isByteKeyName reports whether name is byteKeyName of a key that is not
// valid UTF-8, spelled exactly as byteKeyName spells it.
func isByteKeyName(name string) bool {
	b, err := base64.StdEncoding.DecodeString(name)
	return err == nil && !utf8.Valid(b) && base64.StdEncoding.EncodeToString(b) == name
}

// layout is the version the document is written with: the oldest that
// holds it.
func (d *document) layout() int {
	if len(d.ByteKeys) > 0 {
		return 2
	}
	return 1
}

// Load returns the token stored under key, or an error wrapping
// [oauthrt.ErrNoToken] when there is none. It reads the file (the key's
// record, with Dir) without locking: writes replace it atomically.
func (s *Store) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	ok := false
	if s.Dir != "" {
		r, err := s.readDirRecord(key)
		if err != nil {
			return nil, err
		}
		raw, ok = r.Token, r.Token != nil
	} else {
		doc, err := s.read()
		if err != nil {
			return nil, err
		}
		raw, ok = doc.token(key)
	}
	if !ok {
		return nil, fmt.Errorf("%w under key %q", oauthrt.ErrNoToken, key)
	}
	return s.decode(key, raw)
}

// decode returns the token raw holds, as it sits in the file under key.
func (s *Store) decode(key string, raw json.RawMessage) (*oauth2.Token, error) {
	b, err := unwrap(raw)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: key %q: %w", key, err)
	}
	tok, err := tokencodec.Decode(b, s.AEAD, key)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: key %q: %w", key, err)
	}
	return tok, nil
}

// encode returns how tok sits in the file under key.
func (s *Store) encode(key string, tok *oauth2.Token) (json.RawMessage, error) {
	b, err := tokencodec.Encode(tok, s.AEAD, key)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: key %q: %w", key, err)
	}
	return wrap(b), nil
}

// Save stores tok under key, keeping the other keys as they are, and
// deletes the key's grant state in the same write. A nil tok is an
// error.
func (s *Store) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	raw, err := s.encode(key, tok)
	if err != nil {
		return err
	}
	if s.Dir != "" {
		return s.updateRecord(ctx, key, func(r *keyRecord) (bool, error) {
			r.Token, r.GrantState = raw, grantRecord{}
			return true, nil
		})
	}
	return s.update(ctx, func(doc *document) (bool, error) {
		doc.put(key, raw)
		return true, nil
	})
}

// String describes the store without its tokens or its key.
func (s Store) String() string {
	if s.Dir != "" {
		return fmt.Sprintf("filestore.Store{Dir: %q, Encrypted: %t}", s.Dir, s.AEAD != nil)
	}
	return fmt.Sprintf("filestore.Store{Path: %q, Encrypted: %t}", s.Path, s.AEAD != nil)
}

func (s *Store) check(ctx context.Context) error {
	switch {
	case s.Path == "" && s.Dir == "":
		return errors.New("oauthrt: filestore: Store.Path is empty, and so is Store.Dir: set one of them")
	case s.Path != "" && s.Dir != "":
		return errors.New("oauthrt: filestore: Store.Path and Store.Dir are both set: set only one of them")
	}
	return ctx.Err()
}

// wrap returns how an encoded token sits in the file: a plain record as a
// JSON object, anything else (a sealed token) as a base64 string.
func wrap(b []byte) json.RawMessage {
	if len(b) > 0 && b[0] == '{' && json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	return s
}

// unwrap is the inverse of wrap.
func unwrap(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: token is not a JSON string", oauthrt.ErrCorruptToken)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: token is not base64", oauthrt.ErrCorruptToken)
	}
	return b, nil
}

// read returns the file's contents; a missing or empty file is an empty
// document.
func (s *Store) read() (*document, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return &document{Version: 1, Tokens: map[string]json.RawMessage{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: reading the token file: %w", err)
	}
	return parse(b)
}

// parse decodes a token file. Its errors never quote the file.
func parse(b []byte) (*document, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return &document{Version: 1, Tokens: map[string]json.RawMessage{}}, nil
	}
	doc := new(document)
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(doc); err != nil {
		return nil, fmt.Errorf("%w: the token file is not valid JSON of this package's layout (%T); it was left as it is", oauthrt.ErrCorruptToken, err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, fmt.Errorf("%w: the token file has data after its JSON document; it was left as it is", oauthrt.ErrCorruptToken)
	}
	switch {
	case doc.Version > fileVersion:
		return nil, fmt.Errorf("oauthrt: filestore: the token file has layout version %d, newer than this package's %d", doc.Version, fileVersion)
	case doc.Version < 1:
		return nil, fmt.Errorf("%w: the token file has no layout version; it was left as it is", oauthrt.ErrCorruptToken)
	}
	if doc.Tokens == nil {
		doc.Tokens = map[string]json.RawMessage{}
	}
	// A valid UTF-8 key in byte_keys would shadow its entry in "tokens";
	// a second spelling of one key, another entry.
	for name := range doc.ByteKeys {
		if !isByteKeyName(name) {
			return nil, fmt.Errorf("%w: the token file's byte_keys has a name that is not the base64 of a key that is not valid UTF-8; it was left as it is", oauthrt.ErrCorruptToken)
		}
	}
	for name := range doc.ByteKeyGrantStates {
		if !isByteKeyName(name) {
			return nil, fmt.Errorf("%w: the token file's byte_key_grant_states has a name that is not the base64 of a key that is not valid UTF-8; it was left as it is", oauthrt.ErrCorruptToken)
		}
	}
	return doc, nil
}

// update applies change to the file under the cross-process file lock,
// and writes the file back if change reports a change. An error from
// change is returned as it is, and nothing is written.
func (s *Store) update(ctx context.Context, change func(*document) (bool, error)) error {
	unlock, err := lockFile(ctx, s.Path+".lock", "token file")
	if err != nil {
		return err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.rewrite(change)
}

// rewrite applies change to the file, and writes the file back if change
// reports a change, as update does; its caller holds the lock of
// Path + ".lock".
func (s *Store) rewrite(change func(*document) (bool, error)) error {
	doc, err := s.read()
	if err != nil {
		return err
	}
	if write, err := change(doc); !write || err != nil {
		return err
	}
	doc.Version = doc.layout()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: encoding the token file: %w", err)
	}
	return writeAtomic(s.Path, b, "token file")
}

// writeAtomic replaces path with b, a line of JSON without its newline:
// temp file, sync, rename, sync of the directory. what names the file in
// errors ("token file").
func writeAtomic(path string, b []byte, what string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the %s: %w", what, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600 already; Chmod makes sure of it
	// whatever the platform.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the %s: %w", what, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the %s: %w", what, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("oauthrt: filestore: syncing the %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the %s: %w", what, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("oauthrt: filestore: replacing the %s: %w", what, err)
	}
	ok = true
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable, where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() // not supported everywhere (Windows); best effort
		d.Close()
	}
}
