package filestore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The one-trip steps of a refresh across a takeover: a holder that took
// its lease with TakeLeaseIf is stopped, another process takes the lease
// over, and the stopped holder, continued, commits with CommitRelease.
// Within one process the holder's timer lets go of a lapsed lease before
// anyone can take it over, so only a stopped process reaches the case
// where CommitRelease still holds a lock on a file a taker replaced.

var (
	stoppedPrev  = &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1"}
	stoppedChild = &oauth2.Token{AccessToken: "at-child", RefreshToken: "rt-child"}
)

// TestStoppedOneTripChild is the child process of
// TestOneTripLeaseOfStoppedProcessIsTakenOver: with
// FILESTORE_ONETRIP_CHILD set to a token file (or directory), it takes
// the lease of "k" over stoppedPrev with TakeLeaseIf, for
// oauthrt.MinLeaseTTL, says "held" and the lease's epoch, and, once it
// reads a line, commits stoppedChild over stoppedPrev with
// CommitRelease, and says how that went.
func TestStoppedOneTripChild(t *testing.T) {
	loc := os.Getenv("FILESTORE_ONETRIP_CHILD")
	if loc == "" {
		t.Skip("runs only as a child process of TestOneTripLeaseOfStoppedProcessIsTakenOver")
	}
	s := storeAt(os.Getenv("FILESTORE_LAYOUT"), loc)
	s.LeaseTTL = oauthrt.MinLeaseTTL
	l, _, err := s.TakeLeaseIf(ctx(), "k", stoppedPrev)
	switch {
	case err != nil:
		fmt.Println("error:", err)
		os.Exit(2)
	case l == nil:
		fmt.Println("error: no lease over the stored token")
		os.Exit(2)
	}
	fmt.Println("held", l.(oauthrt.FencedLease).Epoch())
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		os.Exit(3)
	}
	switch err := l.(oauthrt.CommitReleaser).CommitRelease(ctx(), stoppedPrev, stoppedChild); {
	case errors.Is(err, oauthrt.ErrCommitConflict):
		fmt.Println("commit: conflict")
	case err != nil:
		fmt.Println("commit:", err)
	default:
		fmt.Println("commit: ok")
	}
	os.Exit(0)
}

// TestOneTripLeaseOfStoppedProcessIsTakenOver: a holder that took its
// lease with TakeLeaseIf and was stopped is taken over by TakeLeaseIf
// once its TTL has passed. Continued, its CommitRelease still commits
// over the token it started from, and leaves the new holder's lease
// held; the new holder's CommitRelease then conflicts, and releases.
func TestOneTripLeaseOfStoppedProcessIsTakenOver(t *testing.T) {
	for _, layout := range []string{"path", "dir"} {
		t.Run(layout, func(t *testing.T) {
			loc := filepath.Join(t.TempDir(), "tokens")
			if layout == "path" {
				loc += ".json"
			}
			oneTripOfStoppedProcess(t, layout, loc)
		})
	}
}

func oneTripOfStoppedProcess(t *testing.T, layout, loc string) {
	if err := storeAt(layout, loc).Save(ctx(), "k", stoppedPrev); err != nil {
		t.Fatal(err)
	}
	child := startStoppedHolder(t, "TestStoppedOneTripChild", "FILESTORE_ONETRIP_CHILD", layout, loc)
	cmd, pid, stdin, out, childEpoch := child.cmd, child.pid, child.stdin, child.out, child.epoch
	s := storeAt(layout, loc)
	c, cancel := context.WithTimeout(ctx(), 30*time.Second)
	defer cancel()
	l, snap, err := s.TakeLeaseIf(c, "k", stoppedPrev)
	if err != nil {
		t.Fatalf("TakeLeaseIf while the holder is stopped: %v", err)
	}
	if l == nil {
		t.Fatalf("TakeLeaseIf while the holder is stopped took no lease, and found %+v", snap.Token)
	}
	defer l.Release()
	if st := procState(t, pid); st != 'T' {
		t.Fatalf("the child's state is %q once the lease was taken, want 'T' (stopped)", st)
	}
	if e := epochOf(t, l); e <= childEpoch {
		t.Errorf("the lease taken over has epoch %d, not above the child's %d", e, childEpoch)
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := out.ReadString('\n'); line != "commit: ok\n" {
		t.Fatalf("the continued child said %q, %v; want \"commit: ok\"", line, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child: %v", err)
	}
	if err := l.Renew(ctx()); err != nil {
		t.Errorf("Renew of the lease taken over, once the stopped holder committed and released: %v", err)
	}
	notTaken(t, storeAt(layout, loc), 200*time.Millisecond, "while the lease taken over is held")

	err = l.(oauthrt.CommitReleaser).CommitRelease(ctx(), stoppedPrev, &oauth2.Token{AccessToken: "at-parent", RefreshToken: "rt-parent"})
	if !errors.Is(err, oauthrt.ErrCommitConflict) {
		t.Errorf("CommitRelease over the token the stopped holder replaced: err = %v, want ErrCommitConflict", err)
	}
	got, err := s.Load(ctx(), "k")
	if err != nil || got.AccessToken != stoppedChild.AccessToken {
		t.Errorf("the store holds %v, %v; want the stopped holder's token", got, err)
	}
	free, err := storeAt(layout, loc).TakeLease(c, "k")
	if err != nil {
		t.Fatalf("TakeLease once the lease taken over was committed and released: %v", err)
	}
	free.Release()
}
