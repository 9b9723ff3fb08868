package sqlstore

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"
)

// TestRowMemoryIsBounded: a Store remembers at most maxKnownRows rows,
// the one remembered last among them; a row is used once; and the nil
// memory remembers nothing.
func TestRowMemoryIsBounded(t *testing.T) {
	s := &Store{}
	m := s.rows()
	if m == nil || s.rows() != m {
		t.Fatal("a Store has no memory of rows, or a new one at each call")
	}
	if (&Store{}).rows() == m {
		t.Fatal("two Stores share a memory of rows")
	}
	row := func(i int) knownRow {
		return knownRow{storedRow: storedRow{token: sql.Null[[]byte]{V: []byte(fmt.Sprint(i)), Valid: true}}, epoch: int64(i)}
	}
	for i := range maxKnownRows + 100 {
		m.remember(fmt.Sprint("k", i), row(i))
	}
	if n := m.size(); n != maxKnownRows {
		t.Errorf("%d rows remembered, want %d", n, maxKnownRows)
	}
	last := fmt.Sprint("k", maxKnownRows+99)
	if r, ok := m.take(last); !ok || r.epoch != maxKnownRows+99 {
		t.Errorf("the row remembered last: %v, %v", r.epoch, ok)
	}
	if _, ok := m.take(last); ok {
		t.Error("a row was taken twice")
	}
	m.remember(last, row(1))
	m.forget(last)
	if _, ok := m.take(last); ok {
		t.Error("a forgotten row was taken")
	}

	var none *rowMemory
	none.remember("k", row(1))
	if _, ok := none.take("k"); ok || none.size() != 0 {
		t.Error("the nil memory remembered a row")
	}
}

// TestRowMemoryConcurrent: a memory of rows is safe for concurrent use
// (run with -race).
func TestRowMemoryConcurrent(t *testing.T) {
	m := (&Store{}).rows()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := fmt.Sprint("k", (g*1000+i)%50)
				m.remember(k, knownRow{epoch: int64(i)})
				m.take(k)
				m.forget(k)
			}
		})
	}
	wg.Wait()
}
