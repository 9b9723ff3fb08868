package filestore_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/storetest"
	"golang.org/x/oauth2"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		path := filepath.Join(t.TempDir(), "tokens.json")
		return storetest.Backend{
			Open: func(o storetest.Options) oauthrt.TokenStore {
				return &filestore.Store{Path: path, LeaseTTL: o.LeaseTTL, AEAD: o.AEAD}
			},
			Raw: func(key string) ([]byte, error) { return rawToken(path, key) },
			Put: func(key string, raw []byte) error { return putToken(path, key, raw) },
		}
	})
}

// readDoc decodes the token file as generic JSON.
func readDoc(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	return doc, json.Unmarshal(b, &doc)
}

// rawToken returns the encoded token under key: the JSON object, or the
// bytes of the base64 string.
func rawToken(path, key string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct{ Tokens map[string]json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	raw, ok := doc.Tokens[key]
	if !ok {
		return nil, fmt.Errorf("no token %q in the file", key)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return base64.StdEncoding.DecodeString(s)
	}
	return raw, nil
}

// putToken writes raw under key as the package does: valid JSON objects
// as they are, anything else in base64.
func putToken(path, key string, raw []byte) error {
	doc, err := readDoc(path)
	if errors.Is(err, os.ErrNotExist) {
		doc, err = map[string]any{"version": 1, "tokens": map[string]any{}}, nil
	}
	if err != nil {
		return err
	}
	tokens, _ := doc["tokens"].(map[string]any)
	if tokens == nil {
		tokens = map[string]any{}
		doc["tokens"] = tokens
	}
	if len(raw) > 0 && raw[0] == '{' && json.Valid(raw) {
		tokens[key] = json.RawMessage(raw)
	} else {
		tokens[key] = base64.StdEncoding.EncodeToString(raw)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func ctx() context.Context { return context.Background() }

func TestFileModeAndNoTempFilesLeft(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	s := &filestore.Store{Path: filepath.Join(dir, "tokens.json")}
	for i := range 3 {
		if err := s.Save(ctx(), fmt.Sprint("k", i), &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("token file mode %v, want 0600", m)
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := dst.Mode().Perm(); m != 0o700 {
		t.Errorf("created directory mode %v, want 0700", m)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "tokens.json tokens.json.lock" {
		t.Errorf("directory holds %q, want only the token file and its lock file", got)
	}
}

func TestLayoutIsDocumentedOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := &filestore.Store{Path: path, LeaseTTL: time.Minute}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.Save(ctx(), "org/1", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(ctx(), "org/1")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := readDoc(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc["version"] != 1.0 {
		t.Errorf("version = %v, want 1", doc["version"])
	}
	tok := doc["tokens"].(map[string]any)["org/1"].(map[string]any)
	if tok["access_token"] != "at-1" || tok["refresh_token"] != "rt-1" || tok["expiry"] != "2030-01-02T03:04:05Z" {
		t.Errorf("token record = %v", tok)
	}
	if _, ok := doc["leases"]; ok {
		t.Errorf("the token file holds leases: %v", doc["leases"])
	}
	// The lease is a lock on a file named by the key's SHA-256.
	sum := sha256.Sum256([]byte("org/1"))
	leaseFile := filepath.Join(path+".leases", hex.EncodeToString(sum[:]))
	st, err := os.Stat(leaseFile)
	if err != nil {
		t.Fatalf("while the lease is held: %v", err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("lease file mode %v, want 0600", m)
	}
	if st, err := os.Stat(path + ".leases"); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("lease directory: %v, %v; want mode 0700", st, err)
	}
	unlock()
	// Released leases leave no files behind.
	for i := range 20 {
		unlock, err := s.Lock(ctx(), fmt.Sprint("k", i%4))
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	}
	if runtime.GOOS != "windows" {
		if entries, err := os.ReadDir(path + ".leases"); err != nil || len(entries) != 0 {
			t.Errorf("lease directory after every lease was released: %d files, %v; want none", len(entries), err)
		}
	}
	// The epochs outlive the lease files: the count of leases of each
	// key, under its lease file's name.
	b, err := os.ReadFile(path + ".epochs")
	if err != nil {
		t.Fatal(err)
	}
	var epochs struct {
		Version int
		Epochs  map[string]uint64
	}
	if err := json.Unmarshal(b, &epochs); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{hex.EncodeToString(sum[:]): 1}
	for i := range 4 {
		sum := sha256.Sum256(fmt.Append(nil, "k", i))
		want[hex.EncodeToString(sum[:])] = 5
	}
	if epochs.Version != 1 || !maps.Equal(epochs.Epochs, want) {
		t.Errorf("epochs file = %s, want version 1 and epochs %v", b, want)
	}
	if st, err := os.Stat(path + ".epochs"); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("epochs file: %v, %v; want mode 0600", st, err)
	}
}

func TestInvalidUTF8KeyLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := &filestore.Store{Path: path}
	// "/w==" is the base64 of "\xff": a valid key that reads like the
	// spelling of an invalid one.
	for _, k := range []string{"/w==", "\ufffd", "\xff"} {
		if err := s.Save(ctx(), k, &oauth2.Token{AccessToken: fmt.Sprintf("at-%x", k)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"/w==", "\ufffd", "\xff"} {
		if tok, err := s.Load(ctx(), k); err != nil || tok.AccessToken != fmt.Sprintf("at-%x", k) {
			t.Errorf("Load(%q) = %v, %v; want the token saved under it", k, tok, err)
		}
	}
	doc, err := readDoc(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc["version"] != 2.0 {
		t.Errorf("version = %v, want 2 for a file with a key that is not valid UTF-8", doc["version"])
	}
	byteKeys, _ := doc["byte_keys"].(map[string]any)
	if len(byteKeys) != 1 || byteKeys["/w=="] == nil {
		t.Errorf("byte_keys = %v, want the token of \"\\xff\" under \"/w==\" only", byteKeys)
	}
	if tokens := doc["tokens"].(map[string]any); len(tokens) != 2 {
		t.Errorf("tokens = %v, want the two valid keys", tokens)
	}
}

// TestDeleteLastByteKey: once the last key that is not valid UTF-8 is
// deleted, the file is written with layout 1 again, which the releases
// that predate "byte_keys" read; the epochs file is left as it is.
func TestDeleteLastByteKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := &filestore.Store{Path: path, LeaseTTL: time.Minute}
	for _, k := range []string{"a", "\xff"} {
		if err := s.Save(ctx(), k, &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.TakeLease(ctx(), "\xff")
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	epochs, err := os.ReadFile(path + ".epochs")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx(), "\xff"); err != nil {
		t.Fatal(err)
	}
	doc, err := readDoc(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc["version"] != 1.0 || doc["byte_keys"] != nil {
		t.Errorf("after the last byte key was deleted: version %v, byte_keys %v; want version 1 and no byte_keys", doc["version"], doc["byte_keys"])
	}
	if after, err := os.ReadFile(path + ".epochs"); err != nil || !bytes.Equal(after, epochs) {
		t.Errorf("Delete changed the epochs file: %s, %v; want %s", after, err, epochs)
	}
}

func TestByteKeysMustBeInvalidUTF8(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	// "YQ==" is "a": valid UTF-8 belongs in "tokens", and would shadow it.
	content := `{"version":2,"tokens":{"a":{"access_token":"at-1"}},"byte_keys":{"YQ==":{"access_token":"at-2"}}}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &filestore.Store{Path: path}
	if _, err := s.Load(ctx(), "a"); !errors.Is(err, oauthrt.ErrCorruptToken) {
		t.Errorf("Load: err = %v, want ErrCorruptToken", err)
	}
}

func TestCorruptFileIsErrorAndLeftAlone(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":   "at-secret rt-secret",
		"truncated":  `{"version":1,"tokens":{"k":{"access_token":"at-secret"`,
		"no version": `{"tokens":{}}`,
		"wrong type": `{"version":1,"tokens":["at-secret"]}`,
		"trailing":   `{"version":1,"tokens":{}} {"at-secret":1}`,
		"stray }":    `{"version":1,"tokens":{"k":{"access_token":"at-secret"}}} }`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := &filestore.Store{Path: path}
			_, err := s.Load(ctx(), "k")
			if !errors.Is(err, oauthrt.ErrCorruptToken) {
				t.Errorf("Load: err = %v, want ErrCorruptToken", err)
			}
			err = s.Save(ctx(), "k", &oauth2.Token{AccessToken: "new"})
			if !errors.Is(err, oauthrt.ErrCorruptToken) {
				t.Errorf("Save: err = %v, want ErrCorruptToken", err)
			}
			if _, lerr := s.Lock(ctx(), "k"); !errors.Is(lerr, oauthrt.ErrCorruptToken) {
				t.Errorf("Lock: err = %v, want ErrCorruptToken", lerr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q quotes the file", err)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Errorf("the corrupt file was changed to %q", b)
			}
		})
	}
}

func TestNewerLayoutIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	content := `{"version":3,"tokens":{}}`
	os.WriteFile(path, []byte(content), 0o600)
	s := &filestore.Store{Path: path}
	err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"})
	if err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("Save into a newer layout: err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("the file was changed to %q", b)
	}
}

func TestEmptyPath(t *testing.T) {
	s := &filestore.Store{}
	if _, err := s.Load(ctx(), "k"); err == nil || !strings.Contains(err.Error(), "Path is empty") {
		t.Errorf("Load: err = %v", err)
	}
	if err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"}); err == nil {
		t.Error("Save with an empty Path succeeded")
	}
	if _, err := s.Lock(ctx(), "k"); err == nil {
		t.Error("Lock with an empty Path succeeded")
	}
}

// writeLease puts a lease record for key into the file, as the earlier
// versions of the package wrote it.
func writeLease(t *testing.T, path, key string, pid int, until time.Time) {
	t.Helper()
	doc, err := readDoc(path)
	if errors.Is(err, os.ErrNotExist) {
		doc, err = map[string]any{"version": 1, "tokens": map[string]any{}}, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	doc["leases"] = map[string]any{key: map[string]any{"holder": "other", "pid": pid, "until": until}}
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOldLeaseRecordDoesNotBlock: a lease record the earlier layout
// wrote names a process by its pid, which means nothing in another PID
// namespace sharing the volume: there it may be any live process. Such
// a record, with a live pid and a far TTL, must not hold the lease.
func TestOldLeaseRecordDoesNotBlock(t *testing.T) {
	for _, pid := range []int{os.Getpid(), 1} {
		path := filepath.Join(t.TempDir(), "tokens.json")
		s := &filestore.Store{Path: path}
		if err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
		writeLease(t, path, "k", pid, time.Now().Add(time.Hour))
		c, cancel := context.WithTimeout(ctx(), 5*time.Second)
		unlock, err := s.Lock(c, "k")
		cancel()
		if err != nil {
			t.Fatalf("Lock of a key with an old lease record of live pid %d: %v", pid, err)
		}
		unlock()
		if tok, err := s.Load(ctx(), "k"); err != nil || tok.AccessToken != "at" {
			t.Errorf("Load from a file with an old lease record = %v, %v", tok, err)
		}
	}
}

// TestLeaseChild is the child process of the tests of dead holders:
// with FILESTORE_LEASE_CHILD set to a token file, it takes the lease of
// "k" for an hour, says "held" and the lease's epoch on stdout, and then
// exits without releasing it (FILESTORE_LEASE_CHILD_EXIT set) or waits
// to be killed.
func TestLeaseChild(t *testing.T) {
	path := os.Getenv("FILESTORE_LEASE_CHILD")
	if path == "" {
		t.Skip("runs only as a child process of TestLeaseOf…")
	}
	s := storeAt(os.Getenv("FILESTORE_LAYOUT"), path)
	s.LeaseTTL = time.Hour
	l, err := s.TakeLease(ctx(), "k")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("held", l.(oauthrt.FencedLease).Epoch())
	if os.Getenv("FILESTORE_LEASE_CHILD_EXIT") != "" {
		os.Exit(0)
	}
	time.Sleep(time.Hour) // until the parent kills it
	os.Exit(3)
}

// storeAt returns a Store of layout ("dir", or "" and "path" for the
// token file) at loc.
func storeAt(layout, loc string) *filestore.Store {
	if layout == "dir" {
		return &filestore.Store{Dir: loc}
	}
	return &filestore.Store{Path: loc}
}

// startHolder starts a child process that takes the lease of "k" in the
// token file at path for an hour, and returns once it holds it, with the
// lease's epoch. Its stdout reaches EOF when it has exited.
func startHolder(t *testing.T, path string, exit bool) (*exec.Cmd, io.Reader, uint64) {
	t.Helper()
	return startHolderIn(t, "path", path, exit)
}

// startHolderIn is startHolder for a store of layout at loc.
func startHolderIn(t *testing.T, layout, loc string, exit bool) (*exec.Cmd, io.Reader, uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaseChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FILESTORE_LEASE_CHILD="+loc, "FILESTORE_LAYOUT="+layout)
	if exit {
		cmd.Env = append(cmd.Env, "FILESTORE_LEASE_CHILD_EXIT=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	var epoch uint64
	if _, serr := fmt.Sscanf(line, "held %d\n", &epoch); serr != nil {
		t.Fatalf("the child said %q, %v; want \"held\" and an epoch", line, err)
	}
	return cmd, r, epoch
}

// waitExited returns once the child has exited: its stdout is closed
// when the kernel closes all its files, its lock's too.
func waitExited(t *testing.T, out io.Reader) {
	t.Helper()
	if _, err := io.Copy(io.Discard, out); err != nil {
		t.Fatal(err)
	}
}

// lockSoon takes the lease of "k" in a time far below the child's TTL
// of an hour, and checks that its epoch is above the child's.
func lockSoon(t *testing.T, path, why string, childEpoch uint64) {
	t.Helper()
	lockSoonIn(t, storeAt("path", path), why, childEpoch)
}

// lockSoonIn is lockSoon on the store s.
func lockSoonIn(t *testing.T, s *filestore.Store, why string, childEpoch uint64) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx(), 10*time.Second)
	defer cancel()
	l, err := s.TakeLease(c, "k")
	if err != nil {
		t.Fatalf("TakeLease %s: %v", why, err)
	}
	defer l.Release()
	if e := l.(oauthrt.FencedLease).Epoch(); e <= childEpoch {
		t.Errorf("the lease taken %s has epoch %d, not above the child's %d", why, e, childEpoch)
	}
}

func TestLeaseOfKilledProcessIsFreeAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	cmd, out, epoch := startHolder(t, path, false)
	s := &filestore.Store{Path: path}
	c, cancel := context.WithTimeout(ctx(), 150*time.Millisecond)
	defer cancel()
	if unlock, err := s.Lock(c, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			unlock()
		}
		t.Fatalf("Lock while a live child held the lease: err = %v, want DeadlineExceeded", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitExited(t, out) // not reaped yet: the test does not depend on it
	lockSoon(t, path, "after its holder was killed", epoch)
}

// TestLeaseOfZombieIsFreeAtOnce: a holder that exited and that its
// parent has not reaped still has a process (a zombie), and a pid that
// kill(pid, 0) finds; but it holds no file, and no lock.
func TestLeaseOfZombieIsFreeAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	cmd, out, epoch := startHolder(t, path, true)
	waitExited(t, out)
	if runtime.GOOS == "linux" {
		waitState(t, cmd.Process.Pid, 'Z')
	}
	lockSoon(t, path, "after its holder exited, unreaped", epoch)
}

// procState returns the state letter /proc gives pid ('T' for stopped,
// 'Z' for a zombie).
func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("the child's state: %v", err)
	}
	// The state follows the command name, in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		t.Fatalf("the child's state: /proc/%d/stat is %q", pid, strings.TrimSpace(string(b)))
	}
	return b[i+2]
}

// waitState waits until /proc gives pid the state st.
func waitState(t *testing.T, pid int, st byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for procState(t, pid) != st {
		if time.Now().After(deadline) {
			t.Fatalf("the child's state is %q, not %q", procState(t, pid), st)
		}
		time.Sleep(5 * time.Millisecond) // polling /proc: it has no event to wait on
	}
}

func TestNoSecretInString(t *testing.T) {
	block, _ := aes.NewCipher(bytes.Repeat([]byte("K"), 32))
	aead, _ := cipher.NewGCM(block)
	s := &filestore.Store{Path: "/tmp/x.json", AEAD: aead}
	out := fmt.Sprintf("%v %+v %#v %s", s, s, s, s)
	if strings.Contains(out, "KKKK") || !strings.Contains(out, "Encrypted: true") {
		t.Errorf("formatted store = %s", out)
	}
}
