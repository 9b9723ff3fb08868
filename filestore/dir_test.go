package filestore_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/storetest"
	"golang.org/x/oauth2"
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

// crc is the CRC-32 of s as the epoch slots spell it.
func crc(s string) string { return fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(s))) }

// TestDirEpochSlots: the epoch is the greater of the lock file's two
// slots that read whole, so a torn write of one leaves the epoch before
// it; a lock file with no whole slot is an error wrapping
// ErrCorruptToken for TakeLease, and is left alone, unless its first
// slot was never written (a torn first epoch).
func TestDirEpochSlots(t *testing.T) {
	slot := func(n int) string {
		line := fmt.Sprintf("epoch %020d", n)
		return line + " " + crc(line) + "\n"
	}
	pad := func(first, second string) string {
		return first + strings.Repeat("\x00", 512-len(first)) + second
	}
	for name, tc := range map[string]struct {
		content string
		next    uint64 // 0: corrupt
	}{
		"empty":               {"", 1},
		"both whole":          {pad(slot(6), slot(5)), 7},
		"second greater":      {pad(slot(6), slot(7)), 8},
		"first torn":          {pad("epoch 00000000000000000008 00000000\n", slot(7)), 8},
		"second torn":         {pad(slot(6), "epoch 0000000000000000"), 7},
		"torn first epoch":    {pad("", "epoch 0000000"), 1},
		"garbage":             {"garbage", 0},
		"both torn":           {pad("epoch 00000000000000000008 00000000\n", "epoch 000"), 0},
		"longer than 2 slots": {pad(slot(6), slot(5)) + "more", 0},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tokens")
			s := &filestore.Store{Dir: dir}
			if err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"}); err != nil {
				t.Fatal(err)
			}
			lock := filepath.Join(dir, "locks", filepath.Base(recordFile(dir, "k")))
			if err := os.WriteFile(lock, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := s.TakeLease(ctx(), "k")
			if tc.next == 0 {
				if !errors.Is(err, oauthrt.ErrCorruptToken) {
					t.Errorf("TakeLease: err = %v, want ErrCorruptToken", err)
				}
				if err == nil {
					l.Release()
				}
				if b, _ := os.ReadFile(lock); string(b) != tc.content {
					t.Errorf("the lock file was changed to %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if e := epochOf(t, l); e != tc.next {
				t.Errorf("epoch %d, want %d", e, tc.next)
			}
		})
	}
}

// TestDirModesAndNoTempFilesLeft: the directory, its parents and its
// subdirectories are created with mode 0700, and every file in them has
// mode 0600; no temporary file is left behind.
func TestDirModesAndNoTempFilesLeft(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "new")
	dir := filepath.Join(parent, "tokens")
	s := &filestore.Store{Dir: dir, LeaseTTL: time.Minute}
	for i := range 3 {
		k := fmt.Sprint("k", i)
		if err := s.Save(ctx(), k, &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveGrantState(ctx(), k, oauthrt.GrantState{Failures: 1}); err != nil {
			t.Fatal(err)
		}
		l, err := s.TakeLease(ctx(), k)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
	files := 0
	err := filepath.WalkDir(parent, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if m := st.Mode().Perm(); m != want {
			t.Errorf("%s has mode %v, want %v", path, m, want)
		}
		if strings.Contains(d.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// VERSION, and a record, a lock file and a lease file per key.
	if want := 1 + 3*3; files != want && runtime.GOOS != "windows" {
		t.Errorf("%d files in the directory, want %d", files, want)
	}
}

// TestDirLayoutIsDocumentedOne: VERSION, and each key's record named by
// the SHA-256 of its bytes, holding the key, its token, its grant state
// and its epoch, as the package documentation shows them; a key that is
// not valid UTF-8 is spelled in base64; Delete leaves the epoch alone.
func TestDirLayoutIsDocumentedOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	s := &filestore.Store{Dir: dir, LeaseTTL: time.Minute}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, k := range []string{"org/1", "\xff"} {
		if err := s.Save(ctx(), k, &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: exp}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			l, err := s.TakeLease(ctx(), k)
			if err != nil {
				t.Fatal(err)
			}
			l.Release()
		}
	}
	at := time.Date(2031, 2, 3, 4, 5, 6, 7, time.UTC)
	if err := s.SaveGrantState(ctx(), "org/1", oauthrt.GrantState{DeadToken: "fp", DeadCode: "invalid_grant", DeadAt: at}); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"layout":"oauthrt filestore directory","version":1}`+"\n"; got != want {
		t.Errorf("VERSION = %q, want %q", got, want)
	}
	r, err := readRecord(dir, "org/1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"key":         `"org/1"`,
		"token":       `{"access_token":"at-1","refresh_token":"rt-1","expiry":"2030-01-02T03:04:05Z"}`,
		"grant_state": `{"dead_token":"fp","dead_code":"invalid_grant","dead_at":"2031-02-03T04:05:06.000000007Z"}`,
	}
	got := map[string]string{}
	for k, v := range r {
		got[k] = string(v)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record of org/1 (-want +got):\n%s", diff)
	}
	r, err = readRecord(dir, "\xff")
	if err != nil {
		t.Fatal(err)
	}
	if string(r["byte_key"]) != `"/w=="` || r["key"] != nil {
		t.Errorf("record of \\xff: key %s, byte_key %s; want byte_key \"/w==\" only", r["key"], r["byte_key"])
	}
	if _, err := os.Stat(filepath.Join(dir, "leases", filepath.Base(recordFile(dir, "org/1")))); err != nil {
		t.Errorf("the lease file of org/1, released: %v, want it left in place", err)
	}
	// The lock file holds the epoch of the last lease, 2, in the slot of
	// even epochs, at offset 0; epoch 1 is in the other, at offset 512.
	lock := filepath.Join(dir, "locks", filepath.Base(recordFile(dir, "org/1")))
	b, err = os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 512+36 || string(b[:36]) != "epoch 00000000000000000002 "+crc("epoch 00000000000000000002")+"\n" ||
		string(b[512:]) != "epoch 00000000000000000001 "+crc("epoch 00000000000000000001")+"\n" {
		t.Errorf("lock file of org/1 = %q, want epoch 2 at offset 0 and epoch 1 at offset 512", b)
	}

	// Delete removes the record; the epoch stays, and goes on growing.
	if err := s.Delete(ctx(), "org/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(recordFile(dir, "org/1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the record of a deleted key: %v, want it removed", err)
	}
	l, err := s.TakeLease(ctx(), "org/1")
	if err != nil {
		t.Fatal(err)
	}
	if e := epochOf(t, l); e != 3 {
		t.Errorf("the lease after Delete has epoch %d, want 3", e)
	}
	l.Release()

	// A record left with nothing is removed.
	if err := s.SaveGrantState(ctx(), "state only", oauthrt.GrantState{Failures: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveGrantState(ctx(), "state only", oauthrt.GrantState{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(recordFile(dir, "state only")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the record of a key left with nothing: %v, want it removed", err)
	}
}

// TestDirCorruptRecordIsErrorAndLeftAlone: a record this package cannot
// read, or that holds another key than the one its name says, is an
// error wrapping ErrCorruptToken for every method on its key and for
// listing, quotes nothing of the file, and is left as it is; other keys
// go on working.
func TestDirCorruptRecordIsErrorAndLeftAlone(t *testing.T) {
	other, _ := json.Marshal(map[string]any{"key": "other", "token": map[string]any{"access_token": "at-secret"}})
	for name, content := range map[string]string{
		"not JSON":       "at-secret rt-secret",
		"truncated":      `{"key":"k","token":{"access_token":"at-secret"`,
		"no key":         `{"token":{"access_token":"at-secret"}}`,
		"both keys":      `{"key":"k","byte_key":"/w==","token":{"access_token":"at-secret"}}`,
		"valid byte_key": `{"byte_key":"aw==","token":{"access_token":"at-secret"}}`,
		"wrong type":     `{"key":"k","grant_state":"at-secret"}`,
		"trailing":       `{"key":"k"} {"at-secret":1}`,
		"another key's":  string(other),
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tokens")
			s := &filestore.Store{Dir: dir}
			if err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"}); err != nil {
				t.Fatal(err)
			}
			path := recordFile(dir, "k")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(ctx(), "k")
			errs := []error{err}
			errs = append(errs, s.Save(ctx(), "k", &oauth2.Token{AccessToken: "new"}))
			errs = append(errs, s.Commit(ctx(), "k", nil, &oauth2.Token{AccessToken: "new"}))
			errs = append(errs, s.SaveGrantState(ctx(), "k", oauthrt.GrantState{Failures: 1}))
			errs = append(errs, s.Delete(ctx(), "k"))
			_, err = s.LoadGrantState(ctx(), "k")
			errs = append(errs, err)
			_, err = s.TakeLease(ctx(), "k")
			errs = append(errs, err)
			_, _, err = s.ListKeys(ctx(), "", "", 0)
			errs = append(errs, err)
			_, _, err = s.ListGrantStates(ctx(), "", "", 0)
			errs = append(errs, err)
			for i, err := range errs {
				if !errors.Is(err, oauthrt.ErrCorruptToken) {
					t.Errorf("call %d: err = %v, want ErrCorruptToken", i, err)
				}
				if err != nil && strings.Contains(err.Error(), "secret") {
					t.Errorf("call %d: error %q quotes the file", i, err)
				}
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Errorf("the corrupt record was changed to %q", b)
			}
			if err := s.Save(ctx(), "k2", &oauth2.Token{AccessToken: "at-2"}); err != nil {
				t.Errorf("Save of another key: %v", err)
			}
			if tok, err := s.Load(ctx(), "k2"); err != nil || tok.AccessToken != "at-2" {
				t.Errorf("Load of another key = %v, %v", tok, err)
			}
		})
	}
}

// TestDirVersion: a directory of a newer layout is refused, and one
// whose VERSION this package did not write is corrupt; both are left as
// they are.
func TestDirVersion(t *testing.T) {
	for name, content := range map[string]string{
		"newer":        `{"layout":"oauthrt filestore directory","version":2}`,
		"other layout": `{"layout":"something else","version":1}`,
		"no version":   `{"layout":"oauthrt filestore directory"}`,
		"not JSON":     "1",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "VERSION")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := &filestore.Store{Dir: dir}
			err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"})
			_, lerr := s.Load(ctx(), "k")
			_, _, kerr := s.ListKeys(ctx(), "", "", 0)
			for _, err := range []error{err, lerr, kerr} {
				if name == "newer" {
					if err == nil || !strings.Contains(err.Error(), "version 2") {
						t.Errorf("err = %v, want the newer layout refused", err)
					}
				} else if !errors.Is(err, oauthrt.ErrCorruptToken) {
					t.Errorf("err = %v, want ErrCorruptToken", err)
				}
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Errorf("VERSION was changed to %q", b)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("the directory holds %d entries, want VERSION alone", len(entries))
			}
		})
	}
}

// TestPathAndDir: a Store with both Path and Dir, or neither, fails
// every method, and says which.
func TestPathAndDir(t *testing.T) {
	for name, s := range map[string]*filestore.Store{
		"both":    {Path: filepath.Join(t.TempDir(), "tokens.json"), Dir: t.TempDir()},
		"neither": {},
	} {
		want := map[string]string{"both": "both set", "neither": "Path is empty"}[name]
		_, err := s.Load(ctx(), "k")
		errs := []error{err, s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"}), s.Delete(ctx(), "k")}
		_, err = s.TakeLease(ctx(), "k")
		errs = append(errs, err)
		_, _, err = s.ListKeys(ctx(), "", "", 0)
		errs = append(errs, err)
		for i, err := range errs {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: call %d: err = %v, want one that says %q", name, i, err, want)
			}
		}
	}
}

// TestDirLeaseOfKilledProcessIsFreeAtOnce: as with Path, the lease of a
// process killed while it held it is free at once, though its lease file
// stays, and the next lease's epoch is greater.
func TestDirLeaseOfKilledProcessIsFreeAtOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	cmd, out, epoch := startHolderIn(t, "dir", dir, false)
	notTaken(t, &filestore.Store{Dir: dir}, 150*time.Millisecond, "while a live child held the lease")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitExited(t, out)
	lockSoonIn(t, &filestore.Store{Dir: dir}, "after its holder was killed", epoch)
}

// TestDirEpochsAcrossProcesses: a lease taken in another process counts
// too, and a released lease's file, left in place, is taken again.
func TestDirEpochsAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	s := &filestore.Store{Dir: dir}
	l, err := s.TakeLease(ctx(), "k")
	if err != nil {
		t.Fatal(err)
	}
	mine := epochOf(t, l)
	l.Release()
	_, out, theirs := startHolderIn(t, "dir", dir, true)
	waitExited(t, out)
	if theirs <= mine {
		t.Errorf("the child's lease has epoch %d, not above this process's %d", theirs, mine)
	}
	lockSoonIn(t, s, "after the child's", theirs)
}

// TestDirFirstRecordPlacesLeaseFile: a key's first record (by Save, or
// by SaveGrantState) brings its lease file along, empty, unlocked and of
// mode 0600, so that the key's first lease takes that very file rather
// than creating one while a refresh waits.
func TestDirFirstRecordPlacesLeaseFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	s := &filestore.Store{Dir: dir}
	tok := &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}
	write := map[string]func(key string) error{
		"Save":           func(k string) error { return s.Save(ctx(), k, tok) },
		"SaveGrantState": func(k string) error { return s.SaveGrantState(ctx(), k, oauthrt.GrantState{Failures: 1}) },
	}
	for name, first := range write {
		t.Run(name, func(t *testing.T) {
			key := "first by " + name
			if err := first(key); err != nil {
				t.Fatal(err)
			}
			leaseFile := filepath.Join(dir, "leases", filepath.Base(recordFile(dir, key)))
			placed, err := os.Stat(leaseFile)
			if err != nil {
				t.Fatalf("the lease file after the key's first record: %v, want it in place", err)
			}
			if placed.Size() != 0 || placed.Mode().Perm() != 0o600 && runtime.GOOS != "windows" {
				t.Errorf("the placed lease file has size %d and mode %v, want empty and 0600", placed.Size(), placed.Mode().Perm())
			}
			l, err := s.TakeLease(ctx(), key)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if e := epochOf(t, l); e != 1 {
				t.Errorf("the key's first lease has epoch %d, want 1", e)
			}
			held, err := os.Stat(leaseFile)
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(placed, held) || held.Size() == 0 {
				t.Errorf("the first lease did not take the placed file (same file %t, size %d)", os.SameFile(placed, held), held.Size())
			}
		})
	}
}
