package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// secretSize is the length of a key source's secrets: AES-256.
const secretSize = 32

// Parse returns the ring of a key source: one key per line, its ID and
// the base64 (standard, or URL-safe without padding) of its 32-byte
// AES-256-GCM secret, separated by spaces or tabs:
//
//	# newest first: the first key is the primary
//	2026-06 q3hVv0Q8y1mS2W1cJ1o0n8QyN2zJ9rT4p6a5b7c8d9E=
//	2026-01 Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGw=
//
// '#' starts a comment that runs to the end of its line; blank lines are
// skipped. The first key is the primary. An error names the line at
// fault and never holds a secret, nor anything of a line that does not
// parse.
func Parse(text string) (*Ring, error) {
	r, err := parse(text)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return r, nil
}

// parse is Parse, its errors without the package's prefix.
func parse(text string) (*Ring, error) {
	var keys []Key
	lines := make(map[string]int) // a key's ID → its line
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: %d fields; want a key ID and a base64 secret", n, len(f))
		}
		id, enc := f[0], f[1]
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, ok := lines[id]; ok {
			return nil, fmt.Errorf("line %d: key %q is already on line %d", n, id, first)
		}
		lines[id] = n
		secret, err := decodeSecret(enc)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q: %w", n, id, err)
		}
		k, err := newAESGCM(id, secret)
		clear(secret)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("the key source lists no key")
	}
	return newRing(keys)
}

// decodeSecret returns the secret enc encodes. Its errors say nothing of
// enc but its decoded length.
func decodeSecret(enc string) ([]byte, error) {
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if b, err := e.DecodeString(enc); err == nil {
			if len(b) != secretSize {
				n := len(b)
				clear(b)
				return nil, fmt.Errorf("the secret is %d bytes; want %d", n, secretSize)
			}
			return b, nil
		}
	}
	return nil, errors.New("the secret is neither standard base64 nor unpadded URL-safe base64")
}

// Load returns the ring of the key source in the file at path (see
// Parse). On Unix it refuses a file that its group or other users may
// read or write (mode 0600 or 0400 will do); the check is on the file
// itself, after symbolic links.
func Load(path string) (*Ring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if err := checkPerm(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	r, err := parse(string(b))
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("keyring: %s: %w", path, err)
	}
	return r, nil
}

// FromEnv returns the ring of the key source in the environment variable
// name (see Parse), its keys on lines of their own as in a file, or
// separated by ';' for the tools that cannot put a newline in a variable
// (docker's --env-file, many CI settings pages). It is an error when the
// variable is unset, empty or blank.
func FromEnv(name string) (*Ring, error) {
	text, ok := os.LookupEnv(name)
	switch {
	case !ok:
		return nil, fmt.Errorf("keyring: the environment variable %s is not set", name)
	case strings.TrimSpace(text) == "":
		return nil, fmt.Errorf("keyring: the environment variable %s is empty", name)
	}
	// No ID or base64 secret holds a ';'.
	r, err := parse(strings.ReplaceAll(text, ";", "\n"))
	if err != nil {
		return nil, fmt.Errorf("keyring: $%s: %w", name, err)
	}
	return r, nil
}

// Generate returns a line for a key source: id and a new 32-byte secret
// from crypto/rand, in standard base64, without a newline. Put it first
// in the source to make it the primary.
func Generate(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", fmt.Errorf("keyring: %w", err)
	}
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("keyring: %w", err)
	}
	line := id + " " + base64.StdEncoding.EncodeToString(secret)
	clear(secret)
	return line, nil
}
