package filestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"

	"github.com/oauthrt/oauthrt"
)

// The lease epochs live in their own file, Path + ".epochs", rather than
// in the lease files or in the token file:
//
//   - A lease file is removed when its lease is released, by this release
//     of the package and by earlier ones, which still share the lease
//     files with it; a counter kept in it would start again from 1.
//   - A release that predates epochs rewrites the token file without the
//     members it does not know; a counter kept there would start again
//     too, and every lease would rewrite the whole token file.
//
// No earlier release touches the epochs file. It is written as the token
// file is (temporary file, sync, rename) under the same lock file, and
// only by a taker of the key's lease, once it has locked the key's lease
// file, so the epochs of one key are handed out in the order its leases
// are taken.

// epochsVersion is the newest layout of the epochs file this package
// reads and writes.
const epochsVersion = 1

// epochs is the epochs file: the epoch of the last lease taken on each
// key, under the name of the key's lease file.
type epochs struct {
	Version int               `json:"version"`
	Epochs  map[string]uint64 `json:"epochs"`
}

func (s *Store) epochsPath() string { return s.Path + ".epochs" }

// readEpochs returns the epochs file at path; a missing or empty file
// holds no epoch. A damaged one is an error wrapping
// [oauthrt.ErrCorruptToken], as a damaged token file is, and is left as
// it is: its epochs cannot be guessed. Its errors never quote the file.
func readEpochs(path string) (*epochs, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("oauthrt: filestore: reading the epochs file: %w", err)
	}
	e := new(epochs)
	if len(bytes.TrimSpace(b)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(e); err != nil {
			return nil, fmt.Errorf("%w: the epochs file is not valid JSON of this package's layout (%T); it was left as it is", oauthrt.ErrCorruptToken, err)
		}
		if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
			return nil, fmt.Errorf("%w: the epochs file has data after its JSON document; it was left as it is", oauthrt.ErrCorruptToken)
		}
		switch {
		case e.Version > epochsVersion:
			return nil, fmt.Errorf("oauthrt: filestore: the epochs file has layout version %d, newer than this package's %d", e.Version, epochsVersion)
		case e.Version < 1:
			return nil, fmt.Errorf("%w: the epochs file has no layout version; it was left as it is", oauthrt.ErrCorruptToken)
		}
	}
	e.Version = epochsVersion
	if e.Epochs == nil {
		e.Epochs = map[string]uint64{}
	}
	return e, nil
}

// raiseEpoch raises the epoch of the key whose lease file is named name
// in the epochs file at path, and returns it. Its caller holds the lock
// of the token file and has just locked that key's lease file, so the
// epochs of one key are handed out in the order its leases are taken.
func raiseEpoch(path, name string) (uint64, error) {
	e, err := readEpochs(path)
	if err != nil {
		return 0, err
	}
	n := e.Epochs[name]
	if n == math.MaxUint64 {
		return 0, fmt.Errorf("oauthrt: filestore: the lease epoch of the key whose lease file is %s has reached its maximum", name)
	}
	n++
	e.Epochs[name] = n
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("oauthrt: filestore: encoding the epochs file: %w", err)
	}
	if err := writeAtomic(path, b, "epochs file"); err != nil {
		return 0, err
	}
	return n, nil
}
