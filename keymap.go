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
// while reads one read-only map, published whole through an atomic
// pointer, and takes no lock: the keys are spread over shardCount shards,
// each with such a read-only map, and with a small Go map under a mutex
// for the keys added since the read-only map was built. A shard merges the
// two into a new read-only map once the work spent on its recent keys
// (lookups that had to take the mutex, and the keys themselves) reaches
// a quarter of its read-only map's size, so each key costs a bounded
// number of copies on average, and a newly added key is read under the
// mutex only until then.
//
// A read-only map holds no pointer at all. It is a table of 64-bit
// entries, found by linear probing from the key's hash: each holds the
// hash's upper 32 bits and the key's slot, its place in the shard's
// chunks of states, which hold the states in the order they were added.
// The garbage collector marks every state, and what it points to, on
// every cycle; reached through a Go map's entries, in the map's random
// order, each was a cache miss, and at a million keys that marking took
// more time from requests than the lookups did. Reached through the
// chunks, the states come in the order they were allocated, and the
// tables, without pointers, are not scanned at all. A lookup compares the
// key of each state whose entry matches the hash with its own, so keys
// whose hashes agree on those 32 bits (about one pair in 2^32) cost a
// lookup one more state to look at, never the wrong state. The table is
// at most three quarters full and its entries are 8 bytes, so a lookup
// mostly reads one cache line of it, where a Go map read one or two.
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
	recent map[string]uint64 // keys added since read was built, to their table entries; under mu
	work   int               // lookups that found their key in recent since; under mu

	// chunks holds the shard's states by slot, and used is how many
	// slots are handed out: the states of read and recent, and no other.
	// Under mu; a read-only map carries the chunks its slots index.
	chunks []*stateChunk
	used   int32
}

// keyReadMap is a shard's read-only map. Neither its table nor the
// entries of chunks that the table's slots index are written once the
// keyReadMap is published. recent says whether the shard held keys that
// it lacks when it was published.
type keyReadMap struct {
	// table holds an entry for each key: the upper 32 bits of its hash,
	// and its slot plus one; 0 is empty. Its length is a power of two,
	// 8 or more, and at least a quarter of it is empty. A key's probe
	// starts at its hash's top bits (shift is 64 less their number).
	table  []uint64
	shift  uint8
	n      int // how many entries table holds
	chunks []*stateChunk
	recent bool
}

// newKeyReadMap returns a keyReadMap with room for n keys, with chunks.
// Its table has 2^32 entries at most, for the 2^31 slots a shard can
// hand out: the probe's start is then within the 32 bits an entry keeps.
func newKeyReadMap(n int, chunks []*stateChunk) *keyReadMap {
	bits := uint8(3)
	for 1<<bits < n+n/3+1 {
		bits++
	}
	return &keyReadMap{table: make([]uint64, 1<<bits), shift: 64 - bits, chunks: chunks}
}

// size returns how many keys r holds; 0 for nil.
func (r *keyReadMap) size() int {
	if r == nil {
		return 0
	}
	return r.n
}

// put adds the entry e (a hash's upper 32 bits and a slot plus one) to
// r while it is built.
func (r *keyReadMap) put(e uint64) {
	mask := uint64(len(r.table) - 1)
	j := e >> r.shift
	for r.table[j] != 0 {
		j = (j + 1) & mask
	}
	r.table[j] = e
	r.n++
}

// entry returns the table entry of a key whose hash is h, at slot i.
func entry(h uint64, i int32) uint64 {
	return h>>32<<32 | (uint64(i) + 1)
}

// slot returns the slot of the table entry e.
func slot(e uint64) int32 {
	return int32(uint32(e)) - 1
}

// find returns the state of key, whose hash is h, or nil.
func (r *keyReadMap) find(key string, h uint64) *keyState {
	mask := uint64(len(r.table) - 1)
	top := h >> 32
	for j := h >> r.shift; ; j = (j + 1) & mask {
		e := r.table[j&mask]
		if e == 0 {
			return nil
		}
		if e>>32 == top {
			if s := state(r.chunks, slot(e)); s.key == key {
				return s
			}
		}
	}
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
	e, ok := sh.recent[key]
	if !ok {
		return nil
	}
	sh.work++
	s := state(sh.chunks, slot(e))
	sh.mergeIfDueLocked()
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
	if e, ok := sh.recent[key]; ok {
		return state(sh.chunks, slot(e)), true
	}
	if sh.recent == nil {
		sh.recent = make(map[string]uint64)
		if r != nil && !r.recent {
			sh.read.Store(&keyReadMap{table: r.table, shift: r.shift, n: r.n, chunks: r.chunks, recent: true})
		}
	}
	sh.recent[key] = entry(h, sh.addLocked(ns))
	sh.work++
	sh.mergeIfDueLocked()
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
func (sh *keyShard) mergeIfDueLocked() {
	r := sh.read.Load()
	if sh.work*4 < r.size() {
		return
	}
	nr := newKeyReadMap(r.size()+len(sh.recent), sh.chunks)
	if r != nil {
		for _, e := range r.table {
			if e != 0 {
				nr.put(e)
			}
		}
	}
	for _, e := range sh.recent {
		nr.put(e)
	}
	sh.read.Store(nr)
	sh.recent, sh.work = nil, 0
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
	r := newKeyReadMap(int(sh.used), sh.chunks)
	for i := range sh.used {
		r.put(entry(shards.hash(state(sh.chunks, i).key), i))
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
