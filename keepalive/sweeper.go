package keepalive

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"math/rand/v2"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The defaults of a Sweeper's settings.
const (
	// DefaultRate is how many refreshes a second a Sweeper makes at most
	// when its Rate is zero.
	DefaultRate = 2
	// DefaultPageSize is how many keys a Sweeper asks the store for at a
	// time when its PageSize is zero.
	DefaultPageSize = 500
	// DefaultInterval is Run's pause between sweeps when Interval is
	// zero.
	DefaultInterval = time.Hour
)

// A Sweeper walks a store's keys and refreshes the grants that have been
// idle for so long that their refresh tokens would soon expire from
// disuse, and only those. Its zero value is not usable: Transport and
// IdleLifetime are required. Set its fields before the first Sweep or Run
// and do not change them after; a Sweeper is then safe for concurrent
// use, and any number of Sweepers, in any number of processes, may sweep
// the same store at once (see the package documentation).
type Sweeper struct {
	// Transport refreshes the grants, through its refresh protocol, and
	// reports each refresh to its OnRefresh with oauthrt.ReasonKeepAlive.
	// Required. Its Store must be an oauthrt.KeyLister, for the sweep to
	// list its keys; when it is also an oauthrt.GrantStateStore, a grant
	// the fleet knows is dead or backed off is skipped without a call to
	// the Transport.
	Transport *oauthrt.Transport

	// Prefix limits the sweep to the keys that start with it. "" sweeps
	// every key.
	Prefix string

	// IdleLifetime is how long the provider lets a refresh token live
	// unused: a grant idle for longer dies. Required, and positive. The
	// providers package's catalog records it for the providers it knows,
	// with its source (see the package documentation).
	IdleLifetime time.Duration

	// Margin is how long before the end of IdleLifetime a grant is
	// refreshed: a grant is due once it has been idle for IdleLifetime -
	// Margin, less a fixed fraction of a quarter of Margin that depends
	// only on the key, which spreads the refreshes of grants authorized
	// together. Zero means a quarter of IdleLifetime. It must be shorter
	// than IdleLifetime, and should be much longer than Interval and than
	// a sweep takes.
	Margin time.Duration

	// Rate is how many refreshes a second a sweep makes at most: it waits
	// 1/Rate between one refresh and the next. Zero means DefaultRate;
	// a negative value means no limit.
	Rate float64

	// PageSize is how many keys the sweep asks the store for at a time.
	// Zero or less means DefaultPageSize.
	PageSize int

	// Interval is how long Run waits between the end of one sweep and the
	// start of the next, give or take 10% at random, so that the sweeps
	// of many processes do not fall into step. Zero means
	// DefaultInterval; a negative value is an error. Run fails unless
	// Interval, plus those 10%, is shorter than Margin, as a grant that
	// fell due just after a sweep must be refreshed by the next.
	Interval time.Duration

	// Now returns the current time. nil means the Transport's Now, or
	// time.Now when that is nil too. Tests set it to age tokens without
	// waiting.
	Now func() time.Time

	// OnEvent is called with the sweep's progress: each grant refreshed
	// or failed, each page of keys done, and the end of each sweep with
	// its counts and error (see Event). It is called on the sweeping
	// goroutine, which waits for it to return; a panic in it is recovered
	// and dropped. nil: not called.
	OnEvent func(Event)
}

// pause waits for d, or until ctx ends, and then returns ctx's error.
// Tests replace it, so that no test sleeps.
var pause = func(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sweep walks the keys once, page by page, and refreshes each grant that
// is due, one at a time. It returns what it did, and an error when it
// could not walk every key: a setting is wrong, the store failed to list
// the keys, or ctx ended (then the error wraps ctx's error). A grant
// that could not be loaded or refreshed does not stop the sweep: it is
// counted, and reported to OnEvent. Every sweep that starts ends with an
// EventDone; a wrong setting fails before the sweep starts, and reports
// nothing.
func (s *Sweeper) Sweep(ctx context.Context) (Counts, error) {
	p, err := s.newPass()
	if err != nil {
		return Counts{}, err
	}
	p.start = p.now()
	cursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return p.stop(stopped(err))
		}
		var keys []string
		var next string
		err := guarded("the store's ListKeys", func() (err error) {
			keys, next, err = p.lister.ListKeys(ctx, s.Prefix, cursor, p.pageSize)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return p.stop(stopped(ctx.Err()))
			}
			return p.stop(fmt.Errorf("keepalive: listing the keys: %w", err))
		}
		p.counts.Pages++
		for _, key := range keys {
			if err := p.sweepKey(ctx, key); err != nil {
				return p.stop(err)
			}
		}
		p.emit(Event{Kind: EventPage})
		if next == "" {
			break
		}
		cursor = next
	}
	p.emit(Event{Kind: EventDone})
	return p.counts, nil
}

// Run sweeps until ctx ends, waiting Interval (give or take 10%) between
// the end of one sweep and the start of the next; the first sweep starts
// at once. A sweep that fails is reported to OnEvent (its EventDone has
// the error) and does not stop Run. Run returns an error wrapping ctx's
// error once ctx ends, or at once a wrong setting's.
func (s *Sweeper) Run(ctx context.Context) error {
	p, err := s.newPass()
	if err != nil {
		return err
	}
	interval, err := s.interval()
	if err != nil {
		return err
	}
	if interval+interval/10 >= p.margin {
		return fmt.Errorf("keepalive: Sweeper.Interval (%v, +10%%) is not shorter than Margin (%v): a grant that fell due just after a sweep could die before the next", interval, p.margin)
	}
	for {
		s.Sweep(ctx) // reported to OnEvent
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("keepalive: Run stopped: %w", err)
		}
		wait := interval - interval/10 + rand.N(interval/5+1)
		if err := pause(ctx, wait); err != nil {
			return fmt.Errorf("keepalive: Run stopped: %w", err)
		}
	}
}

// pass is the state of one sweep, with the Sweeper's settings resolved.
type pass struct {
	s        *Sweeper
	lister   oauthrt.KeyLister
	states   oauthrt.GrantStateStore // nil when the store keeps none
	idle     time.Duration
	margin   time.Duration
	wait     time.Duration // between two refreshes
	pageSize int
	now      func() time.Time

	start  time.Time
	counts Counts
	tried  bool // a refresh was tried: the next one waits
}

// newPass checks the Sweeper's settings and resolves their defaults.
func (s *Sweeper) newPass() (*pass, error) {
	if s.Transport == nil {
		return nil, errors.New("keepalive: Sweeper.Transport is nil")
	}
	if s.Transport.Store == nil {
		return nil, errors.New("keepalive: the Transport's Store is nil")
	}
	lister, ok := s.Transport.Store.(oauthrt.KeyLister)
	if !ok {
		return nil, fmt.Errorf("keepalive: the Transport's Store (%T) is no oauthrt.KeyLister: a sweep cannot list its keys", s.Transport.Store)
	}
	if s.IdleLifetime <= 0 {
		return nil, fmt.Errorf("keepalive: Sweeper.IdleLifetime is %v; it must be positive: how long the provider lets a refresh token live unused", s.IdleLifetime)
	}
	margin, err := s.margin()
	if err != nil {
		return nil, err
	}
	wait, err := s.wait()
	if err != nil {
		return nil, err
	}
	p := &pass{
		s:        s,
		lister:   lister,
		idle:     s.IdleLifetime,
		margin:   margin,
		wait:     wait,
		pageSize: s.pageSize(),
		now:      s.clock(),
	}
	p.states, _ = s.Transport.Store.(oauthrt.GrantStateStore)
	return p, nil
}

func (s *Sweeper) margin() (time.Duration, error) {
	switch {
	case s.Margin == 0:
		return s.IdleLifetime / 4, nil
	case s.Margin < 0:
		return 0, fmt.Errorf("keepalive: Sweeper.Margin is negative (%v)", s.Margin)
	case s.Margin >= s.IdleLifetime:
		return 0, fmt.Errorf("keepalive: Sweeper.Margin (%v) is not shorter than IdleLifetime (%v)", s.Margin, s.IdleLifetime)
	}
	return s.Margin, nil
}

// wait is the pause between two refreshes; zero for no limit.
func (s *Sweeper) wait() (time.Duration, error) {
	rate := s.Rate
	switch {
	case math.IsNaN(rate):
		return 0, errors.New("keepalive: Sweeper.Rate is NaN")
	case rate == 0:
		rate = DefaultRate
	case rate < 0:
		return 0, nil
	}
	w := float64(time.Second) / rate
	if w >= math.MaxInt64 {
		return 0, fmt.Errorf("keepalive: Sweeper.Rate (%g) is too small: less than one refresh in %v", rate, time.Duration(math.MaxInt64))
	}
	return time.Duration(w), nil
}

func (s *Sweeper) pageSize() int {
	if s.PageSize <= 0 {
		return DefaultPageSize
	}
	return s.PageSize
}

func (s *Sweeper) interval() (time.Duration, error) {
	switch {
	case s.Interval == 0:
		return DefaultInterval, nil
	case s.Interval < 0:
		return 0, fmt.Errorf("keepalive: Sweeper.Interval is negative (%v)", s.Interval)
	}
	return s.Interval, nil
}

func (s *Sweeper) clock() func() time.Time {
	switch {
	case s.Now != nil:
		return s.Now
	case s.Transport.Now != nil:
		return s.Transport.Now
	}
	return time.Now
}

// sweepKey looks at one key, refreshes its grant when it is due, and
// counts what it did. It returns an error only when the sweep must stop.
func (p *pass) sweepKey(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return stopped(err)
	}
	var tok *oauth2.Token
	err := guarded("the store's Load", func() (err error) {
		tok, err = p.s.Transport.Store.Load(ctx, key)
		return err
	})
	if err == nil && tok == nil {
		err = errors.New("the store returned a nil token")
	}
	switch {
	case errors.Is(err, oauthrt.ErrNoToken):
		p.count(&p.counts.Missing)
		return nil
	case err != nil && ctx.Err() != nil:
		return stopped(ctx.Err())
	case err != nil:
		p.failed(key, fmt.Errorf("keepalive: loading the token of key %q: %w", key, err))
		return nil
	case tok.RefreshToken == "":
		p.count(&p.counts.NoRefreshToken)
		return nil
	}
	last, ok := lastRefresh(tok)
	if !ok {
		p.count(&p.counts.Unknown)
		return nil
	}
	now := p.now()
	if now.Sub(last) < p.threshold(key) {
		p.count(&p.counts.NotDue)
		return nil
	}
	if p.states != nil {
		var st oauthrt.GrantState
		err := guarded("the store's LoadGrantState", func() (err error) {
			st, err = p.states.LoadGrantState(ctx, key)
			return err
		})
		switch {
		case err != nil && ctx.Err() != nil:
			return stopped(ctx.Err())
		case err != nil:
			p.failed(key, fmt.Errorf("keepalive: loading the grant state of key %q: %w", key, err))
			return nil
		case st.DeadToken != "" && st.DeadToken == oauthrt.Fingerprint(tok):
			p.count(&p.counts.Dead)
			return nil
		case now.Before(st.NextAttempt):
			p.count(&p.counts.BackedOff)
			return nil
		}
	}
	return p.refresh(ctx, key, tok)
}

// refresh refreshes key's grant, which is due, unless the store no
// longer holds tok, and counts what happened.
func (p *pass) refresh(ctx context.Context, key string, tok *oauth2.Token) error {
	if p.tried && p.wait > 0 {
		if err := pause(ctx, p.wait); err != nil {
			return stopped(err)
		}
	}
	p.tried = true
	outcome, err := p.s.Transport.Refresh(ctx, key, tok)
	var backoff *oauthrt.BackoffError
	switch {
	case err != nil && ctx.Err() != nil:
		return stopped(ctx.Err()) // abandoned, not failed: the refresh goes on without the sweep
	case err == nil && outcome == oauthrt.OutcomeLoaded:
		p.count(&p.counts.Loaded)
	case err == nil:
		p.count(&p.counts.Refreshed)
		p.emit(Event{Kind: EventRefreshed, Key: key})
	case errors.Is(err, oauthrt.ErrReauthRequired):
		p.count(&p.counts.Dead)
		p.emit(Event{Kind: EventFailed, Key: key, Err: fmt.Errorf("keepalive: refreshing key %q: %w", key, err)})
	case errors.As(err, &backoff):
		p.count(&p.counts.BackedOff)
	case errors.Is(err, oauthrt.ErrNoToken):
		p.count(&p.counts.Missing)
	default:
		p.failed(key, fmt.Errorf("keepalive: refreshing key %q: %w", key, err))
	}
	return nil
}

// threshold is how long key's grant may stay idle before the sweep
// refreshes it: IdleLifetime - Margin, less the key's own fraction of a
// quarter of Margin.
func (p *pass) threshold(key string) time.Duration {
	return p.idle - p.margin - jitter(key, p.margin/4)
}

// jitter returns a duration in [0, span) that depends only on key, so
// that every sweeper of the fleet agrees on it, and keys spread evenly.
func jitter(key string, span time.Duration) time.Duration {
	if span <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	hi, _ := bits.Mul64(h.Sum64(), uint64(span)) // h/2^64 of span
	return time.Duration(hi)
}

// maxExpiresIn bounds the ExpiresIn a token may carry for its last
// refresh to be computed without overflow.
const maxExpiresIn = math.MaxInt64 / int64(time.Second)

// lastRefresh returns when tok was obtained: its Expiry less its
// ExpiresIn. It reports false when the token does not carry both, so that
// nothing tells.
func lastRefresh(tok *oauth2.Token) (time.Time, bool) {
	if tok.Expiry.IsZero() || tok.ExpiresIn <= 0 || tok.ExpiresIn > maxExpiresIn {
		return time.Time{}, false
	}
	return tok.Expiry.Add(-time.Duration(tok.ExpiresIn) * time.Second), true
}

// count counts a key done, in Scanned and in n, one of the key counts.
func (p *pass) count(n *int) {
	*n++
	p.counts.Scanned++
}

// failed counts key as failed, and reports err.
func (p *pass) failed(key string, err error) {
	p.count(&p.counts.Failed)
	p.emit(Event{Kind: EventFailed, Key: key, Err: err})
}

// stop ends the sweep early with err, and reports it.
func (p *pass) stop(err error) (Counts, error) {
	p.emit(Event{Kind: EventDone, Err: err})
	return p.counts, err
}

// emit reports ev, with the counts and time so far, to OnEvent.
func (p *pass) emit(ev Event) {
	if p.s.OnEvent == nil {
		return
	}
	ev.Counts = p.counts
	ev.Elapsed = p.now().Sub(p.start)
	guarded("Sweeper.OnEvent", func() error { p.s.OnEvent(ev); return nil })
}

// stopped is the error of a sweep whose context ended.
func stopped(err error) error {
	return fmt.Errorf("keepalive: the sweep stopped: %w", err)
}

// guarded calls f, and turns a panic in it into an error. The panic's
// value may hold a token, so only its type is kept.
func guarded(what string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("keepalive: %s panicked (%T)", what, v)
		}
	}()
	return f()
}
