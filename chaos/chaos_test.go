package chaos_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

const (
	processes = 4
	// lifetime is the access tokens' lifetime; leeway the Transports'.
	lifetime = 2 * time.Second
	leeway   = 500 * time.Millisecond
	// victimLeeway is the faulty child's Leeway: larger than the others',
	// it opens that child's refresh-ahead window about 100ms before
	// theirs, so that it is the one holding the lease when its hook fires.
	victimLeeway = 700 * time.Millisecond
	// ttl is the stores' lease TTL; margin what recovery may take past it
	// (the waiters poll the lease at most every 200ms).
	ttl    = 2 * time.Second
	margin = time.Second
	// grace is the grace provider's rotation grace window: longer than any
	// pause in a run.
	grace = 10 * time.Second
	// outage and retryAfter shape scenario e: the token endpoint answers
	// 503 with Retry-After: 2 for 3 seconds from the first refresh.
	outage     = 3 * time.Second
	retryAfter = 2 * time.Second
	// stagger sets the grants' first expiries apart, so that the faulty
	// child's first refresh is of keys[0] and is not under way together
	// with its refreshes of the other keys: a process stopped in the
	// middle of a write to an SQLite database holds its lock, and stops
	// every other process's writes with it.
	stagger = 600 * time.Millisecond
	// budget bounds the whole of TestChaos; past it the test fails and
	// its children are killed.
	budget = 6 * time.Minute
)

// keys are the store keys, one grant each, of every run.
var keys = []string{"org-a", "org-b", "org-c"}

// A scenario is one fault, run against one backend with one provider.
type scenario struct {
	name  string
	grace bool   // the provider keeps a grace window
	hook  string // the faulty child's hook; "" for none
	cut   bool   // c: the faulty child's store connections go through toxics
	lose  bool   // d: the answer to the first refresh of keys[0] is lost
	down  bool   // e: the token endpoint is unavailable for a while
}

// cannotBeSaved reports whether the scenario's fault is one that no client
// can survive, as the README's "What cannot be saved" lists: without a
// grace window, a process stopped or killed after the provider rotated
// and before the commit, and an answer lost on the way.
func (sc scenario) cannotBeSaved() bool {
	return !sc.grace && (sc.hook == stopCommit || sc.hook == killCommit || sc.lose)
}

// mayLose returns how many provider answers the fault can keep from the
// store, each of which the fleet may recover by presenting the rotated
// refresh token again inside the grace window; -1 when it cannot be told
// (a store cut may fall between the answer and the commit of any refresh
// under way).
func (sc scenario) mayLose() int {
	switch {
	case sc.cut:
		return -1
	case sc.hook == stopCommit || sc.hook == killCommit || sc.lose:
		return 1
	}
	return 0
}

func (sc scenario) provider() string {
	if sc.grace {
		return "grace"
	}
	return "no-grace"
}

// scenarios are the runs made on every backend. The kills run with the
// provider without grace, which forgives nothing; the kill after the
// answer, the one step where the two providers differ, runs with both.
var scenarios = []scenario{
	{name: "a1 stop before provider", hook: stopLoad, grace: true},
	{name: "a1 stop before provider", hook: stopLoad},
	{name: "a2 stop before commit", hook: stopCommit, grace: true},
	{name: "a2 stop before commit", hook: stopCommit},
	{name: "b kill after lease", hook: killLease},
	{name: "b kill before provider", hook: killProvider},
	{name: "b kill before commit", hook: killCommit, grace: true},
	{name: "b kill before commit", hook: killCommit},
	{name: "b kill before release", hook: killRelease},
	// A cut that falls between the provider's answer and the commit is a2
	// by another name, which only a grace window survives.
	{name: "c store cut", cut: true, grace: true},
	{name: "d lost answer", lose: true, grace: true},
	{name: "d lost answer", lose: true},
	{name: "e endpoint 503", down: true},
}

// TestChaos runs every scenario against every backend: four processes of
// 25 goroutines each send requests through oauthrt.Transport with one
// shared store, while one of them is stopped, killed, or cut from its
// store, or the token endpoint loses an answer or fails for a while.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos runs take minutes; skipped with -short")
	}
	start := time.Now()
	deadline := start.Add(budget)
	if d, ok := t.Deadline(); ok && d.Before(deadline) {
		deadline = d.Add(-10 * time.Second)
	}
	report(t, fmt.Sprintf("%-14s %-24s %-8s %8s %6s %9s %8s %7s %6s %8s %10s %9s %s",
		"backend", "scenario", "provider", "requests", "failed", "refreshes", "expiries", "invalid",
		"lost", "dead", "in-backoff", "recovery", "notes"))
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			if b.env != "" && b.server() == "" {
				report(t, fmt.Sprintf("%-14s skipped: %s is not set", b.name, b.env))
				t.Skipf("%s is not set", b.env)
			}
			for _, sc := range scenarios {
				if time.Now().After(deadline) {
					t.Fatalf("TestChaos ran past its budget of %v", budget)
				}
				if sc.cut && b.noProxy != "" {
					report(t, fmt.Sprintf("%-14s %-24s %-8s n/a: %s", b.name, sc.name, sc.provider(), b.noProxy))
					continue
				}
				t.Run(strings.ReplaceAll(sc.name, " ", "_")+"/"+sc.provider(), func(t *testing.T) {
					run(t, b, sc, deadline)
				})
			}
		})
	}
	t.Logf("TestChaos took %v", time.Since(start).Round(time.Second))
}

// run runs one scenario on one backend, and checks it.
func run(t *testing.T, b backend, sc scenario, deadline time.Time) {
	g := 0 * time.Second
	if sc.grace {
		g = grace
	}
	p := newProvider(t, lifetime, g)
	if sc.lose {
		p.loseKey = keys[0]
	}
	if sc.down {
		p.outage, p.retryAfter = outage, retryAfter
	}
	place := b.place(t)
	// Opened, and migrated, before any child opens it.
	store, closeStore, err := b.open(place, ttl, "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	via := ""
	var cut func(time.Time) (time.Time, string)
	if sc.cut {
		upstream, err := b.addr()
		if err != nil {
			t.Fatal(err)
		}
		px := startProxy(t, upstream)
		via = px.Listen
		cut = func(start time.Time) (time.Time, string) {
			healed, what := runCut(t, px, start)
			back, err := answering(b, place, via, healed)
			if err != nil {
				t.Fatalf("the store did not answer through the healed proxy: %v", err)
			}
			return back, fmt.Sprintf("%s,answering@+%dms", what, back.Sub(healed).Milliseconds())
		}
	}

	var children []*child
	for i := range processes {
		env := []string{
			"CHAOS_BACKEND=" + b.name, "CHAOS_PLACE=" + place, "CHAOS_TTL=" + ttl.String(),
			"CHAOS_KEYS=" + strings.Join(keys, ","), "CHAOS_LEEWAY=" + leeway.String(),
			"CHAOS_TOKEN_URL=" + p.token.URL, "CHAOS_API_URL=" + p.api.URL,
			"CHAOS_MAX_RUN=" + time.Until(deadline).String(),
		}
		if i == 0 { // the faulty child
			env = append(env, "CHAOS_HOOK="+sc.hook, "CHAOS_LEEWAY="+victimLeeway.String(), "CHAOS_VIA="+via)
		}
		children = append(children, startChild(t, env...))
	}
	for i, c := range children {
		if _, ok := c.waitLine(readyMark, time.Now().Add(30*time.Second)); !ok {
			t.Fatalf("child %d did not start: %v\n%s", i, c.exit(), c.stderrText())
		}
	}
	for i, key := range keys {
		at, rt, exp := p.seed(key, time.Duration(i)*stagger)
		if err := store.Save(context.Background(), key, &oauth2.Token{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", Expiry: exp}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	watch := watchStore(store, p)
	t.Cleanup(func() { watch.stop() }) // on a failure that ends the run early

	// The fault, and the fleet's answer to it.
	var f fault
	switch {
	case sc.hook != "":
		f = hookFault(t, b, p, store, sc, children[0], watch)
	case sc.cut:
		back, what := cut(start)
		f.notes = " " + what
		time.Sleep(1500 * time.Millisecond) // the run goes on after the store answers again
		f.healed = back
	case sc.lose:
		f.key = keys[0]
		if !p.await(start.Add(8*time.Second), func() bool {
			g := p.grants[f.key]
			return g.lostDone && (len(g.answers) > 1 || !g.revoked.IsZero())
		}) {
			t.Errorf("the grant whose answer was lost was neither refreshed again nor revoked in 8s")
		}
		time.Sleep(time.Second) // the run goes on
	case sc.down:
		if !p.await(start.Add(12*time.Second), func() bool {
			if p.outageFrom.IsZero() {
				return false
			}
			end := p.outageFrom.Add(p.outage)
			for _, g := range p.grants {
				if _, ok := after(g.answers, end); !ok {
					return false
				}
			}
			return true
		}) {
			t.Errorf("the grants were not all refreshed within 12s of the outage's start")
		}
		time.Sleep(500 * time.Millisecond) // the run goes on
	}

	results := make([]*childResult, len(children))
	for i, c := range children {
		if r, ok := c.result(time.Now().Add(30 * time.Second)); ok {
			results[i] = &r
		} else if !(i == 0 && strings.HasPrefix(sc.hook, "kill")) {
			t.Errorf("child %d ended without a result (%v):\n%s", i, c.exit(), c.stderrText())
		}
	}
	regressions := watch.stop()
	check(t, b, sc, p, f, results, regressions, time.Since(start))
	if t.Failed() {
		t.Log(p.timeline(start))
	}
}

// A fault is what the parent saw of a scenario's fault.
type fault struct {
	key    string    // the grant it fell on; "" for none
	at     time.Time // when the faulty child stopped or died
	healed time.Time // when the store answered again after its cut; zero for no cut
	// stalled is set when the fleet waited for the stopped process to be
	// continued, on a backend whose stalls says how.
	stalled bool
	notes   string
}

// hookFault waits for the faulty child's hook to stop or kill it, then
// for another process to take over the grant it held (or for the grant to
// be refused), continues a stopped child, and lets the fleet go on.
func hookFault(t *testing.T, b backend, p *provider, store oauthrt.TokenStore, sc scenario, c *child, watch watcher) fault {
	t.Helper()
	line, ok := c.waitLine(hookMark, time.Now().Add(8*time.Second))
	if !ok {
		c.cmd.Process.Kill()
		t.Fatalf("the faulty child's hook (%s) did not fire in 8s (%v):\n%s", sc.hook, c.exit(), c.stderrText())
	}
	var f fault
	if fields := strings.Fields(line); len(fields) == 3 {
		f.key = fields[2]
	}
	f.at = time.Now()
	stop := sc.hook == stopLoad || sc.hook == stopCommit
	until := time.Now().Add(2 * time.Second)
	for stop && !stopped(c.cmd.Process.Pid) || !stop && !exited(c) {
		if time.Now().After(until) {
			t.Fatalf("the faulty child did not stop or die within 2s of its hook")
		}
		time.Sleep(5 * time.Millisecond) // polling /proc, which has no signal
	}
	// Another process takes over once the lease lapses: with a new token
	// pair, or a refusal when the grant cannot be saved.
	takenOver := func(deadline time.Time) bool {
		return p.await(deadline, func() bool {
			g := p.grants[f.key]
			_, renewed := after(g.newPairs, f.at)
			_, refused := after(g.refusedAt, f.at)
			return renewed || refused
		})
	}
	wait := ttl + margin + 2*time.Second
	if !takenOver(f.at.Add(wait)) {
		if !stop || b.stalls == "" {
			t.Errorf("no process took over %s within %v of the fault", f.key, wait)
		} else {
			// The fleet waits for the stopped process; it must go on
			// once that one does.
			f.stalled = true
			watch.burstFor(time.Second)
			c.cmd.Process.Signal(syscall.SIGCONT)
			if !takenOver(time.Now().Add(4 * time.Second)) {
				t.Errorf("no process took over %s within 4s of continuing the stopped one", f.key)
			}
		}
	}
	if stop {
		// The provider answered the process that took over; its commit
		// may not have landed yet, and the continued process must come
		// after it, or there would be nothing newer to write over.
		p.mu.Lock()
		gen := p.grants[f.key].gen
		_, renewed := after(p.grants[f.key].newPairs, f.at)
		p.mu.Unlock()
		until := time.Now().Add(2 * time.Second)
		for renewed && time.Now().Before(until) {
			if tok, err := store.Load(context.Background(), f.key); err == nil {
				if _, g := p.generation(tok.AccessToken); g >= gen {
					break
				}
			}
			time.Sleep(2 * time.Millisecond) // polling the store, which has no signal
		}
		// The continued process writes first thing, if it writes at all.
		watch.burstFor(time.Second)
		c.cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(700 * time.Millisecond) // the run goes on, the continued child with it
	} else {
		time.Sleep(500 * time.Millisecond) // the run goes on
	}
	return f
}

func exited(c *child) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// A watcher reads every key's token from a store over and over, and
// keeps the times a read found an older token of a grant than an earlier
// read had: a write over a newer token, which a Committer never lets
// through.
type watcher struct {
	stop  func() []string
	burst chan time.Duration
}

// watchStore starts a watcher of store, reading every 50ms, or every 2ms
// for a while after each burst: a write over a newer token may last only
// until the next refresh, a few milliseconds later.
func watchStore(store oauthrt.TokenStore, p *provider) watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := watcher{burst: make(chan time.Duration, 1)}
	var regressions []string
	var wg sync.WaitGroup
	wg.Go(func() {
		newest := map[string]int{}
		var until time.Time
		for ctx.Err() == nil {
			for _, key := range keys {
				tok, err := store.Load(ctx, key)
				if err != nil {
					continue // a read that failed shows nothing
				}
				_, gen := p.generation(tok.AccessToken)
				if gen < newest[key] {
					regressions = append(regressions, fmt.Sprintf("%s: generation %d after %d", key, gen, newest[key]))
				}
				newest[key] = max(newest[key], gen)
			}
			every := 50 * time.Millisecond
			if time.Now().Before(until) {
				every = 2 * time.Millisecond
			}
			select { // sampling, not synchronizing
			case <-ctx.Done():
			case d := <-w.burst:
				until = time.Now().Add(d)
			case <-time.After(every):
			}
		}
	})
	w.stop = func() []string {
		cancel()
		wg.Wait() // later calls find it done at once
		return regressions
	}
	return w
}

// burstFor makes w read every 2ms for d.
func (w watcher) burstFor(d time.Duration) {
	select {
	case w.burst <- d:
	default:
	}
}

// check reports a run's figures, and asserts what every run must show.
func check(t *testing.T, b backend, sc scenario, p *provider, f fault, results []*childResult, regressions []string, dur time.Duration) {
	t.Helper()
	c := p.tally()
	requests, failed := 0, 0
	reauth := map[string]bool{} // keys some process was told to reauthorize
	var unexplained []string
	for i, r := range results {
		if r == nil {
			continue
		}
		requests += r.OK + r.failed()
		failed += r.failed()
		for key, kinds := range r.Failures {
			for kind, n := range kinds {
				switch {
				case slices.Contains(c.revoked, key):
					// A revoked grant fails its requests: with the
					// error that says so, or with the API's 401 for a
					// token of that grant still in use.
					reauth[key] = reauth[key] || kind == "reauth"
				case sc.down && (kind == "backoff" || kind == "transient"):
				case sc.cut && i == 0:
				default:
					unexplained = append(unexplained, fmt.Sprintf("process %d, %s: %d × %s", i, key, n, kind))
				}
			}
		}
		for _, s := range r.Samples {
			t.Logf("process %d failure sample: %s", i, s)
		}
	}
	keepable := len(keys)
	if sc.cannotBeSaved() {
		keepable--
	}
	recovery, recovered := time.Duration(0), false
	if !f.at.IsZero() && !slices.Contains(c.revoked, f.key) {
		p.mu.Lock()
		if at, ok := after(p.grants[f.key].answers, f.at); ok {
			recovery, recovered = at.Sub(f.at), true
		}
		p.mu.Unlock()
	}
	rec := "-"
	if recovered {
		rec = fmt.Sprintf("%.2fs", recovery.Seconds())
	}
	notes := f.notes
	if c.replays > 0 {
		notes += fmt.Sprintf(" replays=%d", c.replays)
	}
	if c.lost > 0 {
		notes += fmt.Sprintf(" answers_lost=%d", c.lost)
	}
	if c.unavailable > 0 {
		notes += fmt.Sprintf(" unavailable=%d", c.unavailable)
	}
	if len(regressions) > 0 {
		notes += fmt.Sprintf(" store_regressions=%d", len(regressions))
	}
	if c.api401 > 0 {
		notes += fmt.Sprintf(" api_401=%d", c.api401)
	}
	if f.key != "" {
		notes += " fault_on=" + f.key
	}
	if f.stalled {
		notes += " stalled_until_continued"
	}
	report(t, fmt.Sprintf("%-14s %-24s %-8s %8d %6d %9d %8.1f %7d %6s %8s %10d %9s%s",
		b.name, sc.name, sc.provider(), requests, failed, c.refreshes, dur.Seconds()/lifetime.Seconds(), c.invalid,
		fmt.Sprintf("%d/%d", len(c.revoked), keepable), fmt.Sprintf("%d/%d", c.deadPresentations, c.deadTokens),
		c.backoffHits, rec, notes))

	if sc.cannotBeSaved() {
		for _, key := range c.revoked {
			if key != f.key {
				t.Errorf("grant %s was lost, though the fault fell on %s", key, f.key)
			}
		}
	} else if len(c.revoked) > 0 {
		t.Errorf("grants lost: %v; a correct client keeps every grant here", c.revoked)
	}
	for _, key := range c.revoked {
		if !reauth[key] {
			t.Errorf("grant %s was lost, but no process reported it dead (an error wrapping oauthrt.ErrReauthRequired)", key)
		}
	}
	if c.maxDeadPresentations > 1 {
		t.Errorf("a dead refresh token was presented %d times; at most once per fleet", c.maxDeadPresentations)
	}
	if c.backoffHits > 0 {
		t.Errorf("%d token requests came while a Retry-After given for their grant had not passed", c.backoffHits)
	}
	if f.stalled {
		t.Logf("the fleet waited for the stopped process: %s", b.stalls)
	} else if recovered && recovery > ttl+margin {
		t.Errorf("%s was refreshed again %v after the fault; at most the lease TTL %v + %v", f.key, recovery, ttl, margin)
	}
	if most := sc.mayLose(); most >= 0 && c.replays > most {
		t.Errorf("%d refresh tokens were presented again inside the grace window; the fault can lose at most %d answer(s), and a correct fleet presents a rotated token again only to recover one", c.replays, most)
	}
	if len(regressions) > 0 {
		t.Errorf("the store went back to an older token (a write over a newer one): %v", regressions)
	}
	if len(unexplained) > 0 {
		t.Errorf("requests failed that the fault does not explain: %v", unexplained)
	}
	if sc.cut {
		if r := results[0]; r != nil && r.LastOK.Before(f.healed) {
			t.Errorf("the cut process had no request succeed after its store came back")
		}
	}
	if sc.lose && c.lost == 0 {
		t.Errorf("no answer was lost: the fault never happened")
	}
	if sc.down && c.unavailable == 0 {
		t.Errorf("the endpoint was never unavailable: the fault never happened")
	}
	if requests == 0 {
		t.Errorf("no request was made")
	}
}

// report logs a line of figures, and appends it to the file that
// OAUTHRT_CHAOS_REPORT names, if any.
func report(t *testing.T, line string) {
	t.Helper()
	t.Log(line)
	if f := os.Getenv("OAUTHRT_CHAOS_REPORT"); f != "" {
		if fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(fh, line)
			fh.Close()
		}
	}
}
