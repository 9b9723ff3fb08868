package oauthrt_test

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// goroutineID returns the calling goroutine's number, from its stack's
// first line ("goroutine 42 [running]:").
func goroutineID() string {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _, _ := bytes.Cut(b, []byte(" "))
	return string(id)
}

// goroutineStore records the goroutine each Load runs on.
type goroutineStore struct {
	*oauthrt.MemoryStore
	loads chan string
}

func (s goroutineStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	s.loads <- goroutineID()
	return s.MemoryStore.Load(ctx, key)
}

// A request whose context can never end reads the store on its own
// goroutine, sparing two goroutine handoffs per cold key; one whose
// context can end hands the read to a flight goroutine, so that it can
// leave the moment its context ends.
func TestFirstReadRunsOnTheRequestsGoroutineWhenItCannotLeave(t *testing.T) {
	api := newAPI(t, "at-1")
	mem := oauthrt.NewMemoryStore()
	mem.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-1", Expiry: time.Now().Add(time.Hour)})
	mem.Save(context.Background(), "k2", &oauth2.Token{AccessToken: "at-1", Expiry: time.Now().Add(time.Hour)})
	store := goroutineStore{MemoryStore: mem, loads: make(chan string, 4)}
	tr := &oauthrt.Transport{Base: api.Client().Transport, Store: store, Refresher: oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		t.Error("no refresh expected")
		return nil, errBoom
	})}
	defer tr.Close()

	send := func(ctx context.Context) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send(oauthrt.WithKey(context.Background(), "k"))
	if got, want := <-store.loads, goroutineID(); got != want {
		t.Errorf("a request that cannot leave: Load ran on goroutine %s, want the request's own, %s", got, want)
	}
	ctx, cancel := context.WithCancel(oauthrt.WithKey(context.Background(), "k2"))
	defer cancel()
	send(ctx)
	if got := <-store.loads; got == goroutineID() {
		t.Errorf("a request that can leave: Load ran on its own goroutine, %s; want a flight's", got)
	}
}

// The request that runs its flight goes on before OnRefresh is called, as
// the requests that joined the flight do: a slow metrics hook holds up no
// request.
func TestTheRequestRunningAFlightDoesNotWaitForOnRefresh(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	entered := make(chan oauthrt.RefreshEvent, 1)
	f.tr.OnRefresh = func(ev oauthrt.RefreshEvent) {
		entered <- ev
		<-release
	}
	f.clock.Advance(2 * time.Hour) // at-1 has expired
	done := make(chan int, 1)
	go func() {
		code, _ := f.get(t)
		done <- code
	}()
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Errorf("status %d", code)
		}
	case <-time.After(30 * time.Second): // a failure detector, not synchronization
		t.Fatal("the request waited for OnRefresh")
	}
	ev := <-entered
	close(release)
	if ev.Reason != oauthrt.ReasonExpired || ev.Outcome != oauthrt.OutcomeRefreshed {
		t.Errorf("event %+v, want an expired token refreshed", ev)
	}
}
