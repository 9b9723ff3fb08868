package filestore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	l := doc["leases"].(map[string]any)["org/1"].(map[string]any)
	if l["pid"] != float64(os.Getpid()) || len(l["holder"].(string)) != 32 {
		t.Errorf("lease record = %v, want this pid and a 128-bit holder", l)
	}
	unlock()
	doc, err = readDoc(path)
	if err != nil {
		t.Fatal(err)
	}
	if leases, _ := doc["leases"].(map[string]any); len(leases) != 0 {
		t.Errorf("leases after unlock = %v, want none", leases)
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
	content := `{"version":2,"tokens":{}}`
	os.WriteFile(path, []byte(content), 0o600)
	s := &filestore.Store{Path: path}
	err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"})
	if err == nil || !strings.Contains(err.Error(), "version 2") {
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

// writeLease puts a lease record for key into the file, as another
// process would.
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

func TestLeaseOfExitedProcessIsTakenAtOnce(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid // exited and reaped
	path := filepath.Join(t.TempDir(), "tokens.json")
	writeLease(t, path, "k", dead, time.Now().Add(time.Hour))
	s := &filestore.Store{Path: path}
	c, cancel := context.WithTimeout(ctx(), 30*time.Second)
	defer cancel()
	unlock, err := s.Lock(c, "k")
	if err != nil {
		t.Fatalf("Lock of a lease whose holder exited: %v", err)
	}
	unlock()
}

func TestLeaseOfLiveProcessIsHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	writeLease(t, path, "k", os.Getppid(), time.Now().Add(time.Hour))
	s := &filestore.Store{Path: path}
	c, cancel := context.WithTimeout(ctx(), 150*time.Millisecond)
	defer cancel()
	if unlock, err := s.Lock(c, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			unlock()
		}
		t.Fatalf("Lock of a lease a live process holds: err = %v, want DeadlineExceeded", err)
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
