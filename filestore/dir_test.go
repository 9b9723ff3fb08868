package filestore_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/storetest"
)

func TestConformanceDir(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		dir := filepath.Join(t.TempDir(), "tokens")
		return storetest.Backend{
			Open: func(o storetest.Options) oauthrt.TokenStore {
				return &filestore.Store{Dir: dir, LeaseTTL: o.LeaseTTL, AEAD: o.AEAD}
			},
			Raw: func(key string) ([]byte, error) { return rawDirToken(dir, key) },
			Put: func(key string, raw []byte) error { return putDirToken(dir, key, raw) },
		}
	})
}

// recordFile is the path of key's record in the store directory dir, as
// the package documentation gives it.
func recordFile(dir, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(dir, "records", hex.EncodeToString(sum[:]))
}

// readRecord decodes key's record file as generic JSON.
func readRecord(dir, key string) (map[string]json.RawMessage, error) {
	b, err := os.ReadFile(recordFile(dir, key))
	if err != nil {
		return nil, err
	}
	var r map[string]json.RawMessage
	return r, json.Unmarshal(b, &r)
}

// rawDirToken returns the encoded token in key's record: the JSON
// object, or the bytes of the base64 string.
func rawDirToken(dir, key string) ([]byte, error) {
	r, err := readRecord(dir, key)
	if err != nil {
		return nil, err
	}
	raw, ok := r["token"]
	if !ok {
		return nil, fmt.Errorf("no token in the record of %q", key)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return base64.StdEncoding.DecodeString(s)
	}
	return raw, nil
}

// putDirToken writes raw as key's token into its record, as the package
// does: valid JSON objects as they are, anything else in base64.
func putDirToken(dir, key string, raw []byte) error {
	r, err := readRecord(dir, key)
	if errors.Is(err, os.ErrNotExist) {
		r, err = map[string]json.RawMessage{}, nil
		if utf8.ValidString(key) {
			r["key"], _ = json.Marshal(key)
		} else {
			r["byte_key"], _ = json.Marshal([]byte(key))
		}
	}
	if err != nil {
		return err
	}
	if len(raw) > 0 && raw[0] == '{' && json.Valid(raw) {
		r["token"] = raw
	} else {
		r["token"], _ = json.Marshal(base64.StdEncoding.EncodeToString(raw))
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o700); err != nil {
		return err
	}
	return os.WriteFile(recordFile(dir, key), b, 0o600)
}
