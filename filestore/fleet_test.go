package filestore_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"golang.org/x/oauth2"
)

// newAEAD returns an AES-GCM AEAD whose 32-byte key is key.
func newAEAD(t *testing.T, key string) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// TestCommitChild is the child process of TestCommitRace: with
// FILESTORE_COMMIT_CHILD set to a token file, it says "ready", then for
// each line "<prev access token> <prev refresh token> <round>" on stdin
// commits a token of its own over that prev under "k", and says "won",
// "lost" or "error: …".
func TestCommitChild(t *testing.T) {
	path := os.Getenv("FILESTORE_COMMIT_CHILD")
	if path == "" {
		t.Skip("runs only as a child process of TestCommitRace")
	}
	id := os.Getenv("FILESTORE_COMMIT_ID")
	s := storeAt(os.Getenv("FILESTORE_LAYOUT"), path)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var at, rt, round string
		if _, err := fmt.Sscan(in.Text(), &at, &rt, &round); err != nil {
			fmt.Println("error:", err)
			continue
		}
		err := s.Commit(ctx(), "k", &oauth2.Token{AccessToken: at, RefreshToken: rt},
			&oauth2.Token{AccessToken: "at-" + id + "-" + round, RefreshToken: "rt-" + id + "-" + round})
		switch {
		case err == nil:
			fmt.Println("won")
		case errors.Is(err, oauthrt.ErrCommitConflict):
			fmt.Println("lost")
		default:
			fmt.Println("error:", err)
		}
	}
	os.Exit(0)
}

// commitChild is a running TestCommitChild.
type commitChild struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func startCommitChild(t *testing.T, layout, loc, id string) commitChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommitChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FILESTORE_COMMIT_CHILD="+loc, "FILESTORE_COMMIT_ID="+id, "FILESTORE_LAYOUT="+layout)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close() // the child's loop ends, and it exits
		cmd.Wait()
	})
	c := commitChild{in: in, out: bufio.NewReader(out)}
	if line := c.line(t); line != "ready" {
		t.Fatalf("child %s said %q, want \"ready\"", id, line)
	}
	return c
}

func (c commitChild) line(t *testing.T) string {
	t.Helper()
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a child's answer: %q, %v", line, err)
	}
	return strings.TrimSuffix(line, "\n")
}

// TestCommitRace: processes and Store values of one process commit over
// the same token at once, round after round. In each round exactly one
// wins, and the file holds its token.
func TestCommitRace(t *testing.T) {
	commitRace(t, "path", filepath.Join(t.TempDir(), "tokens.json"))
}

// TestCommitRaceDir is TestCommitRace on a directory: the key's record
// holds the winner's token.
func TestCommitRaceDir(t *testing.T) {
	commitRace(t, "dir", filepath.Join(t.TempDir(), "tokens"))
}

func commitRace(t *testing.T, layout, path string) {
	const (
		processes  = 3
		goroutines = 4
		rounds     = 15
	)
	prev := &oauth2.Token{AccessToken: "at-seed", RefreshToken: "rt-seed"}
	if err := storeAt(layout, path).Save(ctx(), "k", prev); err != nil {
		t.Fatal(err)
	}
	var children []commitChild
	for i := range processes {
		children = append(children, startCommitChild(t, layout, path, fmt.Sprint("p", i)))
	}
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]string, processes+goroutines)
		for i := range goroutines {
			wg.Go(func() {
				s := storeAt(layout, path) // a Store value of its own
				tok := &oauth2.Token{AccessToken: fmt.Sprintf("at-g%d-%d", i, round), RefreshToken: fmt.Sprintf("rt-g%d-%d", i, round)}
				<-start
				switch err := s.Commit(ctx(), "k", prev, tok); {
				case err == nil:
					results[processes+i] = "won"
				case errors.Is(err, oauthrt.ErrCommitConflict):
					results[processes+i] = "lost"
				default:
					results[processes+i] = "error: " + err.Error()
				}
			})
		}
		for _, c := range children {
			wg.Go(func() {
				<-start
				fmt.Fprintf(c.in, "%s %s %d\n", prev.AccessToken, prev.RefreshToken, round)
			})
		}
		close(start)
		wg.Wait()
		for i, c := range children {
			results[i] = c.line(t)
		}
		winner := -1
		for i, r := range results {
			switch {
			case r == "won" && winner >= 0:
				t.Fatalf("round %d: %d and %d both won (results %q)", round, winner, i, results)
			case r == "won":
				winner = i
			case r != "lost":
				t.Fatalf("round %d: committer %d: %s", round, i, r)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won (results %q)", round, results)
		}
		held, err := storeAt(layout, path).Load(ctx(), "k")
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("at-p%d-%d", winner, round)
		if winner >= processes {
			want = fmt.Sprintf("at-g%d-%d", winner-processes, round)
		}
		if held.AccessToken != want {
			t.Fatalf("round %d: the file holds %q, want the winner's %q", round, held.AccessToken, want)
		}
		prev = held
	}
}

// TestCommitComparesTheDecryptedToken: with an AEAD, Commit compares the
// fingerprint of the token it decrypts, so a prev that differs from the
// stored token only outside the access and refresh tokens matches, and
// one that differs in them does not. A refused Commit leaves the file as
// it was, byte for byte.
func TestCommitComparesTheDecryptedToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	aead := newAEAD(t, "filestore test key, 32 bytes 123")
	s := &filestore.Store{Path: path, AEAD: aead}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, key := range []string{"k", "\xff", ""} {
		t1 := &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: exp}
		if err := s.Commit(ctx(), key, nil, t1); err != nil {
			t.Fatalf("Commit(%q) over no token: %v", key, err)
		}
		refused := func(prev *oauth2.Token, also error) {
			t.Helper()
			before, _ := os.ReadFile(path)
			err := s.Commit(ctx(), key, prev, &oauth2.Token{AccessToken: "at-x", RefreshToken: "rt-x"})
			if !errors.Is(err, oauthrt.ErrCommitConflict) || (also != nil && !errors.Is(err, also)) {
				t.Errorf("Commit(%q) over %v: err = %v, want ErrCommitConflict (and %v)", key, prev, err, also)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("a refused Commit(%q) changed the file", key)
			}
		}
		refused(nil, nil)
		refused(&oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-other"}, nil)
		refused(&oauth2.Token{AccessToken: "at-other", RefreshToken: "rt-1"}, nil)
		// Another key's AEAD cannot read the stored token: it is not prev.
		other := &filestore.Store{Path: path, AEAD: newAEAD(t, "another test key, 32 bytes 45678")}
		err := other.Commit(ctx(), key, t1, &oauth2.Token{AccessToken: "at-x"})
		if !errors.Is(err, oauthrt.ErrCommitConflict) || !errors.Is(err, oauthrt.ErrDecrypt) {
			t.Errorf("Commit(%q) with another AEAD: err = %v, want ErrCommitConflict and ErrDecrypt", key, err)
		}
		// Same access and refresh tokens, another expiry and type.
		t2 := &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2"}
		if err := s.Commit(ctx(), key, &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", TokenType: "Bearer"}, t2); err != nil {
			t.Fatalf("Commit(%q) over the stored token: %v", key, err)
		}
		if got, err := s.Load(ctx(), key); err != nil || got.AccessToken != "at-2" {
			t.Fatalf("Load(%q) after Commit = %v, %v", key, got, err)
		}
		refused(t1, nil)
	}
	if raw, _ := os.ReadFile(path); bytes.Contains(raw, []byte("at-2")) {
		t.Errorf("the file holds a committed token in the clear: %s", raw)
	}
}

// TestCommitOverCorruptToken: a stored record that is not a token is not
// prev either; Commit refuses, and says why.
func TestCommitOverCorruptToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := putToken(path, "k", []byte(`{"no_access_token":1}`)); err != nil {
		t.Fatal(err)
	}
	s := &filestore.Store{Path: path}
	err := s.Commit(ctx(), "k", &oauth2.Token{AccessToken: "at"}, &oauth2.Token{AccessToken: "at-2"})
	if !errors.Is(err, oauthrt.ErrCommitConflict) || !errors.Is(err, oauthrt.ErrCorruptToken) {
		t.Errorf("Commit over a corrupt record: err = %v, want ErrCommitConflict and ErrCorruptToken", err)
	}
	if err := s.Commit(ctx(), "k", nil, &oauth2.Token{AccessToken: "at-2"}); !errors.Is(err, oauthrt.ErrCommitConflict) {
		t.Errorf("Commit(prev nil) over a corrupt record: err = %v, want ErrCommitConflict", err)
	}
}

// TestGrantStateInTheFile: grant states are kept in the token file, in
// the clear beside sealed tokens, per key (keys that are not valid UTF-8
// included, and apart from the valid keys that spell them in base64),
// without changing the layout version; a new Store on the file reads
// them back; Save and a successful Commit delete the key's state, a
// refused Commit does not; the zero state deletes it.
func TestGrantStateInTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	aead := newAEAD(t, "filestore test key, 32 bytes 123")
	s := &filestore.Store{Path: path, AEAD: aead}
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	keys := []string{"k", "/w==", "\xff", ""}
	now := time.Now() // with a monotonic reading
	state := func(i int) oauthrt.GrantState {
		return oauthrt.GrantState{
			DeadToken:   fmt.Sprintf("fp-%d", i),
			DeadCode:    "invalid_grant",
			DeadAt:      time.Date(2031, 2, 3, 4, 5, 6, 123456789, zone),
			NextAttempt: now.Add(time.Duration(i) * time.Minute),
			Failures:    i + 1,
		}
	}
	for i, key := range keys {
		if err := s.Save(ctx(), key, &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveGrantState(ctx(), key, state(i)); err != nil {
			t.Fatalf("SaveGrantState(%q): %v", key, err)
		}
	}
	if err := s.SaveGrantState(ctx(), "no token", state(9)); err != nil {
		t.Fatalf("SaveGrantState of a key without a token: %v", err)
	}
	equal := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	reopened := &filestore.Store{Path: path} // no AEAD: the states are in the clear
	for i, key := range append(keys, "no token") {
		if key == "no token" {
			i = 9
		}
		got, err := reopened.LoadGrantState(ctx(), key)
		if err != nil {
			t.Fatalf("LoadGrantState(%q): %v", key, err)
		}
		if diff := cmp.Diff(state(i), got, equal); diff != "" {
			t.Errorf("LoadGrantState(%q) (-saved +loaded):\n%s", key, diff)
		}
		if got.DeadAt.Location() != time.UTC || got.NextAttempt.Location() != time.UTC {
			t.Errorf("LoadGrantState(%q): times in %v and %v, want UTC", key, got.DeadAt.Location(), got.NextAttempt.Location())
		}
	}
	doc, err := readDoc(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc["version"] != 2.0 { // for the token of "\xff"
		t.Errorf("version = %v, want 2, as byte_keys alone makes it", doc["version"])
	}
	states, _ := doc["grant_states"].(map[string]any)
	byteStates, _ := doc["byte_key_grant_states"].(map[string]any)
	if len(states) != 4 || len(byteStates) != 1 || byteStates["/w=="] == nil {
		t.Fatalf("grant_states = %v, byte_key_grant_states = %v; want 4 and the one of \"\\xff\"", states, byteStates)
	}
	if got := states["k"].(map[string]any)["dead_at"]; got != "2031-02-02T22:35:06.123456789Z" {
		t.Errorf("dead_at of k in the file = %v, want it in UTC to the nanosecond", got)
	}

	// Save and Commit clear their key's state only.
	if err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2"}); err != nil {
		t.Fatal(err)
	}
	err = s.Commit(ctx(), "/w==", &oauth2.Token{AccessToken: "other"}, &oauth2.Token{AccessToken: "at-2"})
	if !errors.Is(err, oauthrt.ErrCommitConflict) {
		t.Fatalf("Commit over another token: %v", err)
	}
	if err := s.Commit(ctx(), "\xff", &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}, &oauth2.Token{AccessToken: "at-2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveGrantState(ctx(), "", oauthrt.GrantState{}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"k": false, "/w==": true, "\xff": false, "": false, "no token": true} {
		got, err := reopened.LoadGrantState(ctx(), key)
		if err != nil {
			t.Fatal(err)
		}
		if !got.IsZero() != want {
			t.Errorf("LoadGrantState(%q) = %+v; want a state kept: %t", key, got, want)
		}
	}
	doc, err = readDoc(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["byte_key_grant_states"]; ok {
		t.Errorf("byte_key_grant_states = %v after its last state was cleared; want it gone", doc["byte_key_grant_states"])
	}
	if states := doc["grant_states"].(map[string]any); len(states) != 2 {
		t.Errorf("grant_states = %v, want those of /w== and \"no token\"", states)
	}
}

// TestGrantStateLayoutVersion: grant states alone keep a file at layout 1,
// which releases that predate them read.
func TestGrantStateLayoutVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := &filestore.Store{Path: path}
	if err := s.Save(ctx(), "k", &oauth2.Token{AccessToken: "at"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k", "\xff"} {
		if err := s.SaveGrantState(ctx(), key, oauthrt.GrantState{Failures: 1}); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := readDoc(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc["version"] != 1.0 {
		t.Errorf("version = %v, want 1: grant states do not change the layout", doc["version"])
	}
}

// TestGrantStateFarTimes: a time past the year 9999, which JSON's time
// format cannot spell, is kept as that year's last instant rather than
// failing the save.
func TestGrantStateFarTimes(t *testing.T) {
	s := &filestore.Store{Path: filepath.Join(t.TempDir(), "tokens.json")}
	far := time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SaveGrantState(ctx(), "k", oauthrt.GrantState{NextAttempt: far, Failures: 1}); err != nil {
		t.Fatalf("SaveGrantState of a time past 9999: %v", err)
	}
	got, err := s.LoadGrantState(ctx(), "k")
	if want := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC); err != nil || !got.NextAttempt.Equal(want) {
		t.Errorf("LoadGrantState = %+v, %v; want NextAttempt %v", got, err, want)
	}
}

// TestCorruptByteKeyGrantStates: a name in byte_key_grant_states that is
// not the base64 of an invalid UTF-8 key makes the file corrupt, as it
// does in byte_keys.
func TestCorruptByteKeyGrantStates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	content := `{"version":1,"tokens":{},"byte_key_grant_states":{"YQ==":{"failures":1}}}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &filestore.Store{Path: path}
	if _, err := s.LoadGrantState(ctx(), "a"); !errors.Is(err, oauthrt.ErrCorruptToken) {
		t.Errorf("LoadGrantState: err = %v, want ErrCorruptToken", err)
	}
	if err := s.SaveGrantState(ctx(), "a", oauthrt.GrantState{}); !errors.Is(err, oauthrt.ErrCorruptToken) {
		t.Errorf("SaveGrantState: err = %v, want ErrCorruptToken", err)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("the corrupt file was changed to %q", b)
	}
}

// epochOf returns l's epoch, failing if l is not a FencedLease.
func epochOf(t *testing.T, l oauthrt.Lease) uint64 {
	t.Helper()
	f, ok := l.(oauthrt.FencedLease)
	if !ok {
		t.Fatalf("the lease %T is not an oauthrt.FencedLease", l)
	}
	return f.Epoch()
}

// TestEpochsGrowAcrossStoresAndReleases: each lease of a key has a
// greater epoch than the one before, whichever Store value took it, and
// after the lease files were removed on release; keys count apart.
func TestEpochsGrowAcrossStoresAndReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	var last uint64
	for i := range 6 {
		s := &filestore.Store{Path: path} // a new Store each time
		l, err := s.TakeLease(ctx(), "k")
		if err != nil {
			t.Fatal(err)
		}
		e := epochOf(t, l)
		if e <= last {
			t.Errorf("lease %d has epoch %d, not above %d", i, e, last)
		}
		last = e
		l.Release()
	}
	if last != 6 {
		t.Errorf("the sixth lease has epoch %d, want 6", last)
	}
	l, err := (&filestore.Store{Path: path}).TakeLease(ctx(), "other")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if e := epochOf(t, l); e != 1 {
		t.Errorf("the first lease of another key has epoch %d, want 1", e)
	}
}

// TestRenewFailsOnceLaterEpochExists: a lease file removed from under its
// holder (by hand, say) lets another holder lock a new file. The first
// holder's Renew then sees the later epoch and fails with ErrLeaseLost,
// and releasing it leaves the new holder's file, and lease, alone.
func TestRenewFailsOnceLaterEpochExists(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not remove a file that is open")
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	a := &filestore.Store{Path: path, LeaseTTL: time.Hour}
	first, err := a.TakeLease(ctx(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	entries, err := os.ReadDir(path + ".leases")
	if err != nil || len(entries) != 1 {
		t.Fatalf("lease directory: %v, %v; want one file", entries, err)
	}
	leaseFile := filepath.Join(path+".leases", entries[0].Name())
	if err := os.Remove(leaseFile); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx(), 10*time.Second)
	defer cancel()
	second, err := (&filestore.Store{Path: path, LeaseTTL: time.Hour}).TakeLease(c, "k")
	if err != nil {
		t.Fatalf("TakeLease once the lease file was removed: %v", err)
	}
	defer second.Release()
	if e1, e2 := epochOf(t, first), epochOf(t, second); e2 <= e1 {
		t.Fatalf("epochs %d then %d", e1, e2)
	}
	if err := first.Renew(ctx()); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew of the earlier lease: err = %v, want ErrLeaseLost", err)
	}
	first.Release()
	if _, err := os.Stat(leaseFile); err != nil {
		t.Errorf("the later holder's lease file: %v", err)
	}
	if err := second.Renew(ctx()); err != nil {
		t.Errorf("Renew of the later lease: %v", err)
	}
	c, cancel = context.WithTimeout(ctx(), 100*time.Millisecond)
	defer cancel()
	if l, err := a.TakeLease(c, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			l.Release()
		}
		t.Errorf("TakeLease while the later lease is held: err = %v, want DeadlineExceeded", err)
	}
}

// TestCorruptEpochsFile: an epochs file this package cannot read is an
// error wrapping ErrCorruptToken, left as it is, and the lease file's
// lock is not kept; one of a newer layout is refused.
func TestCorruptEpochsFile(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":   "garbage",
		"no version": `{"epochs":{}}`,
		"wrong type": `{"version":1,"epochs":{"x":-1}}`,
		"trailing":   `{"version":1,"epochs":{}} {}`,
		"newer":      `{"version":2,"epochs":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.json")
			if err := os.WriteFile(path+".epochs", []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := &filestore.Store{Path: path}
			_, err := s.TakeLease(ctx(), "k")
			if name == "newer" {
				if err == nil || !strings.Contains(err.Error(), "version 2") {
					t.Errorf("TakeLease: err = %v, want the newer layout refused", err)
				}
			} else if !errors.Is(err, oauthrt.ErrCorruptToken) {
				t.Errorf("TakeLease: err = %v, want ErrCorruptToken", err)
			}
			if b, _ := os.ReadFile(path + ".epochs"); string(b) != content {
				t.Errorf("the epochs file was changed to %q", b)
			}
			if err := os.Remove(path + ".epochs"); err != nil {
				t.Fatal(err)
			}
			c, cancel := context.WithTimeout(ctx(), 5*time.Second)
			defer cancel()
			l, err := s.TakeLease(c, "k")
			if err != nil {
				t.Fatalf("TakeLease once the epochs file is gone: %v", err)
			}
			l.Release()
		})
	}
}

// TestPreviousReleaseFiles: files the release before Commit and grant
// states wrote (testdata/previous, written by that release's Save: layout
// 1 in the clear and sealed, layout 2 with a key that is not valid UTF-8)
// load, take Commits over their tokens and grant states, and keep their
// layout version.
func TestPreviousReleaseFiles(t *testing.T) {
	aead := newAEAD(t, "filestore testdata key, 32 bytes")
	for _, tc := range []struct {
		file    string
		aead    cipher.AEAD
		version float64
		tokens  map[string]string // key → access token
	}{
		{"layout1.json", nil, 1, map[string]string{"org/1": "at-1", "": "at-empty"}},
		{"layout1-sealed.json", aead, 1, map[string]string{"org/1": "at-1"}},
		{"layout2.json", nil, 2, map[string]string{"org/1": "at-1", "\xff": "at-ff", "/w==": "at-w"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "previous", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "tokens.json")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s := &filestore.Store{Path: path, AEAD: tc.aead}
			for key, at := range tc.tokens {
				prev, err := s.Load(ctx(), key)
				if err != nil || prev.AccessToken != at {
					t.Fatalf("Load(%q) = %v, %v; want %q", key, prev, err, at)
				}
				if err := s.SaveGrantState(ctx(), key, oauthrt.GrantState{Failures: 2}); err != nil {
					t.Fatal(err)
				}
				next := &oauth2.Token{AccessToken: at + "-next", RefreshToken: "rt-next"}
				if err := s.Commit(ctx(), key, prev, next); err != nil {
					t.Fatalf("Commit(%q) over the stored token: %v", key, err)
				}
				if got, err := s.Load(ctx(), key); err != nil || got.AccessToken != next.AccessToken {
					t.Errorf("Load(%q) after Commit = %v, %v", key, got, err)
				}
				if st, err := s.LoadGrantState(ctx(), key); err != nil || !st.IsZero() {
					t.Errorf("LoadGrantState(%q) after Commit = %+v, %v; want none", key, st, err)
				}
			}
			doc, err := readDoc(path)
			if err != nil {
				t.Fatal(err)
			}
			if doc["version"] != tc.version {
				t.Errorf("version = %v, want %v", doc["version"], tc.version)
			}
		})
	}
}

// TestEpochsAcrossProcesses: a lease taken in another process counts
// too: the next lease in this one has a greater epoch.
func TestEpochsAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := &filestore.Store{Path: path}
	l, err := s.TakeLease(ctx(), "k")
	if err != nil {
		t.Fatal(err)
	}
	mine := epochOf(t, l)
	l.Release()
	_, out, theirs := startHolder(t, path, true)
	waitExited(t, out)
	if theirs <= mine {
		t.Errorf("the child's lease has epoch %d, not above this process's %d", theirs, mine)
	}
	lockSoon(t, path, "after the child's", theirs)
}
