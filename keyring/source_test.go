package keyring_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt/keyring"
)

var (
	std    = base64.StdEncoding.EncodeToString(secret(1))
	rawURL = base64.RawURLEncoding.EncodeToString(secret(0xfb)) // has '-' and '_'
)

func TestParse(t *testing.T) {
	text := "# keys of the test\r\n" +
		"\n" +
		"  new\t" + rawURL + "   # added today\r\n" +
		"old " + std + "\n" +
		"   # the end"
	r, err := keyring.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new", "old"}, r.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	// The keys are the secrets: each opens what its bare AES-GCM sealed.
	for id, c := range map[string]byte{"new": 0xfb, "old": 1} {
		bare := aesKey(t, "x", c).AEAD.Seal(nil, nonce, plain, ad)
		if _, got, err := r.OpenKey(nil, nonce, bare, ad); err != nil || got != id {
			t.Errorf("OpenKey of %s's ciphertext = %q, %v", id, got, err)
		}
	}
}

// Parse's errors name the line, and hold no secret nor any part of a
// line they refuse.
func TestParseErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(secret(2)[:16])
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "keyring: the key source lists no key"},
		{"comments only", "# nothing\n\n  # yet\n", "keyring: the key source lists no key"},
		{"secret alone", "k1 " + std + "\n" + rawURL + "\n", "keyring: line 2: 1 fields; want a key ID and a base64 secret"},
		{"three fields", "\n\nk1 " + std + " " + rawURL, "keyring: line 3: 3 fields; want a key ID and a base64 secret"},
		{"glued", "k1:x " + std, "keyring: line 1: a key ID with a byte other than A-Z, a-z, 0-9, '.', '_' and '-' (at offset 2)"},
		{"long ID", std + " " + rawURL, "keyring: line 1: a key ID of 44 bytes; at most 32"},
		{"twice", "k1 " + std + "\n# \nk1 " + rawURL, `keyring: line 3: key "k1" is already on line 1`},
		{"not base64", "k1 " + std[:40] + "!!!!", `keyring: line 1: key "k1": the secret is neither standard base64 nor unpadded URL-safe base64`},
		{"padded URL", "k1 " + rawURL + "=", `keyring: line 1: key "k1": the secret is neither standard base64 nor unpadded URL-safe base64`},
		{"AES-128", "k1 " + short, `keyring: line 1: key "k1": the secret is 16 bytes; want 32`},
	} {
		r, err := keyring.Parse(tc.text)
		if err == nil {
			t.Errorf("%s: Parse = %v; want an error", tc.name, r)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s: error %q; want %q", tc.name, err, tc.want)
		}
		for _, s := range []string{std, rawURL, short, std[:8], rawURL[:8]} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the error %q holds (part of) a secret", tc.name, err)
			}
		}
	}
}

func writeFile(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	path := writeFile(t, "k2 "+std+"\nk1 "+rawURL+"\n", 0o600)
	r, err := keyring.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Primary() != "k2" || len(r.IDs()) != 2 {
		t.Errorf("Load = %v", r)
	}

	bad := writeFile(t, "k1 "+std+"\nk2\n", 0o400)
	if _, err := keyring.Load(bad); err == nil || err.Error() != "keyring: "+bad+": line 2: 1 fields; want a key ID and a base64 secret" {
		t.Errorf("Load of a bad file: %v", err)
	}
	if _, err := keyring.Load(filepath.Join(t.TempDir(), "missing")); err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestLoadRefusesOpenModes(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("permission bits are a Unix matter")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602} {
		path := writeFile(t, "k1 "+std+"\n", mode)
		r, err := keyring.Load(path)
		if err == nil {
			t.Errorf("Load of a file of mode %#o = %v; want an error", mode, r)
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod go-rwx") {
			t.Errorf("mode %#o: error %q; want it to name the file and the fix", mode, err)
		}
		if strings.Contains(err.Error(), std) {
			t.Errorf("mode %#o: the error holds the secret", mode)
		}
	}
}

func TestFromEnv(t *testing.T) {
	const name = "OAUTHRT_KEYRING_TEST_KEYS"
	t.Setenv(name, "new "+rawURL+"\nold "+std)
	r, err := keyring.FromEnv(name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new", "old"}, r.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	// One line, keys separated by ';', as docker's --env-file must.
	t.Setenv(name, "new "+rawURL+";old "+std)
	r, err = keyring.FromEnv(name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new", "old"}, r.IDs()); diff != "" {
		t.Errorf("IDs of a ';'-separated value (-want +got):\n%s", diff)
	}

	t.Setenv(name, "new\n")
	if _, err := keyring.FromEnv(name); err == nil || err.Error() != "keyring: $"+name+": line 1: 1 fields; want a key ID and a base64 secret" {
		t.Errorf("FromEnv of a bad value: %v", err)
	}
	t.Setenv(name, " \n")
	if _, err := keyring.FromEnv(name); err == nil || err.Error() != "keyring: the environment variable "+name+" is empty" {
		t.Errorf("FromEnv of an empty value: %v", err)
	}
	os.Unsetenv(name) // t.Setenv restores it after the test
	if _, err := keyring.FromEnv(name); err == nil || err.Error() != "keyring: the environment variable "+name+" is not set" {
		t.Errorf("FromEnv of an unset variable: %v", err)
	}
}

func TestGenerate(t *testing.T) {
	a, err := keyring.Generate("2026-06")
	if err != nil {
		t.Fatal(err)
	}
	b, err := keyring.Generate("2026-01")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(a, "\n") || !strings.HasPrefix(a, "2026-06 ") {
		t.Errorf("Generate = %q; want one line starting with the ID", a)
	}
	if a[len("2026-06 "):] == b[len("2026-01 "):] {
		t.Error("two Generate calls gave one secret")
	}
	r, err := keyring.Parse(a + "\n" + b + "\n")
	if err != nil {
		t.Fatal(err)
	}
	ct := r.Seal(nil, nonce, plain, ad)
	if got, err := r.Open(nil, nonce, ct, ad); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("round trip with generated keys = %q, %v", got, err)
	}
	if _, err := keyring.Generate("not an id"); err == nil {
		t.Error("Generate with an invalid ID: no error")
	}
}
