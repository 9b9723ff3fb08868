package main

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
)

// binary is the oauthrt command, built once by TestMain: the tests run
// it as an operator would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "oauthrt-cmd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "oauthrt")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building oauthrt: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the built command with args and env (added to the test's
// environment, with OAUTHRT_STORE and OAUTHRT_KEYS_FILE cleared first).
func cli(t testing.TB, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), "OAUTHRT_STORE=", "OAUTHRT_KEYS_FILE="), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running oauthrt %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs the command and fails the test unless it exits 0.
func mustRun(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := cli(t, env, args...)
	if r.code != 0 {
		t.Fatalf("oauthrt %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// backend is a store a test can use, empty and its own.
type backend struct {
	name string
	url  string
}

// backends returns a fresh store URL on each backend this machine has:
// the file layouts and SQLite always, PostgreSQL, MySQL, Redis and Redis
// Cluster when their OAUTHRT_TEST_* variables are set. Each has a table,
// prefix or directory of its own.
func backends(t testing.TB) []backend {
	t.Helper()
	dir := t.TempDir()
	id := randomID(t)
	bs := []backend{
		{"file", "file://" + filepath.Join(dir, "tokens.json")},
		{"filedir", "file://" + filepath.Join(dir, "records") + "/"},
		{"sqlite", "sqlite://" + filepath.Join(dir, "tokens.db")},
	}
	if pg := os.Getenv("OAUTHRT_TEST_POSTGRES"); pg != "" {
		bs = append(bs, backend{"postgres", withParam(t, pg, "table", "cmd_"+id)})
	}
	if my := os.Getenv("OAUTHRT_TEST_MYSQL"); my != "" {
		c, err := mysql.ParseDSN(my)
		if err != nil {
			t.Fatalf("OAUTHRT_TEST_MYSQL: %v", err)
		}
		u := url.URL{Scheme: "mysql", Host: c.Addr, Path: "/" + c.DBName}
		if c.User != "" {
			u.User = url.UserPassword(c.User, c.Passwd)
			if c.Passwd == "" {
				u.User = url.User(c.User)
			}
		}
		bs = append(bs, backend{"mysql", withParam(t, u.String(), "table", "cmd_"+id)})
	}
	if r := os.Getenv("OAUTHRT_TEST_REDIS"); r != "" {
		bs = append(bs, backend{"redis", "redis://" + r + "/0?prefix=cmd:" + id + ":"})
	}
	if rc := os.Getenv("OAUTHRT_TEST_REDIS_CLUSTER"); rc != "" {
		addrs := strings.Split(rc, ",")
		u := "redis://" + addrs[0] + "?cluster=true&prefix=cmd:" + id + ":"
		for _, a := range addrs[1:] {
			u += "&addr=" + a
		}
		bs = append(bs, backend{"cluster", u})
	}
	return bs
}

// randomID returns a short random name for a table or prefix.
func randomID(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// withParam returns raw with the query parameter k=v added.
func withParam(t testing.TB, raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// opened opens b's store in the test's process, to seed it and to check
// what a command did; it is closed when the test ends.
func opened(t testing.TB, b backend) *store {
	t.Helper()
	return openedSealed(t, b, nil)
}

// openedSealed opens b's store in the test's process with aead (nil: in
// the clear), its SQL table created; it is closed when the test ends.
func openedSealed(t testing.TB, b backend, aead cipher.AEAD) *store {
	t.Helper()
	s, err := createStore(context.Background(), b.url, aead)
	if err != nil {
		t.Fatalf("opening %s: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	if ss, ok := s.TokenStore.(*sqlstore.Store); ok {
		if err := ss.Migrate(context.Background()); err != nil {
			t.Fatalf("creating the table of %s: %v", b.name, err)
		}
	}
	return s
}

func TestNoStore(t *testing.T) {
	r := cli(t, nil, "status")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no store") {
		t.Fatalf("status without a store: exit %d, stderr %q; want exit %d and a message naming the missing store", r.code, r.stderr, exitUsage)
	}
}

// TestUsageErrors runs the command wrongly: each run exits 2 with a
// message on stderr that says what was wrong, and prints nothing else.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"show"}, "show takes one argument, KEY"},
		{[]string{"show", "a", "b"}, "show takes one argument, KEY"},
		{[]string{"refresh"}, "refresh takes one argument, KEY"},
		{[]string{"revoke"}, "revoke takes one argument, KEY"},
		{[]string{"status", "extra"}, "status takes no arguments"},
		{[]string{"rekey", "extra"}, "rekey takes no arguments"},
		{[]string{"status", "--no-such-flag"}, "unknown flag: --no-such-flag"},
	} {
		r := cli(t, nil, c.args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, "oauthrt: ") || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("oauthrt %s: exit %d, stdout %q, stderr %q; want exit %d and a message with %q", strings.Join(c.args, " "), r.code, r.stdout, r.stderr, exitUsage, c.want)
		}
	}
	if r := cli(t, nil); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("oauthrt without arguments: exit %d, stdout %q; want the help and exit 0", r.code, r.stdout)
	}
}

// TestMissingLocalStore points the commands that read a store at a
// file, directory or SQLite database that does not exist: each fails
// with a message naming the path, and creates nothing (SQLite would make
// the file as it opens it).
func TestMissingLocalStore(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{
		"file://" + filepath.Join(dir, "tokens.json"),
		"file://" + filepath.Join(dir, "records") + "/",
		"sqlite://" + filepath.Join(dir, "tokens.db"),
	} {
		for _, args := range [][]string{{"status"}, {"show", "k"}, {"export", "--out", filepath.Join(dir, "out"), "--plaintext"}} {
			r := cli(t, []string{"OAUTHRT_STORE=" + u}, args...)
			if r.code != exitFailed || !strings.Contains(r.stderr, "does not exist") {
				t.Errorf("oauthrt %s on %s: exit %d, stderr %q; want exit %d and a message that it does not exist", strings.Join(args, " "), u, r.code, r.stderr, exitFailed)
			}
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the commands left %d entries in the directory, the first %s; want none", len(left), left[0].Name())
	}
}

// TestRedisLeases checks ?leases= of Redis URLs: it sets the Store's
// lease layout, so that the command takes its leases where the fleet
// does, and a value that names no layout is a usage error that says
// which ones exist.
func TestRedisLeases(t *testing.T) {
	addr := os.Getenv("OAUTHRT_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:1" // the URL is refused before anything connects
	}
	r := cli(t, nil, "status", "--store", "redis://"+addr+"/0?leases=sideways")
	if r.code != exitUsage || !strings.Contains(r.stderr, `leases="sideways"`) || !strings.Contains(r.stderr, "beside") {
		t.Errorf("leases=sideways: exit %d, stderr %q; want exit %d naming the layouts", r.code, r.stderr, exitUsage)
	}
	if os.Getenv("OAUTHRT_TEST_REDIS") == "" {
		t.Skip("OAUTHRT_TEST_REDIS is not set: no Redis to open a Store on")
	}
	for v, want := range map[string]redisstore.LeaseLayout{"": redisstore.LeasesApart, "apart": redisstore.LeasesApart, "moving": redisstore.LeasesMoving, "beside": redisstore.LeasesBeside} {
		s := opened(t, backend{"redis", "redis://" + addr + "/0?leases=" + v})
		if got := s.TokenStore.(*redisstore.Store).Leases; got != want {
			t.Errorf("leases=%s: the Store's Leases is %v, want %v", v, got, want)
		}
	}
}
