package oauthrt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// recordEvents makes f's Transport record its RefreshEvents. The
// function it returns lets the refresh of key "k" under way end (Close
// would cut short its store reads), then closes the Transport, which
// waits for every OnRefresh call, and returns the events.
func recordEvents(f *fixture) func() []oauthrt.RefreshEvent {
	var (
		mu     sync.Mutex
		events []oauthrt.RefreshEvent
	)
	f.tr.OnRefresh = func(ev oauthrt.RefreshEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}
	return func() []oauthrt.RefreshEvent {
		<-oauthrt.FlightDone(f.tr, "k")
		f.tr.Close()
		mu.Lock()
		defer mu.Unlock()
		return append([]oauthrt.RefreshEvent(nil), events...)
	}
}

// wantEvent checks that events is one event with reason and outcome.
func wantEvent(t *testing.T, events []oauthrt.RefreshEvent, reason oauthrt.RefreshReason, outcome oauthrt.RefreshOutcome) oauthrt.RefreshEvent {
	t.Helper()
	if len(events) != 1 {
		t.Fatalf("%d events %+v, want 1", len(events), events)
	}
	ev := events[0]
	if ev.Key != "k" || ev.Reason != reason || ev.Outcome != outcome || ev.Duration <= 0 {
		t.Errorf("event %+v, want key k, reason %s, outcome %s and a duration", ev, reason, outcome)
	}
	if (ev.Err == nil) != (outcome == oauthrt.OutcomeRefreshed || outcome == oauthrt.OutcomeLoaded) {
		t.Errorf("event error %v with outcome %s", ev.Err, outcome)
	}
	return ev
}

func TestOnRefreshOncePerSharedRefresh(t *testing.T) {
	f := newFixture(t)
	events := recordEvents(f)
	f.get(t) // fresh: no event
	f.clock.Advance(time.Hour)
	holdRefresh(t, f, concurrentRequests, nil)
	getAllOK(t, f, concurrentRequests)
	wantEvent(t, events(), oauthrt.ReasonExpired, oauthrt.OutcomeRefreshed)
}

func TestOnRefreshReasonsAndOutcomes(t *testing.T) {
	t.Run("rejected", func(t *testing.T) {
		f := newFixture(t)
		events := recordEvents(f)
		f.api.reject("at-1")
		if code, _ := f.get(t); code != 200 {
			t.Fatalf("status %d", code)
		}
		wantEvent(t, events(), oauthrt.ReasonRejected, oauthrt.OutcomeRefreshed)
	})
	t.Run("ahead", func(t *testing.T) {
		f := newFixture(t)
		events := recordEvents(f)
		f.getWithin(t)
		f.clock.Advance(59 * time.Minute)
		f.getWithin(t)
		wantEvent(t, events(), oauthrt.ReasonAhead, oauthrt.OutcomeRefreshed)
	})
	t.Run("ahead failed", func(t *testing.T) {
		f := newFixture(t)
		events := recordEvents(f)
		f.issuer.before = func(context.Context, *oauth2.Token) error { return errBoom }
		f.getWithin(t)
		f.clock.Advance(59 * time.Minute)
		f.getWithin(t)
		if ev := wantEvent(t, events(), oauthrt.ReasonAhead, oauthrt.OutcomeFailed); !errors.Is(ev.Err, errBoom) {
			t.Errorf("event error %v, want the Refresher's", ev.Err)
		}
	})
	t.Run("failed", func(t *testing.T) {
		f := newFixture(t)
		events := recordEvents(f)
		f.issuer.before = func(context.Context, *oauth2.Token) error { return errBoom }
		f.clock.Advance(time.Hour)
		err := f.getErr(t)
		if ev := wantEvent(t, events(), oauthrt.ReasonExpired, oauthrt.OutcomeFailed); ev.Err.Error() != errors.Unwrap(err).Error() {
			t.Errorf("event error %q, want the request's %q", ev.Err, errors.Unwrap(err))
		}
	})
	t.Run("reauth required", func(t *testing.T) {
		f := newFixture(t)
		events := recordEvents(f)
		f.issuer.before = func(context.Context, *oauth2.Token) error { return oauthrt.ErrReauthRequired }
		f.clock.Advance(time.Hour)
		f.getErr(t)
		// The dead grant is known: the next request fails without a
		// refresh, and without an event.
		f.getErr(t)
		wantEvent(t, events(), oauthrt.ReasonExpired, oauthrt.OutcomeReauthRequired)
	})
	t.Run("loaded", func(t *testing.T) {
		f := newFixture(t)
		events := recordEvents(f)
		s := newLeasingStore(f)
		f.clock.Advance(time.Hour)
		s.onLock = func() {
			f.store.put(t, "k", &oauth2.Token{AccessToken: "at-5", RefreshToken: "rt-5", Expiry: f.clock.Now().Add(time.Hour)})
		}
		f.get(t)
		wantEvent(t, events(), oauthrt.ReasonExpired, oauthrt.OutcomeLoaded)
		if n := f.issuer.calls.Load(); n != 0 {
			t.Errorf("refreshed %d times", n)
		}
	})
	t.Run("store failed", func(t *testing.T) {
		f := newFixture(t)
		events := recordEvents(f)
		s := newLeasingStore(f)
		s.lockErr = errBoom
		f.clock.Advance(time.Hour)
		f.getErr(t)
		wantEvent(t, events(), oauthrt.ReasonExpired, oauthrt.OutcomeFailed)
	})
}

// Events and their log lines name the key, reason, outcome and error,
// never a token.
func TestRefreshEventsCarryNoToken(t *testing.T) {
	f := newFixture(t)
	events := recordEvents(f)
	var logs bytes.Buffer
	f.tr.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.clock.Advance(time.Hour)
	f.get(t) // refreshed: at-2, rt-2
	f.issuer.before = func(_ context.Context, tok *oauth2.Token) error {
		return fmt.Errorf("%w (the endpoint said nothing of %s)", oauthrt.ErrReauthRequired, "[redacted]")
	}
	f.clock.Advance(time.Hour)
	f.getErr(t)

	got := events() // in any order: each hook runs after its requests went on
	if len(got) != 2 || got[0].Outcome == got[1].Outcome {
		t.Fatalf("events %+v, want one refreshed and one reauth_required", got)
	}
	out := logs.String() + fmt.Sprintf("%+v %#v", got, got)
	for _, secret := range []string{"at-1", "rt-1", "at-2", "rt-2"} {
		if strings.Contains(out, secret) {
			t.Errorf("events or logs show %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		`level=DEBUG msg="oauthrt: token refreshed" key=k reason=expired outcome=refreshed duration=`,
		`level=WARN msg="oauthrt: token refresh failed" key=k reason=expired outcome=reauth_required duration=`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// An Issuer's first token for an empty key is got under the store's
// lease, like a refresh; a process that finds, once it holds the lease,
// that another one issued it meanwhile uses that token and issues none.
func TestIssuerUnderTheLease(t *testing.T) {
	f := newFixture(t)
	events := recordEvents(f)
	s := newLeasingStore(f)
	var issued atomic.Int32
	f.tr.Refresher = oauthrt.TokenSourceRefresher{Source: tokenSourceFunc(func() (*oauth2.Token, error) {
		issued.Add(1)
		return &oauth2.Token{AccessToken: "at-9", Expiry: f.clock.Now().Add(time.Hour)}, nil
	})}

	// Another process issues "other" while this one waits for the lease.
	s.onLock = func() {
		f.store.put(t, "other", &oauth2.Token{AccessToken: "at-8", Expiry: f.clock.Now().Add(time.Hour)})
	}
	if tok, err := f.tr.TokenSource(context.Background(), "other").Token(); err != nil || tok.AccessToken != "at-8" {
		t.Errorf("other: %v, %v; want the other process's at-8", tok, err)
	}
	s.onLock = nil
	if tok, err := f.tr.TokenSource(context.Background(), "new").Token(); err != nil || tok.AccessToken != "at-9" {
		t.Errorf("new: %v, %v; want the issued at-9", tok, err)
	}
	if n := issued.Load(); n != 1 {
		t.Errorf("issued %d tokens, want 1", n)
	}
	wantEvents(t, s, "load", "lock", "load", "unlock", "load", "lock", "load", "save at-9", "unlock")

	outcomes := map[string]oauthrt.RefreshOutcome{}
	for _, ev := range events() {
		if ev.Reason != oauthrt.ReasonMissing {
			t.Errorf("event %+v, want reason missing", ev)
		}
		outcomes[ev.Key] = ev.Outcome
	}
	if outcomes["other"] != oauthrt.OutcomeLoaded || outcomes["new"] != oauthrt.OutcomeRefreshed || len(outcomes) != 2 {
		t.Errorf("outcomes %v, want other: loaded, new: refreshed", outcomes)
	}
}
