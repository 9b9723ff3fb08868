package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/providers"
	"github.com/spf13/cobra"
)

const statusHelp = `status lists the grants of a store, a page at a time: for each key, its
health, since when, its access token's expiry, when it was last refreshed,
and who holds its refresh lease. It reads the store only, and exits 0
whatever the grants' health, 1 when the store fails or when a record it
lists cannot be read (a wrong keyring, a damaged record): it shows such
records as unreadable, then says so on stderr.

Columns:

  KEY        the store key
  HEALTH     healthy; degraded (N failures): the token endpoint failed
             transiently and the grant backs off; dead (CODE): the provider
             refused the refresh token, the user must authorize again;
             unreadable (REASON): the token does not open ("wrong key", or
             "no key" when no keyring was given) or is not a token
             ("damaged")
  SINCE      when a degraded or dead grant became so, and how long ago
  EXPIRES    the access token's expiry: "in 42m", "expired 3h ago", or
             "never"
  REFRESHED  how long ago the access token was issued (its expiry less its
             expires_in; "unknown" when the token does not say). With
             --provider, against the provider's idle lifetime from the
             catalog: "12d of 90d idle", ending in "!" past 80% of it;
             "of unknown idle" when the catalog does not know it
  LEASE      the refresh lease's holder (host/pid/random) and until when;
             "-" when none is held
  KEY ID     for a store with sealed tokens: the keyring key that opens
             each ("-" in the clear, "?" when none does)

Times are in UTC. Paging: status shows --limit records and, when more
remain, writes on stderr the command that shows the next page (with
--cursor); --all shows every record. --state keeps the records of the
healths named (repeat it, or separate them with commas). --sort orders
the records read for this page (or, with --all, all of them); it does
not look further into the store.

--json writes one object:

  {"records": [{
      "key": "...",
      "health": "healthy" | "degraded" | "dead" | "unreadable",
      "since": RFC 3339,           degraded or dead: since when
      "code": "invalid_grant",     dead: the provider's error code
      "attempts": 3,               degraded: failures in a row
      "next_attempt": RFC 3339,    degraded: when the endpoint may be called
      "expires": RFC 3339,         absent when the token never expires
      "refreshed": RFC 3339,       absent when unknown
      "idle_lifetime": seconds,    with --provider, when the catalog knows
                                   it; 0: disuse does not end a grant
      "lease": {"holder": "...", "until": RFC 3339, "epoch": 7},
      "sealed": true,
      "key_id": "...",
      "error": "...",              unreadable: why, in full
      "reason": "wrong key"        unreadable: why, in short
   }],
   "next": "..."}                  the --cursor of the next page; "" at the end

Fields that do not apply are left out; times are RFC 3339 in UTC. No
token, fingerprint or secret is written.
`

// statusFlags are the flags of status.
type statusFlags struct {
	prefix   string
	states   []string
	sortBy   string
	limit    int
	cursor   string
	all      bool
	provider string
}

var (
	statusStates = []string{"healthy", "degraded", "dead", healthUnreadable}
	statusSorts  = []string{"key", "health", "since", "expiry", "refreshed"}
)

func (a *app) statusCommand() *cobra.Command {
	var f statusFlags
	c := &cobra.Command{
		Use:   "status",
		Short: "List the grants of a store: health, expiry, idleness, leases",
		Long:  statusHelp,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.status(c, f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.prefix, "prefix", "", "list only the keys starting with `P`")
	fl.StringSliceVar(&f.states, "state", nil, "list only the grants in `STATE`: healthy, degraded, dead or unreadable (repeatable)")
	fl.StringVar(&f.sortBy, "sort", "key", "order the records read by `KEY`: key, health (worst first), since, expiry or refreshed (oldest first)")
	fl.IntVar(&f.limit, "limit", 50, "show at most `N` records per page")
	fl.StringVar(&f.cursor, "cursor", "", "show the page after the one that printed `C`")
	fl.BoolVar(&f.all, "all", false, "show every record, not one page")
	fl.StringVar(&f.provider, "provider", "", "show idleness against the idle lifetime of provider `ID` in the catalog")
	return c
}

func (a *app) status(c *cobra.Command, f statusFlags) error {
	want := map[string]bool{}
	for _, s := range f.states {
		s = strings.TrimSpace(s)
		if !slices.Contains(statusStates, s) {
			return usagef("--state %q: use %s", s, strings.Join(statusStates, ", "))
		}
		want[s] = true
	}
	if !slices.Contains(statusSorts, f.sortBy) {
		return usagef("--sort %q: use %s", f.sortBy, strings.Join(statusSorts, ", "))
	}
	if f.limit <= 0 {
		return usagef("--limit %d: give a positive number", f.limit)
	}
	if f.all && f.cursor != "" {
		return usagef("--all reads from the start: leave out --cursor")
	}
	p, err := lookupProvider(f.provider)
	if err != nil {
		return err
	}
	pos := position{Prefix: []byte(f.prefix), Size: min(f.limit, maxPage)}
	if f.all {
		pos.Size = maxPage
	}
	if f.cursor != "" {
		if pos, err = decodePosition(f.cursor, f.prefix); err != nil {
			return err
		}
	}

	ctx := c.Context()
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	ins, err := inspector(s)
	if err != nil {
		return err
	}
	keep := func(r oauthrt.Record) bool { return len(want) == 0 || want[newGrant(r).health()] }
	limit := f.limit
	if f.all {
		limit = 0
	}
	recs, after, done, err := walk(ctx, ins, pos, limit, keep)
	if err != nil {
		return fmt.Errorf("store %s: reading its records: %w", s.name, err)
	}
	next := ""
	if !done {
		next = after.encode()
	}

	now := time.Now()
	gs := make([]grant, len(recs))
	for i, r := range recs {
		gs[i] = newGrant(r)
	}
	sortGrants(gs, f.sortBy, now)
	keyed := a.keysFile != "" || a.keysEnv != ""
	if a.jsonOut {
		if err := writeStatusJSON(a.stdout, gs, next, p, keyed); err != nil {
			return err
		}
		return unreadable(gs, keyed)
	}
	if err := writeStatusTable(a.stdout, gs, p, keyed, now); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(a.stderr, "more: %s\n", nextCommand(c, next))
	}
	return unreadable(gs, keyed)
}

// unreadable returns an error when any of gs is unreadable: status shows
// such records, and then exits 1, so that a script or a cron job hears of
// a wrong keyring or a damaged record as it does of a failing store. It
// counts them by reason; keyed is as for grant.reason.
func unreadable(gs []grant, keyed bool) error {
	reasons := map[string]int{}
	n := 0
	for _, g := range gs {
		if g.health() == healthUnreadable {
			reasons[g.reason(keyed)]++
			n++
		}
	}
	if n == 0 {
		return nil
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		parts = append(parts, fmt.Sprintf("%d %s", reasons[r], r))
	}
	return fmt.Errorf("%d of the records listed cannot be read (%s): check the keyring (--keys-file, --keys-env); a damaged record needs its grant authorized again", n, strings.Join(parts, ", "))
}

// nextCommand returns the command line that shows the page after this
// one: status with the flags of this run that shape a page, and
// --cursor. The store and keyring flags are left out: they may hold a
// password, and the operator knows them.
func nextCommand(c *cobra.Command, next string) string {
	parts := []string{"oauthrt status"}
	for _, name := range []string{"prefix", "state", "sort", "limit", "provider"} {
		fl := c.Flags().Lookup(name)
		if !fl.Changed {
			continue
		}
		v := fl.Value.String()
		if sv, ok := fl.Value.(interface{ GetSlice() []string }); ok {
			v = strings.Join(sv.GetSlice(), ",")
		}
		parts = append(parts, "--"+name+" "+shellQuote(v))
	}
	return strings.Join(append(parts, "--cursor "+next), " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.,:/=+@%", r)))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// healthRank orders healths worst first.
var healthRank = map[string]int{healthUnreadable: 0, "dead": 1, "degraded": 2, "healthy": 3}

// sortGrants orders gs by the --sort key, then by key. Times that are
// not known sort last.
func sortGrants(gs []grant, by string, now time.Time) {
	byTime := func(t func(grant) (time.Time, bool)) func(a, b grant) int {
		return func(a, b grant) int {
			ta, oka := t(a)
			tb, okb := t(b)
			switch {
			case oka && okb:
				return ta.Compare(tb)
			case oka:
				return -1
			case okb:
				return 1
			}
			return 0
		}
	}
	var first func(a, b grant) int
	switch by {
	case "health":
		first = func(a, b grant) int { return cmp.Compare(healthRank[a.health()], healthRank[b.health()]) }
	case "since":
		first = byTime(func(g grant) (time.Time, bool) { return g.status.Since, !g.status.Since.IsZero() })
	case "expiry":
		first = byTime(func(g grant) (time.Time, bool) {
			if g.rec.Token == nil || g.rec.Token.Expiry.IsZero() {
				return time.Time{}, false
			}
			return g.rec.Token.Expiry, true
		})
	case "refreshed":
		first = byTime(grant.refreshed)
	default:
		first = func(grant, grant) int { return 0 }
	}
	slices.SortStableFunc(gs, func(a, b grant) int {
		return cmp.Or(first(a, b), strings.Compare(a.rec.Key, b.rec.Key))
	})
}

// writeStatusTable writes gs as status's table.
func writeStatusTable(w io.Writer, gs []grant, p *providers.Provider, keyed bool, now time.Time) error {
	sealed := slices.ContainsFunc(gs, func(g grant) bool { return g.rec.Sealed })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "KEY\tHEALTH\tSINCE\tEXPIRES\tREFRESHED\tLEASE"
	if sealed {
		head += "\tKEY ID"
	}
	fmt.Fprintln(tw, head)
	for _, g := range gs {
		cols := []string{displayKey(g.rec.Key), healthText(g, keyed), sinceText(g, now), "-", "-", leaseText(g.rec.Lease, now)}
		if g.rec.Token != nil {
			cols[3] = expiryText(g.rec.Token.Expiry, now)
			cols[4] = idleOf(g, p, now).text(p)
		}
		if sealed {
			cols = append(cols, keyIDText(g.rec))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}

// displayKey writes a key as it is, or quoted when it is empty or holds
// spaces, tabs or other characters a table would hide.
func displayKey(k string) string {
	if k == "" || strings.IndexFunc(k, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar }) >= 0 {
		return strconv.Quote(k)
	}
	return k
}

// healthText is the HEALTH column: the health, and what more it has to
// say in parentheses.
func healthText(g grant, keyed bool) string {
	h := g.health()
	switch {
	case h == healthUnreadable:
		return h + " (" + g.reason(keyed) + ")"
	case g.status.Health == oauthrt.HealthDead && g.status.Code != "":
		return h + " (" + g.status.Code + ")"
	case g.status.Health == oauthrt.HealthDegraded:
		n := "failures"
		if g.status.Attempts == 1 {
			n = "failure"
		}
		return fmt.Sprintf("%s (%d %s)", h, g.status.Attempts, n)
	}
	return h
}

// sinceText is the SINCE column.
func sinceText(g grant, now time.Time) string {
	if g.status.Since.IsZero() {
		return "-"
	}
	return stamp(g.status.Since) + " (" + relative(g.status.Since, now) + ")"
}

// leaseText is the LEASE column.
func leaseText(l oauthrt.LeaseInfo, now time.Time) string {
	if l.Holder == "" {
		return "-"
	}
	if l.Until.IsZero() {
		return l.Holder
	}
	return l.Holder + " until " + stamp(l.Until) + " (" + relative(l.Until, now) + ")"
}

// keyIDText is the KEY ID column.
func keyIDText(r oauthrt.Record) string {
	switch {
	case !r.Sealed:
		return "-"
	case r.KeyID == "":
		return "?"
	}
	return r.KeyID
}

// recordJSON is a record in status's --json output, and the part of
// show's that they share: see statusHelp.
type recordJSON struct {
	Key          string    `json:"key"`
	Health       string    `json:"health"`
	Since        string    `json:"since,omitempty"`
	Code         string    `json:"code,omitempty"`
	Attempts     int       `json:"attempts,omitempty"`
	NextAttempt  string    `json:"next_attempt,omitempty"`
	Expires      string    `json:"expires,omitempty"`
	Refreshed    string    `json:"refreshed,omitempty"`
	IdleLifetime *int64    `json:"idle_lifetime,omitempty"`
	Lease        leaseJSON `json:"lease"`
	Sealed       bool      `json:"sealed"`
	KeyID        string    `json:"key_id,omitempty"`
	Error        string    `json:"error,omitempty"`
	Reason       string    `json:"reason,omitempty"`
}

// leaseJSON is a lease in --json output; {} when none is held.
type leaseJSON struct {
	Holder string `json:"holder,omitempty"`
	Until  string `json:"until,omitempty"`
	Epoch  uint64 `json:"epoch,omitempty"`
}

// statusJSON is status's --json output.
type statusJSON struct {
	Records []recordJSON `json:"records"`
	Next    string       `json:"next"`
}

// toJSON returns g as JSON describes it.
func (g grant) toJSON(p *providers.Provider, keyed bool) recordJSON {
	r := recordJSON{
		Key:         g.rec.Key,
		Health:      g.health(),
		Since:       rfc3339(g.status.Since),
		Code:        g.status.Code,
		Attempts:    g.status.Attempts,
		NextAttempt: rfc3339(g.status.NextAttempt),
		Lease:       leaseJSON{Holder: g.rec.Lease.Holder, Until: rfc3339(g.rec.Lease.Until), Epoch: g.rec.Lease.Epoch},
		Sealed:      g.rec.Sealed,
		KeyID:       g.rec.KeyID,
	}
	if g.rec.Err != nil {
		r.Error, r.Reason = g.rec.Err.Error(), g.reason(keyed)
	}
	if g.rec.Token != nil {
		r.Expires = rfc3339(g.rec.Token.Expiry)
	}
	if at, ok := g.refreshed(); ok {
		r.Refreshed = rfc3339(at)
	}
	if p != nil && p.IdleLifetime.Known {
		s := int64(p.IdleLifetime.Value / time.Second)
		r.IdleLifetime = &s
	}
	return r
}

// writeStatusJSON writes status's --json output: one object, with a
// record per line.
func writeStatusJSON(w io.Writer, gs []grant, next string, p *providers.Provider, keyed bool) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(`{"records": [`)
	for i, g := range gs {
		b, err := json.Marshal(g.toJSON(p, keyed))
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n  ")
		bw.Write(b)
	}
	n, _ := json.Marshal(next)
	fmt.Fprintf(bw, "\n], \"next\": %s}\n", n)
	return bw.Flush()
}
