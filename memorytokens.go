package oauthrt

import (
	"iter"
	"maps"

	"golang.org/x/oauth2"
)

// memoryTokens is a MemoryStore's tokens by key. The methods of a nil
// *memoryTokens read it as empty; the store's mutex guards it.
//
// The tokens are kept by value, in chunks of chunkTokens, and the map
// holds each key's slot: no heap object of its own per token, and the
// map's entries hold no pointer but their keys. The garbage collector
// marks all of it on every cycle, work that every request of the process
// shares while a cycle runs (BENCHMARKS.md, "Lookup"). It finds the
// chunks' strings in the order they were stored, which costs it far
// less than finding them in a map's order: at a million keys, a
// *oauth2.Token behind a pointer for each key took it about 1 s a cycle
// on the machine of BENCHMARKS.md, tokens by value in the map 0.35 s.
// Loads pay for it with a copy: a token handed out is the caller's.
//
// fmt can reach the chunks by reflection, through a MemoryStore value's
// unexported fields, where it calls no method; with a verb it has no
// use for, it prints what a pointer points to, one level deep. So the
// tokens are two pointers from the store (MemoryStore.tokens, then each
// chunk), and print as addresses whatever the verb.
type memoryTokens struct {
	slots  map[string]int // the slot of each key's token in chunks
	chunks []*tokenChunk  // slot i is chunks[i/chunkTokens][i%chunkTokens]
	free   []int          // slots a delete emptied, taken again before new ones

	// room is how many keys slots was made for. A new key that finds it
	// full moves the slots into a map made for twice as many: a Go map
	// grown one key at a time costs the collector about three times the
	// work of one made at its size, and the moves cost each key about one
	// insert more.
	room int
}

// chunkTokens is how many tokens a chunk holds: about 26 kB of them.
const chunkTokens = 256

type tokenChunk [chunkTokens]oauth2.Token

func (t *memoryTokens) at(slot int) *oauth2.Token {
	return &t.chunks[slot/chunkTokens][slot%chunkTokens]
}

// get returns a copy of the token stored under key, or nil.
func (t *memoryTokens) get(key string) *oauth2.Token {
	held := t.held(key)
	if held == nil {
		return nil
	}
	tok := *held
	return &tok
}

// held returns the token stored under key, in its chunk, or nil: to be
// read while the store's mutex is held, and never handed out.
func (t *memoryTokens) held(key string) *oauth2.Token {
	if t == nil {
		return nil
	}
	slot, ok := t.slots[key]
	if !ok {
		return nil
	}
	return t.at(slot)
}

// put stores a copy of tok under key.
func (t *memoryTokens) put(key string, tok *oauth2.Token) {
	if slot, ok := t.slots[key]; ok {
		*t.at(slot) = *tok
		return
	}
	if len(t.slots) >= t.room {
		t.room = max(2*t.room, 64)
		grown := make(map[string]int, t.room)
		maps.Copy(grown, t.slots)
		t.slots = grown
	}
	slot := t.handedOut()
	if n := len(t.free); n > 0 {
		slot, t.free = t.free[n-1], t.free[:n-1]
	} else if slot == len(t.chunks)*chunkTokens {
		t.chunks = append(t.chunks, new(tokenChunk))
	}
	t.slots[key] = slot
	*t.at(slot) = *tok
}

// handedOut returns how many slots were handed out, emptied ones
// included: the next new slot, when none is free.
func (t *memoryTokens) handedOut() int { return len(t.slots) + len(t.free) }

// delete removes key's token; its slot is taken again by a later key.
func (t *memoryTokens) delete(key string) {
	if t == nil {
		return
	}
	slot, ok := t.slots[key]
	if !ok {
		return
	}
	*t.at(slot) = oauth2.Token{} // let its strings go
	delete(t.slots, key)
	t.free = append(t.free, slot)
}

// len returns how many keys hold a token.
func (t *memoryTokens) len() int {
	if t == nil {
		return 0
	}
	return len(t.slots)
}

// keys returns the keys that hold a token, in no order.
func (t *memoryTokens) keys() iter.Seq[string] {
	if t == nil {
		return func(func(string) bool) {}
	}
	return maps.Keys(t.slots)
}
