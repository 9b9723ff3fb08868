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
	var m keyMap
	if m.Load("k") != nil {
		t.Fatal("the zero keyMap found a key")
	}
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
}

// Lookups, adds, sweeps and Range run at once without a race (run with
// -race), and a key a sweep does not drop is never lost.
func TestKeyMapConcurrentSweeps(t *testing.T) {
	var m keyMap
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
