package oauthrt

import (
	"iter"
	"maps"

	"golang.org/x/oauth2"
)

// memoryTokens is a MemoryStore's tokens by key. The methods of a nil
// *memoryTokens read it as empty; the store's mutex guards it.
//
// The tokens sit in the map by value, not behind a pointer each: at a
// million keys that is two million objects fewer for the garbage
// collector to mark on every cycle, which is work every request of the
// process shares while a cycle runs (BENCHMARKS.md, "Lookup"). Loads
// pay for it with a copy: a token handed out is the caller's.
//
// fmt can reach the map by reflection, through a MemoryStore value's
// unexported fields, where it calls no method; with a verb it has no
// use for, it prints what a pointer points to, one level deep. So the
// map is two pointers from the store: the tokens print as an address,
// whatever the verb.
type memoryTokens struct {
	byKey *map[string]oauth2.Token // nil until the first put

	// room is how many keys *byKey was made for. A new key that finds
	// it full moves the tokens into a map made for twice as many: a Go
	// map grown one key at a time costs the collector about three times
	// the work of one made at its size (with a million keys, 1 s a cycle
	// against 0.3 on the machine of BENCHMARKS.md), and the moves cost
	// each key about one insert more.
	room int
}

// get returns a copy of the token stored under key, or nil.
func (t *memoryTokens) get(key string) *oauth2.Token {
	if t == nil || t.byKey == nil {
		return nil
	}
	tok, ok := (*t.byKey)[key]
	if !ok {
		return nil
	}
	return &tok
}

// put stores a copy of tok under key.
func (t *memoryTokens) put(key string, tok *oauth2.Token) {
	if t.byKey == nil {
		t.byKey = new(map[string]oauth2.Token)
	}
	m := *t.byKey
	if _, ok := m[key]; !ok && len(m) >= t.room {
		t.room = max(2*t.room, 64)
		grown := make(map[string]oauth2.Token, t.room)
		maps.Copy(grown, m)
		*t.byKey = grown
	}
	(*t.byKey)[key] = *tok
}

// delete removes key's token.
func (t *memoryTokens) delete(key string) {
	if t != nil && t.byKey != nil {
		delete(*t.byKey, key)
	}
}

// len returns how many keys hold a token.
func (t *memoryTokens) len() int {
	if t == nil || t.byKey == nil {
		return 0
	}
	return len(*t.byKey)
}

// keys returns the keys that hold a token, in no order.
func (t *memoryTokens) keys() iter.Seq[string] {
	if t == nil || t.byKey == nil {
		return func(func(string) bool) {}
	}
	return maps.Keys(*t.byKey)
}
