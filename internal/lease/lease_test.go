package lease

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

func TestTTL(t *testing.T) {
	for _, tc := range []struct {
		in, want time.Duration
	}{
		{0, oauthrt.DefaultLeaseTTL},
		{-time.Second, oauthrt.DefaultLeaseTTL},
		{oauthrt.MinLeaseTTL, oauthrt.MinLeaseTTL},
		{time.Hour, time.Hour},
	} {
		if got, err := TTL("x", tc.in); err != nil || got != tc.want {
			t.Errorf("TTL(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, short := range []time.Duration{time.Nanosecond, 500 * time.Millisecond, oauthrt.MinLeaseTTL - 1} {
		_, err := TTL("somestore", short)
		if err == nil {
			t.Errorf("TTL(%v) succeeded below the minimum", short)
			continue
		}
		for _, want := range []string{"oauthrt: somestore: ", short.String(), oauthrt.MinLeaseTTL.String(), "MinLeaseTTL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("TTL(%v): error %q does not say %q", short, err, want)
			}
		}
	}
}

func TestLeaseLostIsFinal(t *testing.T) {
	calls := 0
	held := true
	released := 0
	l := New("k", time.Minute, func(context.Context) (bool, error) { calls++; return held, nil },
		func(context.Context) { released++ })
	ctx := context.Background()
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("Renew of a held lease: %v", err)
	}
	held = false
	if err := l.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Fatalf("Renew of a lapsed lease: err = %v, want ErrLeaseLost", err)
	}
	held = true // the store would have it again: Renew must not ask
	if err := l.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) || calls != 2 {
		t.Errorf("Renew after the loss: err = %v after %d calls of renew, want ErrLeaseLost after 2", err, calls)
	}
	l.Release()
	l.Release()
	if released != 1 {
		t.Errorf("release called %d times, want once", released)
	}
	if l.TTL() != time.Minute {
		t.Errorf("TTL() = %v", l.TTL())
	}
}

func TestRenewAfterRelease(t *testing.T) {
	l := New("k", time.Minute, func(context.Context) (bool, error) { return true, nil }, func(context.Context) {})
	l.Release()
	if err := l.Renew(context.Background()); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew after Release: err = %v, want ErrLeaseLost", err)
	}
}

// lateCtx is a context whose deadline has passed but which has not said
// so yet, as a context is for an instant after its deadline.
type lateCtx struct{ context.Context }

func (lateCtx) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A driver that dials with the context's deadline fails with its own
// timeout error at the moment the context ends, before ctx.Err() may say
// so: Wait reports that as the context's deadline, as Locker promises.
func TestWaitReportsADriverTimeoutAsTheDeadline(t *testing.T) {
	dial := errors.New("dial tcp 127.0.0.1:5432: i/o timeout")
	err := Wait(lateCtx{context.Background()}, "k", func(context.Context) (bool, error) { return false, dial })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "i/o timeout") {
		t.Errorf("Wait: %v, want one wrapping context.DeadlineExceeded and naming the driver's error", err)
	}
}

// After a first try that found the lease held, poll pauses for at
// least the time given (a timer never fires early), and then polls again
// from first: the expected hold of the Transport sets the first pause.
func TestPollAfterPausesForTheExpectedHold(t *testing.T) {
	const after = 60 * time.Millisecond
	var tries []time.Time
	err := poll(context.Background(), schedule{after: after, wait: time.Millisecond, most: time.Millisecond}, func(context.Context) (bool, error) {
		tries = append(tries, time.Now())
		return len(tries) == 3, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tries) != 3 {
		t.Fatalf("%d tries, want 3", len(tries))
	}
	if gap := tries[1].Sub(tries[0]); gap < after {
		t.Errorf("the pause after the first try was %v, want at least the expected hold, %v", gap, after)
	}
}
