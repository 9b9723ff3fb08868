package main

import (
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt/keyring"
)

func TestKeygen(t *testing.T) {
	a := mustRun(t, nil, "keygen", "2026-06")
	b := mustRun(t, nil, "keygen", "2026-06")
	if a == b {
		t.Fatal("two runs of keygen printed the same key")
	}
	r, err := keyring.Parse(a)
	if err != nil {
		t.Fatalf("keygen's line does not parse as a keyring: %v", err)
	}
	if r.Primary() != "2026-06" {
		t.Errorf("keygen's key has ID %q; want 2026-06", r.Primary())
	}
	for _, args := range [][]string{{"keygen"}, {"keygen", "a", "b"}, {"keygen", "no spaces"}} {
		res := cli(t, nil, args...)
		if res.code != exitUsage || !strings.HasPrefix(res.stderr, "oauthrt: ") || res.stdout != "" {
			t.Errorf("oauthrt %q: exit %d, stdout %q, stderr %q; want exit %d, a message and no key", args, res.code, res.stdout, res.stderr, exitUsage)
		}
	}
}
