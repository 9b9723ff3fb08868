package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// An export imported into another backend gives it every token, extra
// fields included, and every grant state; a second import changes
// nothing; a key holding another token is a conflict, left alone unless
// --overwrite.
func TestExportImport(t *testing.T) {
	bs, dsts := backends(t), backends(t)
	keys := newKeys(t, "store", "file", "dest")
	storeKeys, fileKeys, destKeys := keys.file(t, "store"), keys.file(t, "file"), keys.file(t, "dest")
	for i, src := range bs {
		dst := dsts[(i+1)%len(dsts)]
		t.Run(src.name+"→"+dst.name, func(t *testing.T) {
			s := openedSealed(t, src, keys.ring(t, "store"))
			toks := seedGrants(t, s, "acct/", 23)
			want := contents(t, s)
			out := filepath.Join(t.TempDir(), "grants.export")

			r := mustCLI(t, nil, "export", "--store", src.url, "--keys-file", storeKeys, "--out", out, "--file-keys-file", fileKeys, "--page", "5")
			noSecrets(t, r, toks)
			if !strings.Contains(r.stdout, "exported 23 records") {
				t.Errorf("export said %q; want it to count 23 records", r.stdout)
			}
			if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the export file: %v, mode %v; want mode 0600", err, fi.Mode())
			}
			b, _ := os.ReadFile(out)
			for _, tok := range toks {
				if bytes.Contains(b, []byte(tok.RefreshToken)) || bytes.Contains(b, []byte(tok.AccessToken)) {
					t.Fatal("the export file holds a token in the clear")
				}
			}

			d := openedSealed(t, dst, keys.ring(t, "dest"))
			imp := []string{"import", "--store", dst.url, "--in", out, "--file-keys-file", fileKeys, "--json"}
			r = cli(t, nil, imp...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "in the clear") {
				t.Errorf("import of an encrypted file into a store without a keyring: exit %d, stderr %q; want exit 2, refusing to store the grants in the clear", r.code, r.stderr)
			}
			if n := len(contents(t, d)); n != 0 {
				t.Fatalf("a refused import wrote %d keys", n)
			}
			imp = append(imp, "--keys-file", destKeys)
			r = mustCLI(t, nil, imp...)
			noSecrets(t, r, toks)
			sameContents(t, "the destination after the import", want, contents(t, d))
			if got := summary(t, r.stdout); got["written"] != 23 || got["unchanged"] != 0 {
				t.Errorf("the first import reported %v; want 23 written", got)
			}

			r = mustCLI(t, nil, imp...)
			if got := summary(t, r.stdout); got["written"] != 0 || got["unchanged"] != 23 {
				t.Errorf("the second import reported %v; want 23 unchanged and nothing written", got)
			}
			sameContents(t, "the destination after a second import", want, contents(t, d))

			// A key holding the same token is given the file's grant
			// state: one healthy in the file, one dead.
			ctx := context.Background()
			gs := d.TokenStore.(oauthrt.GrantStateStore)
			if err := gs.SaveGrantState(ctx, "acct/000", oauthrt.GrantState{}); err != nil {
				t.Fatal(err)
			}
			if err := gs.SaveGrantState(ctx, "acct/004", oauthrt.GrantState{Failures: 1, NextAttempt: time.Now().Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			r = mustCLI(t, nil, imp...)
			if got := summary(t, r.stdout); got["written"] != 0 || got["unchanged"] != 23 {
				t.Errorf("the import over changed grant states reported %v; want 23 unchanged", got)
			}
			sameContents(t, "the destination after an import over changed grant states", want, contents(t, d))

			// A key given another token meanwhile is a conflict.
			other := &oauth2.Token{AccessToken: secret(t, "at"), RefreshToken: secret(t, "rt")}
			if err := d.Save(ctx, "acct/005", other); err != nil {
				t.Fatal(err)
			}
			changed := contents(t, d)
			r = cli(t, nil, imp...)
			if r.code != exitFailed || !strings.Contains(r.stderr, `"acct/005"`) {
				t.Errorf("import over a conflict: exit %d, stderr %q; want exit 1 naming key acct/005", r.code, r.stderr)
			}
			if got := summary(t, r.stdout); got["conflicts"] != 1 || got["unchanged"] != 22 {
				t.Errorf("import over a conflict reported %v; want 1 conflict, 22 unchanged", got)
			}
			sameContents(t, "the destination after a conflict", changed, contents(t, d))

			r = mustCLI(t, nil, append(imp, "--overwrite")...)
			if got := summary(t, r.stdout); got["overwritten"] != 1 {
				t.Errorf("import --overwrite reported %v; want 1 overwritten", got)
			}
			sameContents(t, "the destination after import --overwrite", want, contents(t, d))
		})
	}
}

// summary decodes a --json summary line.
func summary(t testing.TB, stdout string) map[string]int {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var m map[string]int
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("the summary %q is not JSON: %v", stdout, err)
	}
	return m
}

// An export that stopped, its file cut after a checkpoint and in the
// middle of a line, resumes from that checkpoint into a file that imports
// to the same store; without --resume the existing file is refused.
func TestExportResume(t *testing.T) {
	keys := newKeys(t, "file")
	fileKeys := keys.file(t, "file")
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := openedSealed(t, b, nil)
			toks := seedGrants(t, s, "k", 31)
			want := contents(t, s)
			out := filepath.Join(t.TempDir(), "grants.export")
			args := []string{"export", "--store", b.url, "--out", out, "--file-keys-file", fileKeys, "--page", "4"}
			mustRun(t, nil, args...)

			r := cli(t, nil, args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "--resume") {
				t.Errorf("export over an existing file: exit %d, stderr %q; want exit 2 pointing to --resume", r.code, r.stderr)
			}

			// Cut the file after its third checkpoint and half of the
			// line after it, as a crash would.
			full, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitAfter(full, []byte("\n"))
			cut, checkpoints := 0, 0
			for i, l := range lines {
				cut += len(l)
				if bytes.Contains(l, []byte(`"type":"checkpoint"`)) {
					if checkpoints++; checkpoints == 3 {
						cut += len(lines[i+1]) / 2
						break
					}
				}
			}
			if checkpoints != 3 {
				t.Fatalf("the export has %d checkpoints; want at least 3", checkpoints)
			}
			if err := os.WriteFile(out, full[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			r = mustCLI(t, nil, append(args, "--resume")...)
			noSecrets(t, r, toks)
			if !strings.Contains(r.stderr, "resuming the export") || strings.Contains(r.stderr, "after 0 records") || !strings.Contains(r.stdout, "exported") {
				t.Errorf("export --resume: stdout %q, stderr %q; want it to resume after the records of 3 pages", r.stdout, r.stderr)
			}

			d := backends(t)[0]
			mustRun(t, nil, "import", "--store", d.url, "--in", out, "--file-keys-file", fileKeys, "--store-plaintext")
			sameContents(t, "a store imported from a resumed export", want, contents(t, openedSealed(t, d, nil)))

			r = mustCLI(t, nil, append(args, "--resume")...)
			if !strings.Contains(r.stdout, "complete") {
				t.Errorf("export --resume of a finished export said %q; want it to say it is complete", r.stdout)
			}
		})
	}
}

// A file that does not open with the key given, a damaged line or a file
// cut short fails the import, and nothing is written.
func TestImportRefuses(t *testing.T) {
	keys := newKeys(t, "file", "other")
	fileKeys := keys.file(t, "file")
	src := backends(t)[0]
	toks := seedGrants(t, openedSealed(t, src, nil), "k", 9)
	out := filepath.Join(t.TempDir(), "grants.export")
	mustRun(t, nil, "export", "--store", src.url, "--out", out, "--file-keys-file", fileKeys, "--page", "4")
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(good, []byte("\n"))
	damaged := bytes.Clone(good)
	at := len(lines[0]) + len(lines[1]) + len(lines[2]) + len(lines[3]) - 20 // inside line 4's payload
	damaged[at] ^= 'A' ^ 'B'
	if damaged[at] == good[at] {
		t.Fatal("the damage changed nothing")
	}
	var noEnd []byte
	for _, l := range lines[:len(lines)-2] { // the last element is empty: the file ends in a newline
		noEnd = append(noEnd, l...)
	}
	plain := filepath.Join(t.TempDir(), "plain.export")
	mustRun(t, nil, "export", "--store", src.url, "--out", plain, "--plaintext")

	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			d := openedSealed(t, b, nil)
			seedGrants(t, d, "k", 4) // some of the same keys, holding other tokens
			before := contents(t, d)
			for _, c := range []struct {
				name     string
				file     []byte
				keys     string
				code     int
				stderr   string
				extraArg string
			}{
				{"wrong key", good, keys.file(t, "other"), exitFailed, "line 2 does not open with the file keyring", ""},
				{"damaged line", damaged, fileKeys, exitFailed, "line 4 ", ""},
				{"cut in a line", good[:len(good)-7], fileKeys, exitFailed, "truncated", ""},
				{"cut after a line", noEnd, fileKeys, exitFailed, "truncated", ""},
				{"no key for a sealed file", good, "", exitUsage, "is encrypted", "--plaintext"},
			} {
				p := filepath.Join(t.TempDir(), "in.export")
				if err := os.WriteFile(p, c.file, 0o600); err != nil {
					t.Fatal(err)
				}
				args := []string{"import", "--store", b.url, "--in", p, "--overwrite", "--store-plaintext"}
				if c.keys != "" {
					args = append(args, "--file-keys-file", c.keys)
				}
				if c.extraArg != "" {
					args = append(args, c.extraArg)
				}
				r := cli(t, nil, args...)
				noSecrets(t, r, toks)
				if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
					t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.name, r.code, r.stderr, c.code, c.stderr)
				}
				if c.code == exitFailed && !strings.Contains(r.stderr, "nothing was written") {
					t.Errorf("%s: stderr %q does not say that nothing was written", c.name, r.stderr)
				}
				sameContents(t, c.name+": the store", before, contents(t, d))
			}
			// A file in the clear takes --plaintext, and no file key.
			for _, args := range [][]string{{}, {"--file-keys-file", fileKeys}} {
				r := cli(t, nil, append([]string{"import", "--store", b.url, "--in", plain, "--overwrite"}, args...)...)
				if r.code != exitUsage || !strings.Contains(r.stderr, "not encrypted") {
					t.Errorf("importing a plaintext file with %q: exit %d, stderr %q; want exit 2 saying it is not encrypted", args, r.code, r.stderr)
				}
			}
			sameContents(t, "after refused plaintext imports: the store", before, contents(t, d))
		})
	}
}

// A record that does not decode stops the export, naming its key, unless
// --skip-unreadable; export refuses to write a file in the clear unless
// --plaintext.
func TestExportUnreadable(t *testing.T) {
	keys := newKeys(t, "store", "stranger", "file")
	fileKeys := keys.file(t, "file")
	b := backends(t)[2] // sqlite
	seedGrants(t, openedSealed(t, b, keys.ring(t, "store")), "a", 6)
	seedGrants(t, openedSealed(t, b, keys.ring(t, "stranger")), "b", 1)
	out := filepath.Join(t.TempDir(), "grants.export")
	args := []string{"export", "--store", b.url, "--keys-file", keys.file(t, "store"), "--out", out}

	r := cli(t, nil, args...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--plaintext") {
		t.Errorf("export without a file key: exit %d, stderr %q; want exit 2 and a word on --plaintext", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("export without a file key wrote a file")
	}
	args = append(args, "--file-keys-file", fileKeys)
	r = cli(t, nil, args...)
	if r.code != exitFailed || !strings.Contains(r.stderr, `key "b000"`) {
		t.Errorf("export of an unreadable record: exit %d, stderr %q; want exit 1 naming key b000", r.code, r.stderr)
	}
	os.Remove(out)
	r = mustCLI(t, nil, append(args, "--skip-unreadable")...)
	if !strings.Contains(r.stderr, `"b000"`) || !strings.Contains(r.stdout, "exported 6 records") || !strings.Contains(r.stdout, "1 unreadable") {
		t.Errorf("export --skip-unreadable: stdout %q, stderr %q; want 6 exported, b000 named and 1 left out", r.stdout, r.stderr)
	}
}
