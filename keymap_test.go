package oauthrt

import (
	"fmt"
	"sync"
	"testing"
)

// Every key gets one state, whichever of many goroutines adds it first,
// and every lookup after that finds the same one, before and after the
// shards merge their recent keys; DropIf removes exactly what it is told
// to, and Range sees every state once.
func TestKeyMap(t *testing.T) {
	const keys, goroutines = 5000, 8
	if new(keyMap).Load("k") != nil {
		t.Fatal("the zero keyMap found a key")
	}
	forKeyMaps(t, func(t *testing.T, m *keyMap) {
		got := make([][]*keyState, goroutines)
		var wg sync.WaitGroup
		for g := range goroutines {
			got[g] = make([]*keyState, keys)
			wg.Go(func() {
				for i := range keys {
					k := fmt.Sprintf("key-%d", (i*7+g)%keys)
					s, _ := m.LoadOrStore(k, &keyState{key: k})
					if again := m.Load(k); again != s {
						t.Errorf("%s: Load found another state than LoadOrStore returned", k)
					}
					got[g][(i*7+g)%keys] = s
				}
			})
		}
		wg.Wait()
		for i := range keys {
			for g := 1; g < goroutines; g++ {
				if got[g][i] != got[0][i] {
					t.Fatalf("key-%d has two states", i)
				}
			}
			if s := m.Load(fmt.Sprintf("key-%d", i)); s != got[0][i] {
				t.Fatalf("key-%d: Load after the adds found another state", i)
			}
		}

		seen := map[*keyState]int{}
		m.Range(func(s *keyState) bool { seen[s]++; return true })
		if len(seen) != keys {
			t.Errorf("Range saw %d states, want %d", len(seen), keys)
		}
		for s, n := range seen {
			if n != 1 {
				t.Errorf("Range saw %s %d times", s.key, n)
			}
		}

		even := func(s *keyState) bool {
			var i int
			fmt.Sscanf(s.key, "key-%d", &i)
			return i%2 == 0
		}
		if n := m.DropIf(even); n != keys/2 {
			t.Errorf("DropIf dropped %d, want %d", n, keys/2)
		}
		for i := range keys {
			k := fmt.Sprintf("key-%d", i)
			s := m.Load(k)
			if i%2 == 0 && s != nil {
				t.Fatalf("%s: found after it was dropped", k)
			}
			if i%2 == 1 && s != got[0][i] {
				t.Fatalf("%s: lost by a DropIf that did not drop it", k)
			}
		}
		s, loaded := m.LoadOrStore("key-0", &keyState{key: "key-0"})
		if loaded || s == got[0][0] {
			t.Error("a dropped key came back with its old state")
		}
		if n := m.DropIf(func(*keyState) bool { return true }); n != keys/2+1 {
			t.Errorf("DropIf of everything dropped %d, want %d", n, keys/2+1)
		}
		n := 0
		m.Range(func(*keyState) bool { n++; return true })
		if n != 0 {
			t.Errorf("Range saw %d states after every one was dropped", n)
		}
		for i := range m.shards.Load().s {
			if sh := &m.shards.Load().s[i]; sh.used != 0 || sh.chunks != nil {
				t.Fatalf("shard %d keeps %d slots in %d chunks after every key was dropped", i, sh.used, len(sh.chunks))
			}
		}
	})
}

// A key map reaches its states through its chunks alone, which hold each
// shard's states in the order they were added, so that the garbage
// collector reaches them in the order they were allocated; its read-only
// maps, from hashes to slots, hold no pointer.
func TestKeyMapKeepsStatesInChunks(t *testing.T) {
	const keys = 3000
	var m keyMap
	added := make([]*keyState, keys)
	for i := range keys {
		k := fmt.Sprintf("key-%d", i)
		added[i], _ = m.LoadOrStore(k, &keyState{key: k})
	}
	for i := range keys {
		m.Load(fmt.Sprintf("key-%d", i)) // merges every shard's recent keys
	}
	merged := 0
	for i := range m.shards.Load().s {
		sh := &m.shards.Load().s[i]
		r := sh.read.Load()
		if r == nil {
			continue
		}
		merged += len(entries(r))
		// Each shard's chunks hold its states in the order they were added.
		var last *keyState
		for j := range sh.used {
			s := state(sh.chunks, j)
			if last != nil && indexOf(added, s) < indexOf(added, last) {
				t.Fatalf("shard %d: %s sits after %s, added later", i, last.key, s.key)
			}
			last = s
		}
	}
	if merged < keys/2 {
		t.Fatalf("only %d of %d keys reached the read-only maps", merged, keys)
	}
}

func indexOf(states []*keyState, s *keyState) int {
	for i, x := range states {
		if x == s {
			return i
		}
	}
	return -1
}

// A lookup that still reads a read-only map published before a sweep
// finds, through that map's own chunks, the very state its key had then,
// however many keys were dropped and added since: a slot is never handed
// to another key within the chunks that a map indexes.
func TestKeyMapOlderReadMapsKeepTheirStates(t *testing.T) {
	forKeyMaps(t, func(t *testing.T, m *keyMap) {
		const keys = 4000
		had := map[string]*keyState{}
		for i := range keys {
			k := fmt.Sprintf("key-%d", i)
			had[k], _ = m.LoadOrStore(k, &keyState{key: k})
		}
		for i := range keys {
			m.Load(fmt.Sprintf("key-%d", i))
		}
		shards := m.shards.Load()
		var older []*keyReadMap
		for i := range shards.s {
			if r := shards.s[i].read.Load(); r != nil {
				older = append(older, r)
			}
		}
		// Drop two keys in three, then add as many new keys, twice over:
		// a design that reused the freed slots would hand them to the new
		// keys.
		for round := range 2 {
			m.DropIf(func(s *keyState) bool {
				var i int
				fmt.Sscanf(s.key, "key-%d", &i)
				return i%3 != 0
			})
			for i := range keys {
				k := fmt.Sprintf("new-%d-%d", round, i)
				m.LoadOrStore(k, &keyState{key: k})
			}
		}
		checked := 0
		for _, r := range older {
			for _, e := range entries(r) {
				i := slot(e)
				s := state(r.chunks, i)
				if s == nil || had[s.key] != s || shards.hash(s.key)>>32 != e>>32 {
					t.Fatalf("an older read-only map finds another state at slot %d", i)
				}
				if r.find(s.key, shards.hash(s.key)) != s {
					t.Fatalf("an older read-only map does not find %s", s.key)
				}
				checked++
			}
		}
		if checked < keys/2 {
			t.Fatalf("checked %d keys of the older maps, want most of %d", checked, keys)
		}
		for i := range keys {
			k := fmt.Sprintf("key-%d", i)
			if s := m.Load(k); (s != nil) != (i%3 == 0) || (s != nil && s != had[k]) {
				t.Fatalf("%s: after the sweeps, Load found a state: %t", k, s != nil)
			}
		}
	})
}

// clashingMask keeps of a hash the bits that pick the shard, and 4 of
// the 32 its table keeps, so that keys clash by the hundred, as two keys
// of a million almost never do.
const clashingMask = 0xF000_0000_0000_0000 | (shardCount - 1)

// entries returns the entries of r's table, empty ones left out.
func entries(r *keyReadMap) []uint64 {
	var es []uint64
	for _, e := range r.table {
		if e != 0 {
			es = append(es, e)
		}
	}
	return es
}

// forKeyMaps runs f on a keyMap as a Transport makes it, and on one whose
// hashes clash (clashingMask).
func forKeyMaps(t *testing.T, f func(*testing.T, *keyMap)) {
	t.Run("hash=full", func(t *testing.T) { f(t, new(keyMap)) })
	t.Run("hash=clashing", func(t *testing.T) {
		m := new(keyMap)
		shards := newKeyShards()
		shards.mask = clashingMask
		m.shards.Store(shards)
		f(t, m)
	})
}

// Keys of a shard whose hashes are equal each find their own state,
// whichever was added first, before and after merges and sweeps.
func TestKeyMapClashingHashes(t *testing.T) {
	const keys = 5000
	m := new(keyMap)
	shards := newKeyShards()
	shards.mask = clashingMask
	m.shards.Store(shards)
	// clashes counts the keys whose entry's hash bits another key of
	// their table has too.
	clashes := func() int {
		n := 0
		for i := range shards.s {
			if r := shards.s[i].read.Load(); r != nil {
				tops := map[uint64]bool{}
				for _, e := range entries(r) {
					if tops[e>>32] {
						n++
					}
					tops[e>>32] = true
				}
			}
		}
		return n
	}
	had := map[string]*keyState{}
	for i := range keys {
		k := fmt.Sprintf("key-%d", i)
		had[k], _ = m.LoadOrStore(k, &keyState{key: k})
	}
	check := func(when string, kept func(i int) bool) {
		t.Helper()
		for i := range keys {
			k := fmt.Sprintf("key-%d", i)
			s := m.Load(k)
			if kept(i) && s != had[k] || !kept(i) && s != nil {
				t.Fatalf("%s: %s found the wrong state (a state: %t)", when, k, s != nil)
			}
		}
	}
	// Every table keeps a quarter of its entries empty, so that a probe
	// for a key it lacks ends.
	roomy := func(when string) {
		t.Helper()
		for i := range shards.s {
			if r := shards.s[i].read.Load(); r != nil && (len(r.table) < 8 || len(entries(r))*4 > len(r.table)*3) {
				t.Fatalf("%s: shard %d holds %d keys in a table of %d", when, i, len(entries(r)), len(r.table))
			}
		}
	}
	check("after the adds", func(int) bool { return true })
	roomy("after the adds")
	// 16 hashes a shard, 1,024 in all, for 5,000 keys.
	if n := clashes(); n < 500 {
		t.Fatalf("%d keys clash in the read-only maps, want 500 or more", n)
	}
	m.DropIf(func(s *keyState) bool {
		var i int
		fmt.Sscanf(s.key, "key-%d", &i)
		return i%2 == 0
	})
	check("after a sweep", func(i int) bool { return i%2 == 1 })
	roomy("after a sweep")
	if clashes() == 0 {
		t.Fatal("no key clashes after the sweep")
	}
	if s := m.Load("absent"); s != nil {
		t.Fatal("a key never added found a state")
	}
}

// Lookups, adds, sweeps and Range run at once without a race (run with
// -race), and a key a sweep does not drop is never lost.
func TestKeyMapConcurrentSweeps(t *testing.T) {
	forKeyMaps(t, func(t *testing.T, m *keyMap) {
		keep, _ := m.LoadOrStore("keep", &keyState{key: "keep"})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 2000 {
					k := fmt.Sprintf("k-%d-%d", g, i%300)
					m.LoadOrStore(k, &keyState{key: k})
					m.Load(k)
					if m.Load("keep") != keep {
						t.Error("the kept key was lost")
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 50 {
				m.DropIf(func(s *keyState) bool { return s != keep })
				m.Range(func(*keyState) bool { return true })
			}
		})
		wg.Wait()
		if m.Load("keep") != keep {
			t.Error("the kept key was lost")
		}
	})
}

// BenchmarkKeyMapLoad is a lookup of a key among n, at random, in the
// keyMap and in a sync.Map holding the same states.
func BenchmarkKeyMapLoad(b *testing.B) {
	for _, n := range []int{1, 1000, 100000} {
		keys := make([]string, n)
		var m keyMap
		var sm sync.Map
		for i := range keys {
			keys[i] = fmt.Sprintf("tenant-%d", i)
			s, _ := m.LoadOrStore(keys[i], &keyState{key: keys[i]})
			sm.Store(keys[i], s)
		}
		order := make([]int, 1<<14)
		for i := range order {
			order[i] = (i * 7919) % n
		}
		b.Run(fmt.Sprintf("impl=keymap/keys=%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if m.Load(keys[order[i&(1<<14-1)]]) == nil {
					b.Fatal("missing")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("impl=syncmap/keys=%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, ok := sm.Load(keys[order[i&(1<<14-1)]]); !ok {
					b.Fatal("missing")
				}
				i++
			}
		})
	}
}

// A state DropIf is dropping is never what LoadOrStoreLocked returns,
// even when it is asked while DropIf is still at work on the shard (the
// read-only map still holds the state then): it waits for the shard's
// lock, and finds the key gone. Transport.state relies on it for a state
// it found dropped.
func TestKeyMapLockedLookupWaitsForDropIf(t *testing.T) {
	var m keyMap
	old, _ := m.LoadOrStore("k", &keyState{key: "k"})
	if m.Load("k") != old {
		t.Fatal("the key is not in the map")
	}
	got := make(chan *keyState, 1)
	m.DropIf(func(s *keyState) bool {
		if s != old {
			return false
		}
		s.dropped.Store(true)
		if m.Load("k") != old {
			t.Error("the read-only map lost the key before DropIf rebuilt it")
		}
		go func() {
			s, _ := m.LoadOrStoreLocked("k", &keyState{key: "k"})
			got <- s
		}()
		return true
	})
	if s := <-got; s == old || s.dropped.Load() {
		t.Error("LoadOrStoreLocked returned the state DropIf dropped")
	}
}
