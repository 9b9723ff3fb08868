package localbus_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt/sqlstore/localbus"
)

// waitFor bounds every wait for something that must happen: never
// reached when the code works.
const waitFor = 10 * time.Second

// shortDir returns a directory of its own, short enough for sockets'
// paths, removed when t ends.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// A listener is one Listen running in a goroutine of its own.
type listener struct {
	payloads chan string
	done     chan error
	cancel   context.CancelFunc
}

// listen starts b.Listen(channel), and returns once it is ready.
func listen(t *testing.T, b *localbus.Bus, channel string) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{payloads: make(chan string, 16), done: make(chan error, 1), cancel: cancel}
	ready := make(chan struct{})
	go func() {
		l.done <- b.Listen(ctx, channel, func() { close(ready) }, func(p string) { l.payloads <- p })
	}()
	t.Cleanup(func() { cancel(); <-l.done })
	select {
	case <-ready:
	case err := <-l.done:
		t.Fatalf("Listen returned before it was ready: %v", err)
	case <-time.After(waitFor):
		t.Fatal("Listen was never ready")
	}
	return l
}

// next returns the next payload l heard.
func (l *listener) next(t *testing.T) string {
	t.Helper()
	select {
	case p := <-l.payloads:
		return p
	case <-time.After(waitFor):
		t.Fatal("no announcement arrived")
		return ""
	}
}

// TestAnnounceReachesEveryListener checks that an announcement reaches
// every listener of its channel, once, and none of another channel.
func TestAnnounceReachesEveryListener(t *testing.T) {
	b := localbus.New(shortDir(t))
	a1, a2 := listen(t, b, "oauthrt_a"), listen(t, localbus.New(b.Dir()), "oauthrt_a")
	other := listen(t, b, "oauthrt_b")
	ctx := context.Background()
	if err := b.Announce(ctx, "oauthrt_a", "first"); err != nil {
		t.Fatal(err)
	}
	if err := b.Announce(ctx, "oauthrt_b", "second"); err != nil {
		t.Fatal(err)
	}
	for i, l := range []*listener{a1, a2} {
		if p := l.next(t); p != "first" {
			t.Errorf("listener %d of oauthrt_a heard %q, want %q", i+1, p, "first")
		}
	}
	// Datagrams from one sender arrive in order: once "second" is heard,
	// "first" would have been too.
	if p := other.next(t); p != "second" {
		t.Errorf("the listener of oauthrt_b heard %q, want only %q", p, "second")
	}
	for i, l := range []*listener{a1, a2} {
		select {
		case p := <-l.payloads:
			t.Errorf("listener %d of oauthrt_a heard %q too", i+1, p)
		default:
		}
	}
}

// TestListenStops checks that Listen returns ctx's error once ctx ends,
// and leaves no socket behind; an announcement then reaches no one, and
// is no error.
func TestListenStops(t *testing.T) {
	dir := shortDir(t)
	b := localbus.New(dir)
	l := listen(t, b, "c")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the directory holds %d entries while one listens, want its socket", len(entries))
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the directory's mode is %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	l.cancel()
	if err := <-l.done; !errors.Is(err, context.Canceled) {
		t.Errorf("Listen returned %v, want context.Canceled", err)
	}
	l.done <- nil // for the cleanup
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the directory holds %d entries after Listen returned, want none", len(entries))
	}
	if err := b.Announce(context.Background(), "c", "p"); err != nil {
		t.Errorf("Announce with no one listening: %v", err)
	}
}

// TestAnnounceRemovesDeadSockets checks that the socket of a listener
// that died without removing it (a process killed) is removed by the
// next announcement, which reports it missed one, and still reaches the
// live listeners.
func TestAnnounceRemovesDeadSockets(t *testing.T) {
	dir := shortDir(t)
	b := localbus.New(dir)
	live := listen(t, b, "c")
	// A listener's socket, as a process killed while listening leaves it.
	entries, _ := os.ReadDir(dir)
	dead := filepath.Join(dir, strings.Replace(entries[0].Name(), ".sock", "", 1)[:17]+"0000000000000000.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dead, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // closing a datagram socket leaves its file
	if _, err := os.Stat(dead); err != nil {
		t.Fatalf("the dead socket's file: %v", err)
	}
	err = b.Announce(context.Background(), "c", "p")
	if err == nil || !strings.HasPrefix(err.Error(), "oauthrt: localbus: ") {
		t.Errorf("Announce = %v, want an error that says it missed a listener", err)
	}
	if p := live.next(t); p != "p" {
		t.Errorf("the live listener heard %q, want %q", p, "p")
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead socket's file is still there: %v", err)
	}
	if err := b.Announce(context.Background(), "c", "q"); err != nil {
		t.Errorf("the next Announce = %v, want nil", err)
	}
}

// TestAnnounceWithoutDirectory checks that announcing on a bus whose
// directory does not exist yet (no one has listened) is no error, and
// creates nothing.
func TestAnnounceWithoutDirectory(t *testing.T) {
	dir := filepath.Join(shortDir(t), "bus")
	if err := localbus.New(dir).Announce(context.Background(), "c", "p"); err != nil {
		t.Errorf("Announce = %v, want nil", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Announce created the directory: %v", err)
	}
}

// TestListenLongDirectory checks that a directory too long for a
// socket's path is a clear error, not a listener that never hears.
func TestListenLongDirectory(t *testing.T) {
	dir := filepath.Join(shortDir(t), strings.Repeat("d", 80))
	err := localbus.New(dir).Listen(context.Background(), "c", func() { t.Error("ready called") }, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "oauthrt: localbus: ") || !strings.Contains(err.Error(), "shorter directory") {
		t.Errorf("Listen = %v, want an error that asks for a shorter directory", err)
	}
}

// TestLargestPayload checks that a payload as long as sqlstore sends
// (7000 bytes at most) arrives whole.
func TestLargestPayload(t *testing.T) {
	b := localbus.New(shortDir(t))
	l := listen(t, b, "c")
	p := strings.Repeat("x", 7000)
	if err := b.Announce(context.Background(), "c", p); err != nil {
		t.Fatal(err)
	}
	if got := l.next(t); got != p {
		t.Errorf("heard %d bytes, want %d", len(got), len(p))
	}
}

// TestNilAndZeroBus checks that a nil *Bus fails with an error, never a
// panic (a Store would call it from a goroutine of its own), its Listen
// wrapping errors.ErrUnsupported so that the Store stops trying; and that
// the zero Bus works in the working directory.
func TestNilAndZeroBus(t *testing.T) {
	var nilBus *localbus.Bus
	err := nilBus.Listen(context.Background(), "c", func() { t.Error("ready called") }, func(string) {})
	if !errors.Is(err, errors.ErrUnsupported) || !strings.HasPrefix(err.Error(), "oauthrt: localbus: ") {
		t.Errorf("a nil Bus's Listen = %v, want an error wrapping errors.ErrUnsupported", err)
	}
	if err := nilBus.Announce(context.Background(), "c", "p"); err == nil {
		t.Error("a nil Bus's Announce = nil, want an error")
	}

	t.Chdir(shortDir(t))
	var zero localbus.Bus
	l := listen(t, &zero, "c")
	if err := zero.Announce(context.Background(), "c", "p"); err != nil {
		t.Fatal(err)
	}
	if p := l.next(t); p != "p" {
		t.Errorf("heard %q, want %q", p, "p")
	}
}

// TestAnnounceTooLong checks that a payload longer than a listener reads
// is refused rather than cut.
func TestAnnounceTooLong(t *testing.T) {
	b := localbus.New(shortDir(t))
	listen(t, b, "c")
	err := b.Announce(context.Background(), "c", strings.Repeat("x", 9000))
	if err == nil || !strings.HasPrefix(err.Error(), "oauthrt: localbus: ") {
		t.Errorf("Announce of 9000 bytes = %v, want an error", err)
	}
}
