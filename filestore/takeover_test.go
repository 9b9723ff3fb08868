package filestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
)

// leaseFileOf returns the path of the one lease file under the token
// file at path.
func leaseFileOf(t *testing.T, path string) string {
	t.Helper()
	entries, err := os.ReadDir(path + ".leases")
	if err != nil || len(entries) != 1 {
		t.Fatalf("lease directory: %v, %v; want one file", entries, err)
	}
	return filepath.Join(path+".leases", entries[0].Name())
}

// notTaken checks that TakeLease of "k" on s waits until a ctx of d
// ends.
func notTaken(t *testing.T, s *filestore.Store, d time.Duration, why string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx(), d)
	defer cancel()
	if l, err := s.TakeLease(c, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			l.Release()
		}
		t.Fatalf("TakeLease %s: err = %v, want DeadlineExceeded", why, err)
	}
}

// TestRenewedLeaseIsNotTakenOver: a holder that renews its lease every
// third of its TTL keeps it for three TTLs, while another Store waits
// for it the whole time.
func TestRenewedLeaseIsNotTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	ttl := oauthrt.MinLeaseTTL
	held, err := (&filestore.Store{Path: path, LeaseTTL: ttl}).TakeLease(ctx(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	stop := make(chan struct{})
	renewed := make(chan error, 1)
	go func() {
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				renewed <- nil
				return
			case <-tick.C:
				if err := held.Renew(ctx()); err != nil {
					renewed <- err
					return
				}
			}
		}
	}()
	notTaken(t, &filestore.Store{Path: path, LeaseTTL: ttl}, 3*ttl, "while its holder renews it")
	close(stop)
	if err := <-renewed; err != nil {
		t.Fatalf("Renew: %v", err)
	}
}

// TestDamagedRecordIsNotTakenOverEarly: a lease file whose contents are
// not a whole record (a read that met a rewrite half done, or a file
// damaged by hand) does not make the lease lapse: not even a record of a
// long past deadline whose checksum does not match. Once the file has
// not been written for the TTL, it has lapsed, and is taken over. An
// empty file, as the previous release locks, never lapses.
func TestDamagedRecordIsNotTakenOverEarly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not take a lapsed lease over")
	}
	for name, content := range map[string]string{
		"torn record": "until 00000000000000000001 00000000\n",
		"garbage":     "garbage",
		"long":        "until 00000000000000000001 00000000\nmore",
		"empty":       "",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.json")
			held, err := (&filestore.Store{Path: path, LeaseTTL: time.Hour}).TakeLease(ctx(), "k")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Release()
			file := leaseFileOf(t, path)
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			waiter := &filestore.Store{Path: path, LeaseTTL: time.Hour}
			notTaken(t, waiter, 300*time.Millisecond, "of a lease file just written with "+name)
			old := time.Now().Add(-2 * time.Hour)
			if err := os.Chtimes(file, old, old); err != nil {
				t.Fatal(err)
			}
			if content == "" {
				notTaken(t, waiter, 300*time.Millisecond, "of an empty lease file written long ago")
				return
			}
			c, cancel := context.WithTimeout(ctx(), 10*time.Second)
			defer cancel()
			l, err := waiter.TakeLease(c, "k")
			if err != nil {
				t.Fatalf("TakeLease of a damaged lease file written long ago: %v", err)
			}
			defer l.Release()
			if e1, e2 := epochOf(t, held), epochOf(t, l); e2 <= e1 {
				t.Errorf("epochs %d then %d", e1, e2)
			}
			if err := held.Renew(ctx()); !errors.Is(err, oauthrt.ErrLeaseLost) {
				t.Errorf("Renew of the lease taken over: err = %v, want ErrLeaseLost", err)
			}
		})
	}
}

// TestRenewFailsOnceFileIsRemoved: a lease whose file was removed from
// under its holder no longer excludes anyone, though no one took it yet:
// Renew says it is lost.
func TestRenewFailsOnceFileIsRemoved(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not remove a file that is open")
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	l, err := (&filestore.Store{Path: path, LeaseTTL: time.Hour}).TakeLease(ctx(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := os.Remove(leaseFileOf(t, path)); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx()); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew once the lease file was removed: err = %v, want ErrLeaseLost", err)
	}
}
