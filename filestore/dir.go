package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/oauthrt/oauthrt"
)

// The layout of Dir keeps one record file per key, so that a write
// rewrites one key's record, under that key's own lock, whatever the
// number of keys: the writes of different keys share no file and no
// lock. A record holds the key's bytes, its token and its grant state;
// the epoch of its last lease is in its lock file (see direpoch.go).
//
//	Dir/VERSION           {"layout": "oauthrt filestore directory", "version": 1}
//	Dir/records/<name>    the key's record, replaced by rename
//	Dir/locks/<name>      the key's epoch; locked for each read-modify-write of the record
//	Dir/leases/<name>     the key's lease file, as in the layout of Path
//
// <name> is keyFileName(key), the hex SHA-256 of the key's bytes.

// dirLayout and dirVersion are what Dir/VERSION holds: the name of this
// layout, and the newest version of it this package reads and writes.
const (
	dirLayout  = "oauthrt filestore directory"
	dirVersion = 1
)

// dirMarker is the file Dir/VERSION.
type dirMarker struct {
	Layout  string `json:"layout"`
	Version int    `json:"version"`
}

func (s *Store) versionPath() string { return filepath.Join(s.Dir, "VERSION") }
func (s *Store) recordsDir() string  { return filepath.Join(s.Dir, "records") }
func (s *Store) locksDir() string    { return filepath.Join(s.Dir, "locks") }
func (s *Store) leasesDir() string   { return filepath.Join(s.Dir, "leases") }

func (s *Store) recordPath(key string) string {
	return filepath.Join(s.recordsDir(), keyFileName(key))
}

func (s *Store) recordLock(key string) string {
	return filepath.Join(s.locksDir(), keyFileName(key))
}

// checkVersion reads Dir/VERSION, and reports whether it exists. A
// directory of a newer layout is refused, and a VERSION this package did
// not write is an error wrapping [oauthrt.ErrCorruptToken]. Its errors
// never quote the file.
func (s *Store) checkVersion() (bool, error) {
	b, err := os.ReadFile(s.versionPath())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("oauthrt: filestore: reading the token directory's VERSION: %w", err)
	}
	var m dirMarker
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return false, fmt.Errorf("%w: the token directory's VERSION is not valid JSON of this package's layout (%T); it was left as it is", oauthrt.ErrCorruptToken, err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return false, fmt.Errorf("%w: the token directory's VERSION has data after its JSON document; it was left as it is", oauthrt.ErrCorruptToken)
	}
	switch {
	case m.Layout != dirLayout:
		return false, fmt.Errorf("%w: the token directory's VERSION does not name this package's layout; it was left as it is", oauthrt.ErrCorruptToken)
	case m.Version > dirVersion:
		return false, fmt.Errorf("oauthrt: filestore: the token directory has layout version %d, newer than this package's %d", m.Version, dirVersion)
	case m.Version < 1:
		return false, fmt.Errorf("%w: the token directory's VERSION has no layout version; it was left as it is", oauthrt.ErrCorruptToken)
	}
	return true, nil
}

// prepareDir makes Dir ready for a write: the directory and its
// subdirectories (mode 0700), and VERSION, written first, so that no
// record is ever written in a directory of another layout.
func (s *Store) prepareDir() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("oauthrt: filestore: creating the token directory: %w", err)
	}
	ok, err := s.checkVersion()
	if err != nil {
		return err
	}
	if !ok {
		if err := s.createVersion(); err != nil {
			return err
		}
	}
	for _, d := range []string{s.recordsDir(), s.locksDir(), s.leasesDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("oauthrt: filestore: creating the token directory: %w", err)
		}
	}
	return nil
}

// createVersion writes Dir/VERSION unless another writer got there
// first: it is written whole to a temporary file and linked to its name,
// which fails if the name exists. A file system without hard links
// renames the temporary file instead.
func (s *Store) createVersion() error {
	b, err := json.Marshal(dirMarker{Layout: dirLayout, Version: dirVersion})
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: encoding the token directory's VERSION: %w", err)
	}
	f, err := os.CreateTemp(s.Dir, "VERSION.tmp-*")
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the token directory's VERSION: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the token directory's VERSION: %w", err)
	}
	switch err := os.Link(tmp, s.versionPath()); {
	case errors.Is(err, fs.ErrExist):
		// Another writer's; it is checked as any other.
		if _, err := s.checkVersion(); err != nil {
			return err
		}
	case err != nil:
		if err := os.Rename(tmp, s.versionPath()); err != nil {
			return fmt.Errorf("oauthrt: filestore: writing the token directory's VERSION: %w", err)
		}
	}
	syncDir(s.Dir)
	return nil
}

// keyRecord is a key's record file in the layout of Dir.
type keyRecord struct {
	// Key is the key when it is valid UTF-8, which a JSON string spells
	// exactly; ByteKey is the standard base64 of one that is not. A
	// record has exactly one of them.
	Key     *string `json:"key,omitempty"`
	ByteKey string  `json:"byte_key,omitempty"`
	// Token is the key's token as the layout of Path keeps it (a JSON
	// object, or the base64 of the sealed token); nil when it has none.
	Token json.RawMessage `json:"token,omitempty"`
	// GrantState is the key's grant state, in the clear.
	GrantState grantRecord `json:"grant_state,omitzero"`
	// The epoch of the key's last lease is in its lock file: see
	// direpoch.go.
}

// newRecord returns the empty record of key.
func newRecord(key string) *keyRecord {
	if utf8.ValidString(key) {
		return &keyRecord{Key: &key}
	}
	return &keyRecord{ByteKey: byteKeyName(key)}
}

// key returns the record's key.
func (r *keyRecord) key() string {
	if r.Key != nil {
		return *r.Key
	}
	return byteKeyOf(r.ByteKey)
}

// empty reports whether the record holds nothing worth a file.
func (r *keyRecord) empty() bool {
	return r.Token == nil && r.GrantState == (grantRecord{})
}

// parseKeyRecord decodes the record file named name. A record that does
// not hold the key whose name it has (copied or renamed by hand) is
// corrupt too: it would answer for another key. Its errors never quote
// the file.
func parseKeyRecord(name string, b []byte) (*keyRecord, error) {
	r := new(keyRecord)
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("%w: the record file %s is not valid JSON of this package's layout (%T); it was left as it is", oauthrt.ErrCorruptToken, name, err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, fmt.Errorf("%w: the record file %s has data after its JSON document; it was left as it is", oauthrt.ErrCorruptToken, name)
	}
	switch {
	case (r.Key == nil) == (r.ByteKey == ""):
		return nil, fmt.Errorf("%w: the record file %s does not hold exactly one of key and byte_key; it was left as it is", oauthrt.ErrCorruptToken, name)
	case r.ByteKey != "" && !isByteKeyName(r.ByteKey):
		return nil, fmt.Errorf("%w: the record file %s has a byte_key that is not the base64 of a key that is not valid UTF-8; it was left as it is", oauthrt.ErrCorruptToken, name)
	case keyFileName(r.key()) != name:
		return nil, fmt.Errorf("%w: the record file %s holds the record of another key; it was left as it is", oauthrt.ErrCorruptToken, name)
	}
	return r, nil
}

// readRecord returns key's record, read without a lock (writes replace
// it atomically): an empty one when it has none.
func (s *Store) readRecord(key string) (*keyRecord, error) {
	name := keyFileName(key)
	b, err := os.ReadFile(filepath.Join(s.recordsDir(), name))
	if errors.Is(err, fs.ErrNotExist) {
		return newRecord(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: reading the record of key %q: %w", key, err)
	}
	r, err := parseKeyRecord(name, b)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: key %q: %w", key, err)
	}
	return r, nil
}

// readDirRecord returns key's record for a read: the directory's layout
// is checked first.
func (s *Store) readDirRecord(key string) (*keyRecord, error) {
	if _, err := s.checkVersion(); err != nil {
		return nil, err
	}
	return s.readRecord(key)
}

// updateRecord applies change to key's record under the key's lock, as
// modifyRecord does.
func (s *Store) updateRecord(ctx context.Context, key string, change func(*keyRecord) (bool, error)) error {
	if err := s.prepareDir(); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, s.recordLock(key), "key's record")
	if err != nil {
		return err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.modifyRecord(key, change)
}

// modifyRecord applies change to key's record, and writes it back if
// change reports a change: atomically, as the layout of Path writes its
// file, or, when nothing is left in it, by removing it. Its caller holds
// the key's lock. An error from change is returned as it is, and nothing
// is written; so is a record this package cannot read, which is left as
// it is. The key's first record brings its lease file along (see
// placeLeaseFile).
func (s *Store) modifyRecord(key string, change func(*keyRecord) (bool, error)) error {
	r, err := s.readRecord(key)
	if err != nil {
		return err
	}
	first := r.empty() // no record yet: an empty one is never left in place
	if write, err := change(r); !write || err != nil {
		return err
	}
	path := s.recordPath(key)
	if r.empty() {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("oauthrt: filestore: removing the record of key %q: %w", key, err)
		}
		syncDir(s.recordsDir())
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: encoding the record of key %q: %w", key, err)
	}
	if first {
		s.placeLeaseFile(key)
	}
	return writeAtomic(path, b, "record file")
}

// placeLeaseFile creates key's lease file, empty and unlocked, unless it
// exists, so that the key's first lease finds its file in place as every
// later one does (a released lease's file stays), rather than creating
// it in the directory every key's leases share while a refresh waits.
// An empty unlocked file is what that lease would have created, and it
// locks it as it is. The file is not synced: nothing in it needs to
// outlive a crash, which ends every lease, and a lease that finds it
// missing creates it, as it does when this fails.
func (s *Store) placeLeaseFile(key string) {
	if f, err := openOrCreate(filepath.Join(s.leasesDir(), keyFileName(key)), false); err == nil {
		f.Close()
	}
}

// dirLease returns the lease of key in the layout of Dir, not yet taken:
// its file is in Dir/leases, the lock of its checks is the key's own,
// and its epochs are in the key's lock file. check reads the key's
// record first, as leaseOf says.
func (s *Store) dirLease(key string, check bool) (*fileLease, error) {
	if err := s.prepareDir(); err != nil {
		return nil, err
	}
	// A record this package cannot write is refused before a refresh
	// whose token could not be saved.
	if check {
		if _, err := s.readRecord(key); err != nil {
			return nil, err
		}
	}
	return &fileLease{
		path:     filepath.Join(s.leasesDir(), keyFileName(key)),
		lock:     s.recordLock(key),
		lockWhat: "key's record",
		keep:     true,
		raise:    func(lf *os.File) (uint64, error) { return raiseLockEpoch(lf, key) },
		latest:   func(lf *os.File) (uint64, error) { return readEpochSlots(lf, key) },
	}, nil
}

// isKeyFileName reports whether name is one keyFileName returns: 64
// lowercase hex digits. Other names in Dir/records (temporary files of
// writes under way) are not records.
func isKeyFileName(name string) bool {
	if len(name) != 64 {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// eachRecord calls f with every record in Dir, in no order, reading
// them as Load does, without a lock. A record removed meanwhile is
// skipped; one this package cannot read is an error.
func (s *Store) eachRecord(ctx context.Context, f func(*keyRecord)) error {
	if _, err := s.checkVersion(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.recordsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("oauthrt: filestore: reading the token directory: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if !isKeyFileName(name) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.recordsDir(), name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("oauthrt: filestore: reading the record file %s: %w", name, err)
		}
		r, err := parseKeyRecord(name, b)
		if err != nil {
			return fmt.Errorf("oauthrt: filestore: %w", err)
		}
		f(r)
	}
	return nil
}
