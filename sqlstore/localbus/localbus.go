// Package localbus carries the announcements of released leases that a
// [github.com/oauthrt/oauthrt/sqlstore.Store] makes on SQLite, MySQL or
// MariaDB between the processes of one host, over Unix datagram sockets
// in a directory, so that the Store's waiters are woken by a release
// rather than poll for it:
//
//	bus := localbus.New(path + ".bus")
//	store := &sqlstore.Store{DB: db, Listener: bus.Listen, Announcer: bus.Announce}
//
// The processes that share an SQLite database share its host, so a bus
// beside the database file reaches all of them. With MySQL or MariaDB it
// reaches the processes of the host it is on only: processes on other
// hosts hear nothing, and their waiters poll as they would without it.
// See "Announced releases" in sqlstore's documentation.
//
// Each listening process binds a socket of its own in the directory;
// an announcement is one datagram to each socket there. An announcement
// is a hint, and the bus drops one it cannot deliver at once (to a
// process too busy to read, or one that died: its socket file is then
// removed): a waiter that hears nothing asks the database again after a
// fallback pause. Whoever may write to the directory may announce and
// listen, so it is created with mode 0700, and should be kept to the user
// the processes run as; what a stranger could announce is harmless (see
// sqlstore's documentation), but makes waiters ask again.
//
// Unix datagram sockets exist on Linux and the BSDs, macOS among them;
// elsewhere (Windows) Listen fails with an error wrapping
// [errors.ErrUnsupported], and the Store's waiters poll.
package localbus

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// maxDatagram bounds what a listener reads of one datagram, and so the
// payloads Announce sends: more than the longest payload sqlstore
// announces (7000 bytes).
const maxDatagram = 8192

// sendTimeout bounds the delivery of one datagram to one listener, whose
// queue may be full.
const sendTimeout = 50 * time.Millisecond

// maxSocketPath is the longest socket path this package binds: the
// shortest limit of the systems it runs on (macOS and the BSDs take 104
// bytes with the terminating NUL, Linux 108).
const maxSocketPath = 103

// A Bus is a directory where the listeners of a host bind their sockets.
// Its methods are the Listener and the Announcer of a sqlstore.Store. A
// Bus holds no state but its directory: any number of Stores, in any
// number of processes, may use Buses on the same directory, and its
// methods may be called from any number of goroutines. The zero Bus is
// the working directory's; a nil *Bus listens and announces nothing, and
// says so with an error.
type Bus struct {
	dir string
}

// errNil is the error of a nil *Bus's methods.
var errNil = errors.New("oauthrt: localbus: nil *Bus")

// New returns the Bus in dir, which Listen creates (mode 0700) if need be.
// A listener's socket is dir, a slash and 38 bytes more, within the 103
// bytes a socket's path may hold: keep dir to 64 bytes, or Listen fails
// (a relative dir is relative to the working directory at each call, and
// counts as written).
// An empty dir is the working directory.
func New(dir string) *Bus {
	if dir == "" {
		dir = "."
	}
	return &Bus{dir: dir}
}

// Dir returns the Bus's directory.
func (b *Bus) Dir() string {
	if b == nil || b.dir == "" {
		return "."
	}
	return b.dir
}

// Listen binds a socket of its own in the Bus's directory for channel,
// calls ready, and hands notify the payload of each announcement made on
// channel, until ctx ends; it then removes its socket and returns
// ctx.Err(). It fails when it cannot create the directory or bind the
// socket (a directory whose name is too long, see New), or when the
// system has no Unix datagram sockets, with an error wrapping
// [errors.ErrUnsupported]. Its signature is that of a sqlstore.Store's
// Listener.
func (b *Bus) Listen(ctx context.Context, channel string, ready func(), notify func(payload string)) error {
	if b == nil {
		return fmt.Errorf("%w: %w", errNil, errors.ErrUnsupported)
	}
	if runtime.GOOS == "windows" {
		return fmt.Errorf("oauthrt: localbus: Windows has no Unix datagram sockets: %w", errors.ErrUnsupported)
	}
	dir := b.Dir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("oauthrt: localbus: %w", err)
	}
	var id [8]byte
	rand.Read(id[:])
	name := filepath.Join(dir, prefix(channel)+hex.EncodeToString(id[:])+".sock")
	if len(name) > maxSocketPath {
		return fmt.Errorf("oauthrt: localbus: the socket path %q is longer than the %d bytes a socket's path may hold: use a shorter directory", name, maxSocketPath)
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		if isUnsupported(err) {
			return fmt.Errorf("oauthrt: localbus: %w: %w", err, errors.ErrUnsupported)
		}
		return fmt.Errorf("oauthrt: localbus: %w", err)
	}
	defer os.Remove(name)
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	ready()
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := c.ReadFromUnix(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("oauthrt: localbus: %w", err)
		}
		notify(string(buf[:n]))
	}
}

// Announce sends payload, as one datagram, to every socket listening on
// channel in the Bus's directory, and returns nil when it reached them
// all (or none listens). A payload longer than 8192 bytes, more than a
// listener reads of one datagram, is not sent, and is an error. A socket it cannot reach within 50 ms is
// skipped, and one that no process binds any more (its process died) is
// removed; the error then names how many it did not reach. It never
// creates the directory. Its signature is that of a sqlstore.Store's
// Announcer; ctx bounds the whole.
func (b *Bus) Announce(ctx context.Context, channel, payload string) error {
	if b == nil {
		return errNil
	}
	if len(payload) > maxDatagram {
		return fmt.Errorf("oauthrt: localbus: a payload of %d bytes is longer than the %d a listener reads", len(payload), maxDatagram)
	}
	dir := b.Dir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // nobody has listened yet
		}
		return fmt.Errorf("oauthrt: localbus: %w", err)
	}
	p := prefix(channel)
	missed := 0
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, p) || !strings.HasSuffix(n, ".sock") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("oauthrt: localbus: %w", err)
		}
		if send(ctx, filepath.Join(dir, n), payload) != nil {
			missed++
		}
	}
	if missed > 0 {
		return fmt.Errorf("oauthrt: localbus: the announcement reached %d listeners less than there are sockets", missed)
	}
	return nil
}

// send delivers payload to the socket at name; a socket nobody binds is
// removed.
func send(ctx context.Context, name, payload string) error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			os.Remove(name) // its listener is gone, and never comes back: its name was random
		}
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(sendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetWriteDeadline(deadline)
	_, err = c.Write([]byte(payload))
	return err
}

// prefix is what the names of channel's sockets start with: the first 8
// bytes of its SHA-256 in hex, and a dash. A hash keeps the names short
// whatever the channel, and a channel's sockets apart from another's.
func prefix(channel string) string {
	sum := sha256.Sum256([]byte(channel))
	return hex.EncodeToString(sum[:8]) + "-"
}

// isUnsupported reports whether err says the system has no Unix datagram
// sockets.
func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT) ||
		errors.Is(err, syscall.ESOCKTNOSUPPORT) || errors.Is(err, errors.ErrUnsupported)
}
