package filestore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// TestStoppedLeaseChild is the child process of
// TestLeaseOfStoppedProcessIsTakenOver: with FILESTORE_STOPPED_CHILD set
// to a token file, it takes the lease of "k" for oauthrt.MinLeaseTTL,
// says "held" and the lease's epoch, and, once it reads a line, renews
// the lease, says how that went, releases it and says "released".
func TestStoppedLeaseChild(t *testing.T) {
	path := os.Getenv("FILESTORE_STOPPED_CHILD")
	if path == "" {
		t.Skip("runs only as a child process of TestLeaseOfStoppedProcessIsTakenOver")
	}
	s := storeAt(os.Getenv("FILESTORE_LAYOUT"), path)
	s.LeaseTTL = oauthrt.MinLeaseTTL
	l, err := s.TakeLease(ctx(), "k")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("held", l.(oauthrt.FencedLease).Epoch())
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		os.Exit(3)
	}
	switch err := l.Renew(ctx()); {
	case errors.Is(err, oauthrt.ErrLeaseLost):
		fmt.Println("renew: lost")
	case err != nil:
		fmt.Println("renew:", err)
	default:
		fmt.Println("renew: ok")
	}
	l.Release()
	fmt.Println("released")
	os.Exit(0)
}

// TestLeaseOfStoppedProcessIsTakenOver: a holder stopped by SIGSTOP
// keeps its lock, and its TTL timer does not run; once its lease's TTL
// has passed, another process takes the lease while it is still
// stopped. Continued, the stopped holder finds its lease lost, and its
// Release leaves the new holder's lease held.
func TestLeaseOfStoppedProcessIsTakenOver(t *testing.T) {
	leaseOfStoppedProcess(t, "path", filepath.Join(t.TempDir(), "tokens.json"))
}

// TestDirLeaseOfStoppedProcessIsTakenOver is
// TestLeaseOfStoppedProcessIsTakenOver on a directory, whose lease files
// stay in place between leases.
func TestDirLeaseOfStoppedProcessIsTakenOver(t *testing.T) {
	leaseOfStoppedProcess(t, "dir", filepath.Join(t.TempDir(), "tokens"))
}

func leaseOfStoppedProcess(t *testing.T, layout, path string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoppedLeaseChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FILESTORE_STOPPED_CHILD="+path, "FILESTORE_LAYOUT="+layout)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Kill()
		syscall.Kill(pid, syscall.SIGCONT) // a stopped process dies only once continued
		cmd.Wait()
	})
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	var childEpoch uint64
	if _, serr := fmt.Sscanf(line, "held %d\n", &childEpoch); serr != nil {
		t.Fatalf("the child said %q, %v; want \"held\" and an epoch", line, err)
	}

	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, 'T')
	s := storeAt(layout, path)
	c, cancel := context.WithTimeout(ctx(), 30*time.Second)
	defer cancel()
	l, err := s.TakeLease(c, "k")
	if err != nil {
		t.Fatalf("TakeLease while the holder is stopped: %v", err)
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
	for _, want := range []string{"renew: lost\n", "released\n"} {
		if line, err := out.ReadString('\n'); line != want {
			t.Fatalf("the continued child said %q, %v; want %q", line, err, want)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child: %v", err)
	}
	if err := l.Renew(ctx()); err != nil {
		t.Errorf("Renew of the lease taken over, once the stopped holder released its own: %v", err)
	}
	notTaken(t, storeAt(layout, path), 200*time.Millisecond, "while the lease taken over is held")
}
