//go:build linux || darwin

package main

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// On a terminal, export draws a progress bar on stderr, redrawn in place,
// rather than the plain lines it writes elsewhere (TestProgressLines);
// stdout, not a terminal here, still gets the summary line.
func TestProgressBarOnATerminal(t *testing.T) {
	dir := t.TempDir()
	b := backend{"sqlite", "sqlite://" + filepath.Join(dir, "tokens.db")}
	seedGrants(t, opened(t, b), "k", 2*progressEvery+10)

	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptm.Close()
	cmd := exec.Command(binary, "export", "--store", b.url, "--plaintext", "--out", filepath.Join(dir, "grants.export"))
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds its own copy
	var screen bytes.Buffer
	copied := make(chan error, 1)
	go func() { _, err := io.Copy(&screen, ptm); copied <- err }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("export on a terminal: %v\nstdout: %s\nterminal: %q", err, stdout.String(), screen.String())
	}
	<-copied // ends with EIO once the child's end is closed

	out := screen.String()
	if strings.Contains(out, "exported 1000 records") {
		t.Errorf("on a terminal, export wrote the plain progress lines: %q", out)
	}
	if !strings.Contains(out, "\r") || !strings.Contains(out, "exported") {
		t.Errorf("on a terminal, export drew no progress bar (no redrawn line naming the work): %q", out)
	}
	if !strings.Contains(stdout.String(), "exported 2010 records") {
		t.Errorf("export's summary on stdout = %q; want it to count 2010 records", stdout.String())
	}
}
