package chaos_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
)

const (
	goroutines = 25 // per child
	// pace is the pause between one goroutine's requests: it paces the
	// load, it synchronizes nothing.
	pace = 40 * time.Millisecond
	// requestTimeout bounds one request: far longer than a lease's TTL,
	// which is the longest a request waits on a healthy fleet.
	requestTimeout = 10 * time.Second
	resultMark     = "RESULT "
	readyMark      = "READY"
)

// childResult is what a child prints on its last line.
type childResult struct {
	OK int
	// Failures counts failed requests by key and kind ("reauth",
	// "backoff", "transient", "error", "status 401").
	Failures map[string]map[string]int
	Samples  []string
	// LastOK is when the child's last request succeeded.
	LastOK     time.Time
	LeasesLost int
}

func (r childResult) failed() int {
	n := 0
	for _, kinds := range r.Failures {
		for _, c := range kinds {
			n += c
		}
	}
	return n
}

// TestChaosChild is the body of a child process of TestChaos; run alone
// it skips.
func TestChaosChild(t *testing.T) {
	if os.Getenv("CHAOS_CHILD") == "" {
		t.Skip("a child process of TestChaos; not a test on its own")
	}
	env := func(name string) time.Duration {
		d, err := time.ParseDuration(os.Getenv(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	b := backendNamed(os.Getenv("CHAOS_BACKEND"))
	keys := strings.Split(os.Getenv("CHAOS_KEYS"), ",")
	store, closeStore, err := b.open(os.Getenv("CHAOS_PLACE"), env("CHAOS_TTL"), os.Getenv("CHAOS_VIA"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	h := &hook{step: os.Getenv("CHAOS_HOOK"), holding: map[string]int{}}
	if store, err = wrap(store, h, os.Getenv("CHAOS_MUTATE"), os.Getenv("CHAOS_BACKEND")); err != nil {
		t.Fatal(err)
	}

	// The parent ends the run by closing stdin; the deadline ends it should
	// the parent be gone.
	ctx, stop := context.WithTimeout(context.Background(), env("CHAOS_MAX_RUN"))
	defer stop()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	fmt.Println(readyMark)
	for _, key := range keys {
		awaitToken(ctx, t, store, key)
	}

	var leasesLost atomic.Int32
	var clients []*http.Client
	var transports []*oauthrt.Transport
	for _, key := range keys {
		tr := &oauthrt.Transport{
			Store: store, Key: key, Leeway: env("CHAOS_LEEWAY"),
			Refresher: hookedRefresher{r: &generic.Refresher{
				TokenURL: os.Getenv("CHAOS_TOKEN_URL"), ClientID: clientID, ClientSecret: clientSecret,
			}, h: h, key: key},
			OnError: func(_ string, err error) {
				if errors.Is(err, oauthrt.ErrLeaseLost) {
					leasesLost.Add(1)
				}
			},
		}
		transports = append(transports, tr)
		clients = append(clients, &http.Client{Transport: tr})
	}
	api := os.Getenv("CHAOS_API_URL")

	var mu sync.Mutex
	res := childResult{Failures: map[string]map[string]int{}}
	fail := func(key, kind string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if res.Failures[key] == nil {
			res.Failures[key] = map[string]int{}
		}
		res.Failures[key][kind]++
		if len(res.Samples) < 5 {
			res.Samples = append(res.Samples, fmt.Sprintf("%s: %s: %v", key, kind, err))
		}
	}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := rand.IntN(len(keys))
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				req, _ := http.NewRequestWithContext(rctx, http.MethodGet, api, nil)
				resp, err := clients[i].Do(req)
				switch {
				case ctx.Err() != nil:
					// The run ended under the request: not a failure.
				case err != nil:
					fail(keys[i], kindOf(err), err)
				case resp.StatusCode != http.StatusOK:
					fail(keys[i], fmt.Sprintf("status %d", resp.StatusCode), errors.New(resp.Status))
				default:
					mu.Lock()
					res.OK++
					res.LastOK = time.Now()
					mu.Unlock()
				}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				cancel()
				select {
				case <-ctx.Done():
				case <-time.After(pace):
				}
			}
		})
	}
	wg.Wait()
	// A refresh under way when the run ends must still commit its token,
	// or the grant goes with the process.
	var closing sync.WaitGroup
	for _, tr := range transports {
		closing.Go(func() { tr.Close() })
	}
	closing.Wait()
	res.LeasesLost = int(leasesLost.Load())
	out, _ := json.Marshal(res)
	fmt.Println(resultMark + string(out))
}

// kindOf names the kind of a failed request's error.
func kindOf(err error) string {
	var be *oauthrt.BackoffError
	var te *oauthrt.TransientError
	switch {
	case errors.Is(err, oauthrt.ErrReauthRequired):
		return "reauth"
	case errors.As(err, &be):
		return "backoff"
	case errors.As(err, &te):
		return "transient"
	}
	return "error"
}

// awaitToken waits until the store holds a token for key: the parent
// seeds the grants once every child is ready, so that all of them start
// together.
func awaitToken(ctx context.Context, t *testing.T, store oauthrt.TokenStore, key string) {
	t.Helper()
	for {
		if _, err := store.Load(ctx, key); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no token was seeded for %s", key)
		case <-time.After(5 * time.Millisecond): // polling the store, which has no signal
		}
	}
}

// child is a running child process, seen from the parent.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // its stdout, line by line
	stderr strings.Builder
	done   chan struct{} // closed once it exited
	err    error         // its exit; read it only once done is closed
}

// startChild starts a child process with extra environment, as
// NAME=value.
func startChild(t *testing.T, extra ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChaosChild$", "-test.v=false", "-test.count=1")
	cmd.Env = append(append(os.Environ(), "CHAOS_CHILD=1"), extra...)
	// A child left stopped or running by a parent that died goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill() // SIGKILL ends a stopped process too
		<-c.done
	})
	return c
}

// exit waits a little for the child to exit, and returns how it did.
func (c *child) exit() error {
	select {
	case <-c.done:
		return c.err
	case <-time.After(5 * time.Second):
		return errors.New("still running")
	}
}

// stderrText returns what the child wrote to stderr, once it exited.
func (c *child) stderrText() string {
	select {
	case <-c.done:
		return c.stderr.String()
	default:
		return "(its stderr is unknown while it runs)"
	}
}

// waitLine waits until deadline for the child to print a line starting
// with prefix, and returns it; ok is false if it did not.
func (c *child) waitLine(prefix string, deadline time.Time) (line string, ok bool) {
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		select {
		case l, open := <-c.lines:
			if !open {
				return "", false
			}
			if strings.HasPrefix(l, prefix) {
				return l, true
			}
		case <-timeout.C:
			return "", false
		}
	}
}

// result ends the child's run and returns its result; ok is false when
// it printed none by deadline (it was killed, or failed).
func (c *child) result(deadline time.Time) (res childResult, ok bool) {
	c.stdin.Close()
	line, found := c.waitLine(resultMark, deadline)
	if !found {
		return res, false
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, resultMark)), &res); err != nil {
		return res, false
	}
	return res, true
}

// stopped reports whether the process is stopped by a signal, from the
// state field of /proc/<pid>/stat.
func stopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, so look past its ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'T'
	}
	return false
}
