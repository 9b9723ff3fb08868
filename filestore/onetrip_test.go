package filestore_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// leaseFilesLeft returns how many lease files the layout leaves in
// place: those of Path + ".leases", or of Dir/leases.
func leaseFilesLeft(t *testing.T, layout, loc string) int {
	t.Helper()
	dir := loc + ".leases"
	if layout == "dir" {
		dir = filepath.Join(loc, "leases")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestTakeLeaseIfRefusedTakesNothing: a TakeLeaseIf that finds another
// token raises no epoch, and, with Path, leaves no lease file; a
// CommitRelease, as a Release, leaves none either.
func TestTakeLeaseIfRefusedTakesNothing(t *testing.T) {
	for _, layout := range []string{"path", "dir"} {
		t.Run(layout, func(t *testing.T) {
			loc := filepath.Join(t.TempDir(), "tokens")
			s := storeAt(layout, loc)
			stored := &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2"}
			if err := s.Save(ctx(), "k", stored); err != nil {
				t.Fatal(err)
			}
			l, err := s.TakeLease(ctx(), "k")
			if err != nil {
				t.Fatal(err)
			}
			before := epochOf(t, l)
			l.Release()

			l, snap, err := s.TakeLeaseIf(ctx(), "k", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1"})
			if err != nil || l != nil {
				t.Fatalf("TakeLeaseIf over another token: lease %v, err %v; want neither", l, err)
			}
			if snap.Token == nil || snap.Token.AccessToken != stored.AccessToken {
				t.Errorf("TakeLeaseIf over another token found %v, want the stored token", snap.Token)
			}
			wantFiles := 0
			if layout == "dir" || runtime.GOOS == "windows" {
				wantFiles = 1 // kept for the key's next lease
			}
			if n := leaseFilesLeft(t, layout, loc); n != wantFiles {
				t.Errorf("%d lease files left after a TakeLeaseIf that took nothing, want %d", n, wantFiles)
			}

			l, _, err = s.TakeLeaseIf(ctx(), "k", stored)
			if err != nil || l == nil {
				t.Fatalf("TakeLeaseIf over the stored token: lease %v, err %v", l, err)
			}
			if got := epochOf(t, l); got != before+1 {
				t.Errorf("TakeLeaseIf after one that took nothing has epoch %d, want %d", got, before+1)
			}
			next := &oauth2.Token{AccessToken: "at-3", RefreshToken: "rt-3"}
			if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx(), stored, next); err != nil {
				t.Fatalf("CommitRelease: %v", err)
			}
			if n := leaseFilesLeft(t, layout, loc); n != wantFiles {
				t.Errorf("%d lease files left after CommitRelease, want %d", n, wantFiles)
			}
		})
	}
}
