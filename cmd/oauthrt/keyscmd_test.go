package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// keys counts the records of a store that mixes keys: each key of the
// ring has its row, 0 included, with those in the clear and those no key
// opens apart.
func TestKeysCounts(t *testing.T) {
	keys := newKeys(t, "2026-06", "2026-01", "2025-06", "lost")
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seedGrants(t, openedSealed(t, b, keys.ring(t, "2026-01")), "old/", 5)
			seedGrants(t, openedSealed(t, b, keys.ring(t, "2026-06", "2026-01")), "new/", 3)
			seedGrants(t, openedSealed(t, b, keys.ring(t, "lost")), "lost/", 1)
			seedGrants(t, openedSealed(t, b, nil), "clear/", 2)
			ring := keys.file(t, "2026-06", "2026-01", "2025-06")

			out := mustRun(t, nil, "keys", "--store", b.url, "--keys-file", ring)
			want := "KEY ID             RECORDS\n" +
				"2026-06 (primary)  3\n" +
				"2026-01            5\n" +
				"2025-06            0\n" +
				"(clear)            2\n" +
				"(unreadable)       1\n"
			if out != want {
				t.Errorf("keys printed\n%s\nwant\n%s", out, want)
			}

			out = mustRun(t, nil, "keys", "--store", b.url, "--keys-file", ring, "--json")
			var got struct {
				Keys []struct {
					ID      string
					Primary bool
					Records int
				}
				Clear, Unreadable, Total int
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("keys --json printed %q: %v", out, err)
			}
			if len(got.Keys) != 3 || got.Keys[0].ID != "2026-06" || !got.Keys[0].Primary || got.Keys[0].Records != 3 ||
				got.Keys[1].Records != 5 || got.Keys[2].Records != 0 || got.Clear != 2 || got.Unreadable != 1 || got.Total != 11 {
				t.Errorf("keys --json printed %s", out)
			}

			out = mustRun(t, nil, "keys", "--store", b.url, "--keys-file", ring, "--prefix", "new/")
			if !strings.Contains(out, "2026-06 (primary)  3\n2026-01            0\n") {
				t.Errorf("keys --prefix new/ printed\n%s", out)
			}
		})
	}

	r := cli(t, nil, "keys", "--store", backends(t)[2].url)
	if r.code != exitUsage || !strings.Contains(r.stderr, "keyring") {
		t.Errorf("keys without a keyring: exit %d, stderr %q; want exit 2 asking for the keyring", r.code, r.stderr)
	}
}
