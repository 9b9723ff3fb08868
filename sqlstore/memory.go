package sqlstore

import (
	"database/sql"
	"runtime"
	"sync"
	"weak"
)

// A Store remembers, per key, the row that it last read (Load,
// LoadSnapshot, LoadMany, a TakeLeaseIf that found another token or
// heard it announced) or wrote (CommitRelease), so that the TakeLeaseIf
// of a refresh that follows takes the lease over what it knows the row
// holds:
//
//   - On MySQL and MariaDB, which have no UPDATE … RETURNING, TakeLeaseIf
//     takes a lease with a SELECT of the row and an UPDATE conditioned on
//     the row still holding what the SELECT read. The memory saves the
//     SELECT: TakeLeaseIf sends that row's values in the UPDATE's
//     condition at once. The condition compares every column the
//     snapshot is made of.
//   - On PostgreSQL and SQLite, whose one statement takes the lease
//     wherever it is free and reads the row, the memory keeps a waiter
//     from taking a lease it cannot use: the statement takes the lease
//     only where the row still holds the token bytes remembered. A
//     process that asks after another committed a new token and released
//     the lease reads that token in one statement, where it would
//     otherwise take the lease over it, find it is not prev, and release
//     it with a second.
//
// Either way the memory can only save a statement, never make
// TakeLeaseIf take a lease over a row it does not know: when the row has
// changed since, the statement takes nothing and TakeLeaseIf goes on as
// it does without the memory.

// maxKnownRows bounds the rows a Store remembers. Each is its token's
// stored bytes (sealed, with an AEAD) and a few numbers; a Store serving
// more keys than this remembers some of them, and the others cost
// TakeLeaseIf one statement more.
const maxKnownRows = 4096

// A knownRow is what a row held, as far as TakeLeaseIf compares it: its
// token's stored bytes, its grant state and its lease_epoch (the last two
// on MySQL only: the other dialects compare the bytes alone).
type knownRow struct {
	storedRow
	epoch int64
}

// rowMemory holds the rows a Store last saw, by key. A nil *rowMemory
// remembers nothing. Safe for concurrent use.
type rowMemory struct {
	mu   sync.Mutex
	rows map[string]knownRow
}

// remember records that key's row holds r, replacing what was known of
// it. When maxKnownRows rows are known, another one is forgotten first.
func (m *rowMemory) remember(key string, r knownRow) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rows[key]; !ok && len(m.rows) >= maxKnownRows {
		for k := range m.rows { // any one: the map's order is unspecified
			delete(m.rows, k)
			break
		}
	}
	m.rows[key] = r
}

// take returns what is known of key's row, and forgets it: a row is
// used once, and remembered again when it is next read or written.
func (m *rowMemory) take(key string) (knownRow, bool) {
	if m == nil {
		return knownRow{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[key]
	if ok {
		delete(m.rows, key)
	}
	return r, ok
}

// forget drops what is known of key's row: a write whose outcome is not
// known in full has changed it.
func (m *rowMemory) forget(key string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, key)
}

// size returns how many rows are known.
func (m *rowMemory) size() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows)
}

// memories holds each Store's rowMemory, by a weak pointer to the Store,
// and loses it when the Store is collected. It is not a field of Store:
// Store's String has a value receiver, whose copy of the Store would
// copy a mutex or race with the memory's first use.
var memories sync.Map // weak.Pointer[Store] → *rowMemory

// rows returns the Store's memory of rows.
func (s *Store) rows() *rowMemory {
	k := weak.Make(s)
	if m, ok := memories.Load(k); ok {
		return m.(*rowMemory)
	}
	m, loaded := memories.LoadOrStore(k, &rowMemory{rows: make(map[string]knownRow)})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Store]) { memories.Delete(k) }, k)
	}
	return m.(*rowMemory)
}

// committed is the row a commit of the encoded token b leaves, with the
// lease_epoch epoch: the commit clears the grant state, and leaves
// lease_epoch as it was.
func committed(b []byte, epoch uint64) knownRow {
	return knownRow{storedRow: storedRow{token: sql.Null[[]byte]{V: b, Valid: true}}, epoch: int64(epoch)}
}
