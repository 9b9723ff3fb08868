package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
)

// fleetCase is a store seeded with a grant in each state status tells
// apart, sealed with ring, its lease of "g/leased" held by the test.
type fleetCase struct {
	b       backend
	ring    ring
	secrets *secrets
	env     []string
	// want is the HEALTH column of each key under "g/".
	want map[string]string
	// holder is the test's lease holder, as the store names it.
	lease oauthrt.Lease
}

// seedFleet seeds b: under "g/", a healthy grant, a degraded one, a dead
// one, one whose lease the test holds, one that never expires, one idle
// for 80 days, one sealed with another keyring and one damaged; and a
// healthy grant under "other/". The lease is released when the test ends.
func seedFleet(t *testing.T, b backend) *fleetCase {
	t.Helper()
	ctx := context.Background()
	fc := &fleetCase{b: b, ring: newRing(t, "key-a"), secrets: &secrets{}}
	fc.env = withStore(b, fc.ring.env()...)
	s := openedWith(t, b, fc.ring.aead)
	setLeaseTTL(s, 2*time.Minute)
	now := time.Now()
	sec := fc.secrets
	hour := time.Hour

	save(t, s, "g/healthy", sec.token(t, "g/healthy", now.Add(hour), hour))
	save(t, s, "other/healthy", sec.token(t, "other/healthy", now.Add(hour), hour))
	save(t, s, "g/degraded", sec.token(t, "g/degraded", now.Add(-time.Minute), hour))
	saveState(t, s, "g/degraded", oauthrt.GrantState{Failures: 3, FailingSince: now.Add(-2 * hour), NextAttempt: now.Add(10 * time.Minute)})
	dead := sec.token(t, "g/dead", now.Add(-5*hour), hour)
	save(t, s, "g/dead", dead)
	saveState(t, s, "g/dead", oauthrt.GrantState{DeadToken: oauthrt.Fingerprint(dead), DeadCode: "invalid_grant", DeadAt: now.Add(-3 * hour)})
	save(t, s, "g/leased", sec.token(t, "g/leased", now.Add(hour), hour))
	save(t, s, "g/never", sec.token(t, "g/never", time.Time{}, 0))
	save(t, s, "g/idle", sec.token(t, "g/idle", now.Add(-80*24*hour+hour), hour))

	other := newRing(t, "key-b")
	save(t, openedWith(t, b, other.aead), "g/wrongkey", sec.token(t, "g/wrongkey", now.Add(hour), hour))
	save(t, openedWith(t, b, garbling{fc.ring.aead}), "g/damaged", sec.token(t, "g/damaged", now.Add(hour), hour))

	ll, ok := s.TokenStore.(oauthrt.LeaseLocker)
	if !ok {
		t.Fatalf("%T is no LeaseLocker", s.TokenStore)
	}
	l, err := ll.TakeLease(ctx, "g/leased")
	if err != nil {
		t.Fatalf("taking the lease of g/leased: %v", err)
	}
	t.Cleanup(l.Release)
	fc.lease = l
	fc.want = map[string]string{
		"g/healthy":  "healthy",
		"g/degraded": "degraded (3 failures)",
		"g/dead":     "dead (invalid_grant)",
		"g/leased":   "healthy",
		"g/never":    "healthy",
		"g/idle":     "healthy",
		"g/wrongkey": "unreadable (wrong key)",
		"g/damaged":  "unreadable (damaged)",
	}
	return fc
}

// setLeaseTTL sets the lease TTL of s's store.
func setLeaseTTL(s *store, ttl time.Duration) {
	switch st := s.TokenStore.(type) {
	case *filestore.Store:
		st.LeaseTTL = ttl
	case *sqlstore.Store:
		st.LeaseTTL = ttl
	case *redisstore.Store:
		st.LeaseTTL = ttl
	}
}

// tableRows reads status's table: the columns of each row by key, split
// on runs of two spaces or more, and the header's columns.
func tableRows(t testing.TB, out string) (header []string, rows map[string][]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	split := regexp.MustCompile(`\s{2,}`)
	header = split.Split(strings.TrimSpace(lines[0]), -1)
	rows = map[string][]string{}
	for _, l := range lines[1:] {
		cols := split.Split(strings.TrimSpace(l), -1)
		if _, dup := rows[cols[0]]; dup {
			t.Errorf("key %s has two rows:\n%s", cols[0], out)
		}
		rows[cols[0]] = cols
	}
	return header, rows
}

// statusPage parses status's --json output.
func statusPage(t testing.TB, out string) statusJSON {
	t.Helper()
	var page statusJSON
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("status --json output does not parse: %v\n%s", err, out)
	}
	return page
}

func TestStatus(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			fc := seedFleet(t, b)
			sec := fc.secrets

			t.Run("table", func(t *testing.T) {
				out := sec.statusRun(t, fc.env, "status", "--prefix", "g/", "--provider", "atlassian")
				header, rows := tableRows(t, out)
				if want := []string{"KEY", "HEALTH", "SINCE", "EXPIRES", "REFRESHED", "LEASE", "KEY ID"}; !slices.Equal(header, want) {
					t.Errorf("header %q, want %q", header, want)
				}
				if len(rows) != len(fc.want) {
					t.Errorf("%d rows, want %d:\n%s", len(rows), len(fc.want), out)
				}
				for key, health := range fc.want {
					row := rows[key]
					if len(row) != len(header) {
						t.Errorf("key %s: row %q, want %d columns", key, row, len(header))
						continue
					}
					if row[1] != health {
						t.Errorf("key %s: HEALTH %q, want %q", key, row[1], health)
					}
				}
				pid := fmt.Sprintf("/%d/", os.Getpid())
				checks := []struct{ key, col, has string }{
					{"g/degraded", "SINCE", "(2h ago)"},
					{"g/dead", "SINCE", "(3h ago)"},
					{"g/healthy", "SINCE", "-"},
					{"g/healthy", "EXPIRES", "(in 5"},
					{"g/dead", "EXPIRES", "(expired 5h ago)"},
					{"g/never", "EXPIRES", "never"},
					{"g/never", "REFRESHED", "unknown"},
					{"g/healthy", "REFRESHED", "of 90d idle"},
					{"g/idle", "REFRESHED", "80d of 90d idle !"},
					{"g/leased", "LEASE", pid},
					{"g/leased", "LEASE", "(in 1m)"},
					{"g/healthy", "LEASE", "-"},
					{"g/healthy", "KEY ID", "key-a"},
					{"g/wrongkey", "KEY ID", "?"},
				}
				for _, c := range checks {
					row := rows[c.key]
					i := slices.Index(header, c.col)
					if i < 0 || i >= len(row) || !strings.Contains(row[i], c.has) {
						t.Errorf("key %s: %s column of %q does not hold %q", c.key, c.col, row, c.has)
					}
				}
				if strings.Contains(out, "other/") {
					t.Errorf("--prefix g/ lists other/:\n%s", out)
				}
			})

			t.Run("json", func(t *testing.T) {
				page := statusPage(t, sec.statusRun(t, fc.env, "status", "--all", "--json", "--provider", "atlassian"))
				got := map[string]recordJSON{}
				for _, r := range page.Records {
					got[r.Key] = r
				}
				if len(got) != len(fc.want)+1 || page.Next != "" {
					t.Fatalf("status --all --json: %d records, next %q; want %d and \"\"", len(got), page.Next, len(fc.want)+1)
				}
				for key, health := range fc.want {
					if h, _, _ := strings.Cut(health, " "); got[key].Health != h {
						t.Errorf("key %s: health %q, want %q", key, got[key].Health, h)
					}
				}
				dead, degraded, leased := got["g/dead"], got["g/degraded"], got["g/leased"]
				if dead.Code != "invalid_grant" || dead.Since == "" {
					t.Errorf("dead record %+v: want code invalid_grant and a since", dead)
				}
				if degraded.Attempts != 3 || degraded.NextAttempt == "" || degraded.Since == "" {
					t.Errorf("degraded record %+v: want 3 attempts, a next attempt and a since", degraded)
				}
				if f, ok := fc.lease.(oauthrt.FencedLease); leased.Lease.Holder == "" || leased.Lease.Until == "" || ok && leased.Lease.Epoch != f.Epoch() {
					t.Errorf("leased record's lease %+v: want a holder, an until and the lease's epoch", leased.Lease)
				}
				if h := got["g/healthy"]; h.Lease != (leaseJSON{}) && h.Lease.Holder != "" {
					t.Errorf("healthy record's lease %+v, want none held", h.Lease)
				}
				if n := got["g/never"]; n.Expires != "" || n.Refreshed != "" {
					t.Errorf("record of a token without expiry: expires %q, refreshed %q; want neither", n.Expires, n.Refreshed)
				}
				for key, r := range got {
					if !r.Sealed {
						t.Errorf("key %s: sealed false", key)
					}
					if r.IdleLifetime == nil || *r.IdleLifetime != 90*24*3600 {
						t.Errorf("key %s: idle_lifetime %v, want Atlassian's 90 days", key, r.IdleLifetime)
					}
					for _, ts := range []string{r.Since, r.NextAttempt, r.Expires, r.Refreshed, r.Lease.Until} {
						if ts == "" {
							continue
						}
						if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || at.Location() != time.UTC {
							t.Errorf("key %s: time %q is not RFC 3339 in UTC", key, ts)
						}
					}
				}
				if r := got["g/healthy"]; r.KeyID != "key-a" || r.Expires == "" || r.Refreshed == "" {
					t.Errorf("healthy record %+v: want key_id key-a, an expiry and a refresh time", r)
				}
				for key, reason := range map[string]string{"g/wrongkey": "wrong key", "g/damaged": "damaged"} {
					if r := got[key]; r.Reason != reason || r.Error == "" {
						t.Errorf("key %s: reason %q, error %q; want %q and an error", key, r.Reason, r.Error, reason)
					}
				}
			})

			t.Run("state", func(t *testing.T) {
				for _, c := range []struct {
					states []string
					want   []string
				}{
					{[]string{"dead"}, []string{"g/dead"}},
					{[]string{"unreadable"}, []string{"g/damaged", "g/wrongkey"}},
					{[]string{"degraded", "dead"}, []string{"g/dead", "g/degraded"}},
					{[]string{"healthy"}, []string{"g/healthy", "g/idle", "g/leased", "g/never"}},
				} {
					args := []string{"status", "--prefix", "g/", "--json"}
					for _, s := range c.states {
						args = append(args, "--state", s)
					}
					var keys []string
					for _, r := range statusPage(t, sec.statusRun(t, fc.env, args...)).Records {
						keys = append(keys, r.Key)
					}
					if !slices.Equal(keys, c.want) {
						t.Errorf("status --state %s: keys %q, want %q", strings.Join(c.states, ","), keys, c.want)
					}
				}
			})

			t.Run("sort", func(t *testing.T) {
				keys := func(by string) []string {
					var ks []string
					for _, r := range statusPage(t, sec.statusRun(t, fc.env, "status", "--prefix", "g/", "--json", "--sort", by)).Records {
						ks = append(ks, r.Key)
					}
					return ks
				}
				for by, want := range map[string][]string{
					"key":       {"g/damaged", "g/dead", "g/degraded", "g/healthy", "g/idle", "g/leased", "g/never", "g/wrongkey"},
					"health":    {"g/damaged", "g/wrongkey", "g/dead", "g/degraded", "g/healthy", "g/idle", "g/leased", "g/never"},
					"since":     {"g/dead", "g/degraded", "g/damaged", "g/healthy", "g/idle", "g/leased", "g/never", "g/wrongkey"},
					"expiry":    {"g/idle", "g/dead", "g/degraded"},
					"refreshed": {"g/idle", "g/dead", "g/degraded"},
				} {
					if got := keys(by); !slices.Equal(got[:len(want)], want) {
						t.Errorf("status --sort %s: keys %q, want them to start with %q", by, got, want)
					}
				}
			})

			t.Run("paging", func(t *testing.T) {
				for _, c := range []struct {
					limit string
					extra []string
					want  int
				}{
					{"2", nil, len(fc.want) + 1},
					{"1", []string{"--prefix", "g/"}, len(fc.want)},
					{"3", []string{"--state", "healthy"}, 5},
				} {
					seen := map[string]int{}
					cursor := ""
					for pages := 0; ; pages++ {
						if pages > 20 {
							t.Fatalf("--limit %s: no end after 20 pages", c.limit)
						}
						args := append([]string{"status", "--limit", c.limit}, c.extra...)
						if cursor != "" {
							args = append(args, "--cursor", cursor)
						}
						// Text, then JSON for the next cursor: both read the same page.
						r := sec.run(t, fc.env, args...)
						checkStatusExit(t, args, r)
						page := statusPage(t, sec.statusRun(t, fc.env, append(args, "--json")...))
						if n, _ := strconv.Atoi(c.limit); len(page.Records) > n {
							t.Errorf("--limit %s: a page of %d records", c.limit, len(page.Records))
						}
						for _, rec := range page.Records {
							seen[rec.Key]++
						}
						more := strings.Contains(r.stderr, "more: oauthrt status")
						if more != (page.Next != "") {
							t.Errorf("--limit %s: stderr %q, next %q: want a more: line exactly when there is a next page", c.limit, r.stderr, page.Next)
						}
						if page.Next == "" {
							break
						}
						if !strings.Contains(r.stderr, "--cursor "+page.Next) {
							t.Errorf("stderr %q does not give the next cursor", r.stderr)
						}
						cursor = page.Next
					}
					if len(seen) != c.want {
						t.Errorf("--limit %s %q: %d keys, want %d: %v", c.limit, c.extra, len(seen), c.want, seen)
					}
					for k, n := range seen {
						if n != 1 {
							t.Errorf("--limit %s %q: key %s shown %d times", c.limit, c.extra, k, n)
						}
					}
				}
			})

			t.Run("no key", func(t *testing.T) {
				page := statusPage(t, sec.statusRun(t, withStore(b), "status", "--all", "--json"))
				for _, r := range page.Records {
					if r.Health != healthUnreadable || r.Reason != "no key" && r.Key != "g/damaged" {
						t.Errorf("without a keyring, key %s: health %q, reason %q; want unreadable, no key", r.Key, r.Health, r.Reason)
					}
				}
			})

			t.Run("wrong keyring", func(t *testing.T) {
				wrong := newRing(t, "key-c")
				out := sec.statusRun(t, withStore(b, wrong.env()...), "status", "--prefix", "g/")
				_, rows := tableRows(t, out)
				for key := range fc.want {
					if rows[key][1] != "unreadable (wrong key)" && key != "g/damaged" {
						t.Errorf("with another keyring, key %s: HEALTH %q, want unreadable (wrong key)", key, rows[key][1])
					}
				}
			})
		})
	}
}

// TestStatusErrors runs status wrongly: each fails with a message and
// the exit code for it.
func TestStatusErrors(t *testing.T) {
	dir := t.TempDir()
	sqlite := "sqlite://" + dir + "/tokens.db"
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"unknown scheme", nil, []string{"status", "--store", "ftp://host/x"}, exitUsage, "unknown store scheme"},
		{"no scheme", nil, []string{"status", "--store", "tokens.json"}, exitUsage, "no scheme"},
		{"unreachable postgres", nil, []string{"status", "--store", "postgres://nobody:hunter2@127.0.0.1:1/db"}, exitFailed, "does not answer"},
		{"unreachable redis", nil, []string{"status", "--store", "redis://127.0.0.1:1/0"}, exitFailed, "does not answer"},
		{"bad state", nil, []string{"status", "--store", sqlite, "--state", "zombie"}, exitUsage, "--state"},
		{"bad sort", nil, []string{"status", "--store", sqlite, "--sort", "age"}, exitUsage, "--sort"},
		{"bad limit", nil, []string{"status", "--store", sqlite, "--limit", "0"}, exitUsage, "--limit"},
		{"bad cursor", nil, []string{"status", "--store", sqlite, "--cursor", "nope"}, exitUsage, "--cursor"},
		{"unknown provider", nil, []string{"status", "--store", sqlite, "--provider", "nosuch"}, exitUsage, "no such provider"},
		{"missing keys file", nil, []string{"status", "--store", sqlite, "--keys-file", dir + "/none.keys"}, exitUsage, "keyring"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := cli(t, c.env, c.args...)
			if r.code != c.code || !strings.HasPrefix(r.stderr, "oauthrt: ") || !strings.Contains(r.stderr, c.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and a message with %q", r.code, r.stderr, c.code, c.msg)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stderr shows the URL's password: %q", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

// statusRun runs status as secrets.run does, and checks its exit: 1 when
// it lists an unreadable record, with a message on stderr that counts
// them, and 0 otherwise; it returns stdout.
func (s *secrets) statusRun(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := s.run(t, env, args...)
	checkStatusExit(t, args, r)
	return r.stdout
}

// checkStatusExit checks the exit of a run of status, as statusRun
// describes.
func checkStatusExit(t testing.TB, args []string, r result) {
	t.Helper()
	listed := strings.Contains(r.stdout, "unreadable")
	switch {
	case listed && (r.code != exitFailed || !strings.Contains(r.stderr, "cannot be read")):
		t.Fatalf("oauthrt %s listed unreadable records: exit %d, stderr %q; want exit %d and a message counting them", strings.Join(args, " "), r.code, r.stderr, exitFailed)
	case !listed && r.code != 0:
		t.Fatalf("oauthrt %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
}
