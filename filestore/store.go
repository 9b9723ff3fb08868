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

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
)

// Store is an [oauthrt.TokenStore] and [oauthrt.Locker] on one JSON file.
// It is safe for concurrent use by goroutines and by processes on one
// host. See the package documentation for the file's layout and its
// guarantees.
type Store struct {
	// Path is the token file. Required: with an empty Path every method
	// fails. The lock file Path + ".lock" is created beside it.
	Path string

	// LeaseTTL is how long a refresh lease lasts when its holder neither
	// releases it nor exits. Zero means oauthrt.DefaultLeaseTTL.
	LeaseTTL time.Duration

	// AEAD encrypts the tokens in the file. nil means they are stored in
	// the clear (the file is still readable only by its owner).
	AEAD cipher.AEAD
}

var (
	_ oauthrt.TokenStore = (*Store)(nil)
	_ oauthrt.Locker     = (*Store)(nil)
)

// fileVersion is the layout this package reads and writes.
const fileVersion = 1

// document is the token file.
type document struct {
	Version int                        `json:"version"`
	Tokens  map[string]json.RawMessage `json:"tokens"`
	Leases  map[string]leaseRecord     `json:"leases,omitempty"`
}

type leaseRecord struct {
	Holder string    `json:"holder"`
	PID    int       `json:"pid"`
	Until  time.Time `json:"until"`
}

// Load returns the token stored under key, or an error wrapping
// [oauthrt.ErrNoToken] when there is none. It reads the file without
// locking: writes replace it atomically.
func (s *Store) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	doc, err := s.read()
	if err != nil {
		return nil, err
	}
	raw, ok := doc.Tokens[key]
	if !ok {
		return nil, fmt.Errorf("%w under key %q", oauthrt.ErrNoToken, key)
	}
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

// Save stores tok under key, keeping the other keys as they are. A nil
// tok is an error.
func (s *Store) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	b, err := tokencodec.Encode(tok, s.AEAD, key)
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: key %q: %w", key, err)
	}
	raw := wrap(b)
	return s.update(ctx, func(doc *document) bool {
		doc.Tokens[key] = raw
		return true
	})
}

// String describes the store without its tokens or its key.
func (s Store) String() string {
	return fmt.Sprintf("filestore.Store{Path: %q, Encrypted: %t}", s.Path, s.AEAD != nil)
}

func (s *Store) check(ctx context.Context) error {
	if s.Path == "" {
		return errors.New("oauthrt: filestore: Store.Path is empty")
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
		return &document{Version: fileVersion, Tokens: map[string]json.RawMessage{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: reading the token file: %w", err)
	}
	return parse(b)
}

// parse decodes a token file. Its errors never quote the file.
func parse(b []byte) (*document, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return &document{Version: fileVersion, Tokens: map[string]json.RawMessage{}}, nil
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
	return doc, nil
}

// update applies change to the file under the cross-process file lock,
// and writes the file back if change reports a change.
func (s *Store) update(ctx context.Context, change func(*document) bool) error {
	unlock, err := lockFile(ctx, s.Path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	doc, err := s.read()
	if err != nil {
		return err
	}
	if !change(doc) {
		return nil
	}
	doc.Version = fileVersion
	return writeAtomic(s.Path, doc)
}

// writeAtomic replaces path with doc: temp file, sync, rename, sync of
// the directory.
func writeAtomic(path string, doc *document) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: encoding the token file: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the token file: %w", err)
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
		return fmt.Errorf("oauthrt: filestore: writing the token file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the token file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("oauthrt: filestore: syncing the token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the token file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("oauthrt: filestore: replacing the token file: %w", err)
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
