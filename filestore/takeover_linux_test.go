package filestore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
	child := startStoppedHolder(t, "TestStoppedLeaseChild", "FILESTORE_STOPPED_CHILD", layout, path)
	cmd, pid, stdin, out, childEpoch := child.cmd, child.pid, child.stdin, child.out, child.epoch
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

// A stoppedHolder is a child process (this test binary, running the test
// named) that took the lease of "k", said so with its epoch, and was then
// stopped with SIGSTOP; it goes on once it is sent SIGCONT and reads a
// line on its stdin.
type stoppedHolder struct {
	cmd   *exec.Cmd
	pid   int
	stdin io.WriteCloser
	out   *bufio.Reader
	epoch uint64
}

// startStoppedHolder starts the child test named with env set to path and
// FILESTORE_LAYOUT to layout, waits for its "held <epoch>", stops it, and
// waits until the kernel reports it stopped. Cleanup kills it.
func startStoppedHolder(t *testing.T, test, env, layout, path string) stoppedHolder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+path, "FILESTORE_LAYOUT="+layout)
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
	var epoch uint64
	if _, serr := fmt.Sscanf(line, "held %d\n", &epoch); serr != nil {
		t.Fatalf("the child said %q, %v; want \"held\" and an epoch", line, err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, 'T')
	return stoppedHolder{cmd: cmd, pid: pid, stdin: stdin, out: out, epoch: epoch}
}
