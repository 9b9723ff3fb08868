package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
)

var _ oauthrt.Inspector = (*Store)(nil)

// Inspect returns, in byte order, the records of up to limit keys (zero
// or less: 1000) that start with prefix and hold a token, after those of
// the page that returned cursor ("": from the first), paged as ListKeys
// pages keys; next is "" after the last page. Each page reads the token
// file and the epochs file (with Dir, every record, and the key's lock
// file for its epoch), and the lease file of each key of the page. A
// lease is reported held while its file holds a record of a holder
// whose deadline, by the wall clock, has not passed: the lease of a
// process that died shows until that deadline, though the kernel freed
// its lock at once. See [oauthrt.Inspector].
func (s *Store) Inspect(ctx context.Context, prefix, cursor string, limit int) (records []oauthrt.Record, next string, err error) {
	if s.Dir != "" {
		return s.inspectDir(ctx, prefix, cursor, limit)
	}
	doc, after, err := s.readFrom(ctx, cursor)
	if err != nil {
		return nil, "", err
	}
	e, err := readEpochs(s.epochsPath())
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
	keys, next := page(all, prefix, after, limit)
	now := wallNow()
	records = make([]oauthrt.Record, len(keys))
	for i, k := range keys {
		raw, _ := doc.token(k)
		name := keyFileName(k)
		records[i] = s.record(k, raw)
		records[i].State = doc.grantState(k).state()
		records[i].Lease = leaseInfo(filepath.Join(s.Path+".leases", name), now)
		records[i].Lease.Epoch = e.Epochs[name]
	}
	return records, next, nil
}

// inspectDir is Inspect in the layout of Dir.
func (s *Store) inspectDir(ctx context.Context, prefix, cursor string, limit int) ([]oauthrt.Record, string, error) {
	after, err := s.pageFrom(ctx, cursor)
	if err != nil {
		return nil, "", err
	}
	found := map[string]*keyRecord{}
	var all []string
	err = s.eachRecord(ctx, func(r *keyRecord) {
		if r.Token != nil {
			k := r.key()
			found[k] = r
			all = append(all, k)
		}
	})
	if err != nil {
		return nil, "", err
	}
	keys, next := page(all, prefix, after, limit)
	now := wallNow()
	records := make([]oauthrt.Record, len(keys))
	for i, k := range keys {
		r, name := found[k], keyFileName(k)
		records[i] = s.record(k, r.Token)
		records[i].State = r.GrantState.state()
		records[i].Lease = leaseInfo(filepath.Join(s.leasesDir(), name), now)
		if records[i].Lease.Epoch, err = lockEpoch(filepath.Join(s.locksDir(), name), k); err != nil {
			return nil, "", err
		}
	}
	return records, next, nil
}

// record returns the record of key's token raw, as it sits in the file:
// with its Err, and no Token, when it does not decode.
func (s *Store) record(key string, raw json.RawMessage) oauthrt.Record {
	r := oauthrt.Record{Key: key}
	b, err := unwrap(raw)
	if err == nil {
		r.Sealed = tokencodec.IsSealed(b)
		r.Token, r.KeyID, err = tokencodec.DecodeKey(b, s.AEAD, key)
	}
	if err != nil {
		r.Token, r.Err = nil, fmt.Errorf("oauthrt: filestore: key %q: %w", key, err)
	}
	return r
}

// leaseInfo reads the lease file at path: the holder and deadline of its
// record, unless it has none, names no holder, or has lapsed at now.
func leaseInfo(path string, now time.Time) oauthrt.LeaseInfo {
	until, holder, ok := readRecord(path)
	if !ok || holder == "" || !now.Before(until) {
		return oauthrt.LeaseInfo{}
	}
	return oauthrt.LeaseInfo{Holder: holder, Until: until}
}

// lockEpoch reads the epoch in key's lock file at path, without taking
// its lock: 0 when it does not exist.
func lockEpoch(path, key string) (uint64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("oauthrt: filestore: reading the lock file of key %q: %w", key, err)
	}
	defer f.Close()
	return readEpochSlots(f, key)
}
