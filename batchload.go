package oauthrt

import (
	"context"
	"sync"

	"golang.org/x/oauth2"
)

// A BatchLoader is a [TokenStore] that reads the tokens of many keys in
// one round trip to its backend. When the store is one, and its
// BatchStore is itself, the [Transport] reads the keys it has no token
// for in batches whenever such reads pile up: a read that starts while
// fewer than two reads or batches are under way goes to the store at
// once, with Load, as it would otherwise; one that starts while two are
// waits for the first of them to end, together with every read that
// starts meanwhile, and they go as one LoadMany (of at most 128 keys). A
// process that starts on a store holding many grants, and is asked for
// thousands of them at once, so reads them in a fraction of a round trip
// each, and a lone read waits for nothing.
//
// A batch runs under a context of the Transport's own, bounded as every
// read of a flight is (by RefreshTimeout, and by Close), which carries
// none of the values of the requests it serves.
//
// As with [SnapshotLoader]'s OneTripStore, a store that wraps another by
// embedding it would gain its LoadMany, which goes around the wrapper's
// own Load; BatchStore says whose data LoadMany reads, and a wrapper
// that embeds a BatchLoader is read key by key through its own Load
// unless it declares BatchStore itself.
type BatchLoader interface {
	TokenStore
	// LoadMany returns the tokens stored under keys, in the order of
	// keys: toks[i] is what Load returns for keys[i], or nil when the
	// store holds no token under keys[i], or one that it cannot read (or
	// a key it does not take): the Transport reads such a key again with
	// Load, which says why. An error means that the keys could not be
	// read; the Transport then reads each with Load.
	LoadMany(ctx context.Context, keys []string) ([]*oauth2.Token, error)
	// BatchStore returns the store whose data LoadMany reads: the
	// receiver itself.
	BatchStore() TokenStore
}

// batchSlots is how many reads of a Transport's Store, alone or batched,
// may be under way before the next waits to go in a batch: enough that
// two keys read at once never wait for each other, few enough that a
// crowd of first requests reads in batches of about its size over this.
const batchSlots = 2

// maxBatch bounds the keys of one LoadMany: what one statement or
// pipeline carries comfortably. A crowd larger than batchSlots times
// this is read in several batches one after the other.
const maxBatch = 128

// loadBatcher is a Transport's batching of its Store's reads (see
// BatchLoader). Its zero value is ready to use.
type loadBatcher struct {
	mu      sync.Mutex
	running int          // reads and batches under way; at most batchSlots
	queue   []*loadBatch // waiting for a slot, oldest first; each of at most maxBatch keys
}

// A loadBatch is the keys that wait to be read together, and, once done
// is closed, what LoadMany returned for them.
type loadBatch struct {
	keys []string
	toks []*oauth2.Token // set before done is closed; nil when LoadMany failed
	done chan struct{}
}

// batchLoader returns t's Store as a BatchLoader that the Transport may
// batch its reads with, or nil.
func batchLoader(t *Transport) BatchLoader {
	bl, ok := t.Store.(BatchLoader)
	if !ok {
		return nil
	}
	own, err := guardValue("the Store's BatchStore", func() (TokenStore, error) { return bl.BatchStore(), nil })
	if err != nil || !sameStore(own, t.Store) {
		return nil
	}
	return bl
}

// load reads key from bl, alone at once when a slot is free, in a batch
// otherwise (see BatchLoader). ctx bounds the wait, and the read when
// it goes alone.
func (lb *loadBatcher) load(ctx context.Context, t *Transport, bl BatchLoader, key string) (*oauth2.Token, error) {
	lb.mu.Lock()
	if lb.running < batchSlots {
		lb.running++
		lb.mu.Unlock()
		defer lb.release(t, bl)
		return storeLoad(ctx, t, key)
	}
	var b *loadBatch
	if n := len(lb.queue); n > 0 && len(lb.queue[n-1].keys) < maxBatch {
		b = lb.queue[n-1]
	} else {
		b = &loadBatch{done: make(chan struct{})}
		lb.queue = append(lb.queue, b)
	}
	i := len(b.keys)
	b.keys = append(b.keys, key)
	lb.mu.Unlock()
	if batchQueued != nil {
		batchQueued(key)
	}

	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if b.toks != nil && b.toks[i] != nil {
		return b.toks[i], nil
	}
	// Not read, or not there: Load says why, as it would have alone.
	return storeLoad(ctx, t, key)
}

// release ends a read or a batch: the oldest batch waiting, if any, takes
// its slot, and is read on a goroutine of its own, which then goes on
// with the batches waiting after it.
func (lb *loadBatcher) release(t *Transport, bl BatchLoader) {
	b := lb.next()
	if b == nil {
		return
	}
	lc := t.lifecycle()
	lc.flights.add()
	go func() {
		defer lc.flights.done()
		for ; b != nil; b = lb.next() {
			lb.run(t, bl, b)
		}
	}()
}

// next takes the oldest batch waiting, which keeps the slot of the read
// or batch that just ended, or, when none waits, frees that slot.
func (lb *loadBatcher) next() *loadBatch {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if len(lb.queue) == 0 {
		lb.running--
		return nil
	}
	b := lb.queue[0]
	lb.queue[0] = nil
	lb.queue = lb.queue[1:]
	if len(lb.queue) == 0 {
		lb.queue = nil // let the array go
	}
	return b
}

// run reads batch b with one LoadMany, and hands the tokens to the reads
// that wait for them.
func (lb *loadBatcher) run(t *Transport, bl BatchLoader, b *loadBatch) {
	defer close(b.done)
	ctx := t.lifecycle().waitFor(context.Background())
	toks, err := guardValue("the Store's LoadMany", func() ([]*oauth2.Token, error) { return bl.LoadMany(ctx, b.keys) })
	if err == nil && len(toks) == len(b.keys) {
		b.toks = toks
	}
}

// batchQueued, when set by a test, is called with each key that waits to
// be read in a batch.
var batchQueued func(key string)

// storeLoad reads key with the Store's Load.
func storeLoad(ctx context.Context, t *Transport, key string) (*oauth2.Token, error) {
	return guardValue("the Store's Load", func() (*oauth2.Token, error) { return t.Store.Load(ctx, key) })
}
