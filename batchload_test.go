package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// batchStore is a MemoryStore that is an oauthrt.BatchLoader. Its Loads
// report that they started on entered, when set, and wait for gate, when
// set; its LoadMany records the keys of each call, and fails or panics as
// told.
type batchStore struct {
	*oauthrt.MemoryStore
	entered chan string
	gate    chan struct{}

	loads    atomic.Int64
	mu       sync.Mutex
	batches  [][]string
	failMany error
	panics   bool
	short    bool // LoadMany answers one token fewer than it was asked for
}

var _ oauthrt.BatchLoader = (*batchStore)(nil)

func (s *batchStore) OneTripStore() oauthrt.TokenStore { return s }
func (s *batchStore) BatchStore() oauthrt.TokenStore   { return s }

func (s *batchStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	s.loads.Add(1)
	if s.entered != nil {
		s.entered <- key
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *batchStore) LoadMany(ctx context.Context, keys []string) ([]*oauth2.Token, error) {
	s.mu.Lock()
	s.batches = append(s.batches, slices.Clone(keys))
	err, panics, short := s.failMany, s.panics, s.short
	s.mu.Unlock()
	if panics {
		panic("at-secret-in-a-panic")
	}
	if err != nil {
		return nil, err
	}
	toks := make([]*oauth2.Token, len(keys))
	for i, k := range keys {
		toks[i], _ = s.MemoryStore.Load(ctx, k)
	}
	if short {
		return toks[:len(toks)-1], nil
	}
	return toks, nil
}

func (s *batchStore) batched() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// newBatchStore returns a batchStore holding a token for each of keys
// but those in missing.
func newBatchStore(t *testing.T, n int, missing ...string) (*batchStore, []string) {
	s := &batchStore{MemoryStore: &oauthrt.MemoryStore{}}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%d", i)
		if slices.Contains(missing, keys[i]) {
			continue
		}
		if err := s.MemoryStore.Save(context.Background(), keys[i], &oauth2.Token{AccessToken: "at-" + keys[i], Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	return s, keys
}

// crowd sends the first request of every key through a Transport on
// store, as a crowd: the first alone go to the store at once and are held
// there, the others wait to be batched, then all go on. It returns each
// request's error, in the order of keys; a request that succeeded was
// sent with its own key's token.
func crowd(t *testing.T, store oauthrt.TokenStore, s *batchStore, keys []string, alone int) []error {
	t.Helper()
	queued := make(chan string, len(keys))
	oauthrt.OnBatchQueued(t, func(key string) { queued <- key })
	s.entered = make(chan string, len(keys))
	s.gate = make(chan struct{})
	tr := batchTransport(store)
	t.Cleanup(func() { tr.Close() })
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	send := func(i int) {
		wg.Go(func() {
			errs[i] = firstRequest(tr, keys[i])
		})
	}
	for i := range alone {
		send(i)
	}
	for range alone {
		<-s.entered
	}
	for i := alone; i < len(keys); i++ {
		send(i)
	}
	for range len(keys) - alone {
		<-queued
	}
	s.entered = nil // the reads that follow are not waited for
	close(s.gate)
	wg.Wait()
	return errs
}

// A crowd of first requests: the first reads go alone, the others wait
// for a slot and go as one LoadMany, and every request is sent with its
// own key's token.
func TestBatchLoadCrowd(t *testing.T) {
	s, keys := newBatchStore(t, 40)
	for i, err := range crowd(t, s, s, keys, oauthrt.BatchSlots) {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if n := s.loads.Load(); n != oauthrt.BatchSlots {
		t.Errorf("%d Loads, want %d: the reads that found a free slot", n, oauthrt.BatchSlots)
	}
	b := s.batched()
	if len(b) != 1 {
		t.Fatalf("%d LoadMany calls (%v), want 1 for the keys that waited", len(b), b)
	}
	got := slices.Sorted(slices.Values(b[0]))
	want := slices.Sorted(slices.Values(keys[oauthrt.BatchSlots:]))
	if !slices.Equal(got, want) {
		t.Errorf("LoadMany read %q, want %q", got, want)
	}
}

// More keys wait than one batch holds: they go in batches of at most 128,
// one after the other.
func TestBatchLoadLargeCrowd(t *testing.T) {
	s, keys := newBatchStore(t, oauthrt.BatchSlots+300)
	for i, err := range crowd(t, s, s, keys, oauthrt.BatchSlots) {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	var read []string
	for _, b := range s.batched() {
		if len(b) > 128 {
			t.Errorf("a LoadMany of %d keys, want at most 128", len(b))
		}
		read = append(read, b...)
	}
	if got, want := slices.Sorted(slices.Values(read)), slices.Sorted(slices.Values(keys[oauthrt.BatchSlots:])); !slices.Equal(got, want) {
		t.Errorf("LoadMany read %d keys, want the %d that waited, each once", len(got), len(want))
	}
	if n := len(s.batched()); n != 3 {
		t.Errorf("%d LoadMany calls, want 3 for 300 keys", n)
	}
}

// A key the batch does not find is read again with Load, whose error
// the request gets; a batch that fails, or panics, leaves every key to its
// own Load, and so does one that answers for fewer keys than it was
// asked.
func TestBatchLoadFallsBack(t *testing.T) {
	t.Run("missing key", func(t *testing.T) {
		s, keys := newBatchStore(t, 10, "tenant-7")
		errs := crowd(t, s, s, keys, oauthrt.BatchSlots)
		for i, err := range errs {
			if i == 7 {
				if !errors.Is(err, oauthrt.ErrNoToken) {
					t.Errorf("the request of the missing key: %v, want ErrNoToken", err)
				}
			} else if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
		if n := s.loads.Load(); n != oauthrt.BatchSlots+1 {
			t.Errorf("%d Loads, want %d: those alone, and the missing key again", n, oauthrt.BatchSlots+1)
		}
	})
	for _, tc := range []struct {
		name  string
		set   func(*batchStore)
		after string
	}{
		{"error", func(s *batchStore) { s.failMany = errors.New("the batch failed") }, ""},
		{"panic", func(s *batchStore) { s.panics = true }, ""},
		{"short answer", func(s *batchStore) { s.short = true }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, keys := newBatchStore(t, 10)
			tc.set(s)
			for i, err := range crowd(t, s, s, keys, oauthrt.BatchSlots) {
				if err != nil {
					t.Errorf("request %d: %v", i, err)
				}
			}
			if n := s.loads.Load(); n != 10 {
				t.Errorf("%d Loads, want 10: every key once, alone or after the batch", n)
			}
			if n := len(s.batched()); n != 1 {
				t.Errorf("%d LoadMany calls, want 1", n)
			}
		})
	}
}

// A store that embeds a BatchLoader, without saying that LoadMany reads
// it (its BatchStore), is read key by key through its own Load, even
// when it declares its one-trip methods its own.
func TestBatchLoadNotThroughWrapper(t *testing.T) {
	s, keys := newBatchStore(t, 10)
	w := &wrappedBatch{batchStore: s}
	queued := make(chan string, len(keys))
	oauthrt.OnBatchQueued(t, func(key string) { queued <- key })
	tr := batchTransport(w)
	defer tr.Close()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			if err := firstRequest(tr, k); err != nil {
				t.Errorf("key %s: %v", k, err)
			}
		})
	}
	wg.Wait()
	if n := w.loads.Load(); n != 10 {
		t.Errorf("%d Loads through the wrapper, want 10", n)
	}
	if b := s.batched(); len(b) != 0 || len(queued) != 0 {
		t.Errorf("%d LoadMany calls and %d keys queued around the wrapper, want none", len(b), len(queued))
	}
}

type wrappedBatch struct {
	*batchStore
	loads atomic.Int64
}

func (w *wrappedBatch) OneTripStore() oauthrt.TokenStore { return w }

func (w *wrappedBatch) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	w.loads.Add(1)
	return w.batchStore.Load(ctx, key)
}

// Close while reads are held in the store and others wait for a batch:
// Close returns, and so does every request, with its token or an error.
func TestBatchLoadClose(t *testing.T) {
	s, keys := newBatchStore(t, 12)
	queued := make(chan string, len(keys))
	oauthrt.OnBatchQueued(t, func(key string) { queued <- key })
	s.entered = make(chan string, len(keys))
	s.gate = make(chan struct{}) // never opened: the reads alone end with Close
	tr := batchTransport(s)
	var wg sync.WaitGroup
	send := func(k string) {
		wg.Go(func() {
			firstRequest(tr, k) // a token or an error: either will do
		})
	}
	for _, k := range keys[:oauthrt.BatchSlots] {
		send(k)
	}
	for range oauthrt.BatchSlots {
		<-s.entered
	}
	for _, k := range keys[oauthrt.BatchSlots:] {
		send(k)
	}
	for range len(keys) - oauthrt.BatchSlots {
		<-queued
	}
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
}

// batchTransport returns a Transport on store whose Base checks that
// each request, sent to https://api.example/KEY, carries KEY's token
// ("at-KEY"); it refreshes nothing.
func batchTransport(store oauthrt.TokenStore) *oauthrt.Transport {
	return &oauthrt.Transport{
		Store: store,
		Refresher: oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			return nil, errors.New("no refresh expected")
		}),
		Base: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			key := r.URL.Path[1:]
			if got, want := r.Header.Get("Authorization"), "Bearer at-"+key; got != want {
				return nil, fmt.Errorf("key %s sent with %q, want %q", key, got, want)
			}
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		}),
	}
}

// firstRequest sends a request for key through tr.
func firstRequest(tr *oauthrt.Transport, key string) error {
	req, err := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), key), "GET", "https://api.example/"+key, nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}
