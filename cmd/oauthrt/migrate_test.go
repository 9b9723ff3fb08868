package main

import (
	"strings"
	"testing"
)

// Migrate copies every grant, extra fields and grant states included,
// from each backend to another, each backend a source and a destination
// once, from one keyring to another; run again, it writes nothing. With
// the wrong source key it writes nothing and fails.
func TestMigrate(t *testing.T) {
	bs, dsts := backends(t), backends(t)
	keys := newKeys(t, "from", "to", "wrong")
	fromKeys, toKeys := keys.file(t, "from"), keys.file(t, "to")
	for i, src := range bs {
		dst := dsts[(i+1)%len(dsts)]
		t.Run(src.name+"→"+dst.name, func(t *testing.T) {
			s := openedSealed(t, src, keys.ring(t, "from"))
			toks := seedGrants(t, s, "tenant/", 17)
			want := contents(t, s)
			d := openedSealed(t, dst, keys.ring(t, "to"))
			args := []string{"migrate", "--from", src.url, "--to", dst.url, "--to-keys-file", toKeys, "--page", "6", "--json"}

			r := cli(t, nil, append(args, "--from-keys-file", keys.file(t, "wrong"))...)
			noSecrets(t, r, toks)
			if r.code != exitFailed || !strings.Contains(r.stderr, "nothing was written") || !strings.Contains(r.stderr, `"tenant/003"`) {
				t.Errorf("migrate with the wrong source key: exit %d, stderr %q; want exit 1, the keys named, nothing written", r.code, r.stderr)
			}
			if got := contents(t, d); len(got) != 0 {
				t.Errorf("migrate with the wrong source key wrote %d keys", len(got))
			}

			args = append(args, "--from-keys-file", fromKeys)
			clearDst := []string{"migrate", "--from", src.url, "--to", dst.url, "--from-keys-file", fromKeys}
			if r := cli(t, nil, clearDst...); r.code != exitUsage || !strings.Contains(r.stderr, "--to-plaintext") {
				t.Errorf("migrate of an encrypted store into one without a keyring: exit %d, stderr %q; want exit 2 and a word on --to-plaintext", r.code, r.stderr)
			}
			r = mustCLI(t, nil, args...)
			noSecrets(t, r, toks)
			if got := summary(t, r.stdout); got["written"] != 17 {
				t.Errorf("migrate reported %v; want 17 written", got)
			}
			sameContents(t, "the destination after migrate", want, contents(t, d))

			r = mustCLI(t, nil, args...)
			if got := summary(t, r.stdout); got["written"] != 0 || got["unchanged"] != 17 {
				t.Errorf("migrate run again reported %v; want 17 unchanged and nothing written", got)
			}
			sameContents(t, "the destination after migrate ran again", want, contents(t, d))
		})
	}
}
