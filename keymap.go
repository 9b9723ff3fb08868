package oauthrt

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// keyMap holds a Transport's keyStates by key. Its zero value is empty
// and ready to use.
//
// It is built for what a Transport does with its keys: every request
// looks its key up, keys are added far less often, and removed only in
// batches, by the idle sweep. A lookup of a key that has been there a
// while reads one plain Go map, published whole through an atomic
// pointer, and takes no lock: the keys are spread over shardCount shards,
// each with such a read-only map, and with a small map under a mutex for
// the keys added since the read-only map was built. A shard merges the
// two into a new read-only map once the work spent on its recent keys
// (lookups that had to take the mutex, and the keys themselves) reaches
// a quarter of its read-only map's size, so each key costs a bounded
// number of copies on average, and a newly added key is read under the
// mutex only until then.
//
// A read-only map holds no pointer at all: it maps the key's 64-bit hash
// to the key's slot, its place in the shard's chunks of states, which
// hold the states in the order they were added. The garbage collector
// marks every state, and what it points to, on every cycle; reached
// through a map's entries, in the map's random order, each was a cache
// miss, and at a million keys that marking took more time from requests
// than the lookups did. Reached through the chunks, the states come in
// the order they were allocated, and the map, without pointers, is not
// scanned at all. A lookup compares the key of the state it finds with
// its own: two keys of a shard whose hashes are equal share one entry of
// the map, and every key after the first is kept in a second map, by the
// key itself. The hash is seeded afresh for every keyMap, so keys clash
// only by chance: among n keys, about n²/2^65 clashes are expected, one
// in tens of millions of Transports of a million keys.
//
// A slot is never handed out twice within one set of chunks: a sweep
// that drops states copies the rest into a new set, so that a lookup
// still reading an older map finds, through that map's own chunks, the
// very state its key had (which the sweep marked dropped, when it was).
type keyMap struct {
	shards atomic.Pointer[keyShards] // nil until the first key is added
}

// shardCount is how many shards a keyMap spreads its keys over: enough
// that merging one shard stays short at a million keys, few enough that
// a Transport with one key carries little.
const shardCount = 64

// stateChunkLen is how many states a chunk holds: 768 bytes of pointers.
// Chunks of 512 bytes or less Go 1.26's collector queues by span, and marks
// their states in some other order than theirs: a million keys' states
// marked in 0.52 to 0.75 s a cycle in chunks of 64, against 0.30 to 0.46
// in chunks of 96 or 256. The smaller the chunk, the less its shard's
// last chunk, part empty, costs: with 256, a Transport of ten thousand
// keys paid 5 bytes a key more than with 96.
const stateChunkLen = 96

// stateChunk is a run of a shard's states, by slot. An entry is written
// once, under the shard's lock, before any read-only map holding its
// slot is published, and never again.
type stateChunk [stateChunkLen]*keyState

type keyShards struct {
	seed maphash.Seed
	// mask is what a key's hash keeps of maphash's: all of it, but in
	// tests, which make hashes clash by keeping a few bits.
	mask uint64
	s    [shardCount]keyShard
}

func newKeyShards() *keyShards {
	return &keyShards{seed: maphash.MakeSeed(), mask: ^uint64(0)}
}

// hash returns key's hash.
func (sh *keyShards) hash(key string) uint64 {
	return maphash.String(sh.seed, key) & sh.mask
}

type keyShard struct {
	read atomic.Pointer[keyReadMap] // nil: no key was merged yet

	mu     sync.Mutex
	recent map[string]int32 // keys added since read was built, to their slots; under mu
	work   int              // lookups that found their key in recent since; under mu

	// chunks holds the shard's states by slot, and used is how many
	// slots are handed out: the states of read and recent, and no other.
	// Under mu; a read-only map carries the chunks its slots index.
	chunks []*stateChunk
	used   int32
}

// keyReadMap is a shard's read-only map. Neither its maps nor the
// entries of chunks that their slots index are written once the
// keyReadMap is published. recent says whether the shard held keys that
// it lacks when it was published.
type keyReadMap struct {
	m      map[uint64]int32 // the key's hash to its slot
	clash  map[string]int32 // keys whose hash an earlier key holds in m, to their slots; nil: none
	chunks []*stateChunk
	recent bool
}

// find returns the state of key, whose hash is h, or nil.
func (r *keyReadMap) find(key string, h uint64) *keyState {
	i, ok := r.m[h]
	if !ok {
		return nil
	}
	if s := state(r.chunks, i); s.key == key {
		return s
	}
	if i, ok := r.clash[key]; ok {
		return state(r.chunks, i)
	}
	return nil
}

// state returns the state at slot i of chunks.
func state(chunks []*stateChunk, i int32) *keyState {
	u := uint32(i) // slots are never negative: unsigned division is cheaper
	return chunks[u/stateChunkLen][u%stateChunkLen]
}

// shard returns key's shard and hash; nil before any key was added.
func (m *keyMap) shard(key string) (*keyShard, uint64) {
	sh := m.shards.Load()
	if sh == nil {
		return nil, 0
	}
	h := sh.hash(key)
	return &sh.s[h%shardCount], h
}

// Load returns key's state, or nil.
func (m *keyMap) Load(key string) *keyState {
	sh, h := m.shard(key)
	if sh == nil {
		return nil
	}
	r := sh.read.Load()
	if r != nil {
		if s := r.find(key, h); s != nil {
			return s
		}
		if !r.recent {
			return nil
		}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r2 := sh.read.Load(); r2 != r {
		// Merged since: the key may have moved from recent into it.
		if s := r2.find(key, h); s != nil {
			return s
		}
	}
	i, ok := sh.recent[key]
	if !ok {
		return nil
	}
	sh.work++
	s := state(sh.chunks, i)
	sh.mergeIfDueLocked(m.shards.Load())
	return s
}

// LoadOrStore returns key's state, or stores and returns ns when it has
// none; loaded says which. ns.key must be key.
func (m *keyMap) LoadOrStore(key string, ns *keyState) (s *keyState, loaded bool) {
	if s := m.Load(key); s != nil {
		return s, true
	}
	return m.LoadOrStoreLocked(key, ns)
}

// LoadOrStoreLocked is LoadOrStore without its lookup that takes no
// lock: it looks the key up under its shard's lock, which DropIf holds
// from the moment it decides to drop a state until the state is gone
// from the shard, so it never returns a state DropIf dropped. ns.key
// must be key.
func (m *keyMap) LoadOrStoreLocked(key string, ns *keyState) (s *keyState, loaded bool) {
	shards := m.shards.Load()
	if shards == nil {
		shards = newKeyShards()
		if !m.shards.CompareAndSwap(nil, shards) {
			shards = m.shards.Load()
		}
	}
	h := shards.hash(key)
	sh := &shards.s[h%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.read.Load()
	if r != nil {
		if s := r.find(key, h); s != nil {
			return s, true
		}
	}
	if i, ok := sh.recent[key]; ok {
		return state(sh.chunks, i), true
	}
	if sh.recent == nil {
		sh.recent = make(map[string]int32)
		if r != nil && !r.recent {
			sh.read.Store(&keyReadMap{m: r.m, clash: r.clash, chunks: r.chunks, recent: true})
		}
	}
	sh.recent[key] = sh.addLocked(ns)
	sh.work++
	sh.mergeIfDueLocked(shards)
	return ns, false
}

// addLocked puts s in the shard's next free slot, and returns the slot.
// sh.mu must be held.
func (sh *keyShard) addLocked(s *keyState) int32 {
	i := sh.used
	if int(i)/stateChunkLen == len(sh.chunks) {
		// append may write past the length of a slice a read-only map
		// holds, never within it.
		sh.chunks = append(sh.chunks, new(stateChunk))
	}
	sh.chunks[i/stateChunkLen][i%stateChunkLen] = s
	sh.used++
	return i
}

// mergeIfDueLocked merges the shard's recent keys into a new read-only
// map once the work spent on them reaches a quarter of the read-only
// map's size. sh.mu must be held.
func (sh *keyShard) mergeIfDueLocked(shards *keyShards) {
	r := sh.read.Load()
	n := 0
	if r != nil {
		n = len(r.m) + len(r.clash)
	}
	if sh.work*4 < n {
		return
	}
	nr := &keyReadMap{m: make(map[uint64]int32, n+len(sh.recent)), chunks: sh.chunks}
	if r != nil {
		for h, i := range r.m {
			nr.m[h] = i
		}
		for k, i := range r.clash {
			nr.add(k, shards.hash(k), i)
		}
	}
	for k, i := range sh.recent {
		nr.add(k, shards.hash(k), i)
	}
	sh.read.Store(nr)
	sh.recent, sh.work = nil, 0
}

// add maps key, whose hash is h, to slot i, in r while it is built.
func (r *keyReadMap) add(key string, h uint64, i int32) {
	if _, taken := r.m[h]; !taken {
		r.m[h] = i
		return
	}
	if r.clash == nil {
		r.clash = make(map[string]int32)
	}
	r.clash[key] = i
}

// DropIf removes the states drop reports true for, and returns how many
// it removed. drop runs under the lock of the state's shard, which
// LoadOrStore takes too: a state it drops is found by no lookup that
// starts after it returned true.
func (m *keyMap) DropIf(drop func(*keyState) bool) int {
	shards := m.shards.Load()
	if shards == nil {
		return 0
	}
	dropped := 0
	for i := range shards.s {
		sh := &shards.s[i]
		sh.mu.Lock()
		dropped += sh.dropIfLocked(shards, drop)
		sh.mu.Unlock()
	}
	return dropped
}

// dropIfLocked is DropIf on one shard. A shard with nothing to drop
// keeps its maps and chunks: most sweeps drop nothing from most shards.
// One with states to drop gets new chunks, holding the states it keeps
// in the order they were, and a read-only map of all its keys: the old
// chunks stay as they were, for lookups still reading an older map.
// sh.mu must be held.
func (sh *keyShard) dropIfLocked(shards *keyShards, drop func(*keyState) bool) int {
	old, used := sh.chunks, sh.used
	first := used
	for i := range used {
		if drop(state(old, i)) {
			first = i
			break
		}
	}
	if first == used {
		return 0
	}
	// drop is asked once a state: those before first stay, first goes.
	sh.chunks, sh.used = nil, 0
	for i := range first {
		sh.addLocked(state(old, i))
	}
	dropped := 1
	for i := first + 1; i < used; i++ {
		if s := state(old, i); drop(s) {
			dropped++
		} else {
			sh.addLocked(s)
		}
	}
	// Sized for what it keeps: a sweep may leave it nearly empty.
	r := &keyReadMap{m: make(map[uint64]int32, sh.used), chunks: sh.chunks}
	for i := range sh.used {
		k := state(sh.chunks, i).key
		r.add(k, shards.hash(k), i)
	}
	sh.read.Store(r)
	sh.recent, sh.work = nil, 0
	return dropped
}

// Range calls f for every state, until f returns false. f runs without
// any lock of the map held; a state added or dropped meanwhile may or may
// not be seen.
func (m *keyMap) Range(f func(*keyState) bool) {
	shards := m.shards.Load()
	if shards == nil {
		return
	}
	for i := range shards.s {
		sh := &shards.s[i]
		sh.mu.Lock()
		chunks, used := sh.chunks, sh.used
		sh.mu.Unlock()
		// The entries below used are written, and never written again.
		for j := range used {
			if !f(state(chunks, j)) {
				return
			}
		}
	}
}
