package keyring

import (
	"context"
	"fmt"

	"github.com/oauthrt/oauthrt"
)

// Counts says how many of a store's records each key seals, as [Count]
// finds them: what is left to rewrite before a key can leave the ring.
// Its zero value counts no record.
type Counts struct {
	// ByKey is the number of records each key of the store's keyring
	// opened, by key ID; a key that opened none is absent (it reads as
	// 0). The ID "" counts the records sealed by a store AEAD that is not
	// a Ring, which names no key. nil when no such record was found.
	ByKey map[string]int
	// Clear is the number of records stored unencrypted. A store with an
	// AEAD reads none of them.
	Clear int
	// Unreadable is the number of sealed records that no key of the
	// store's keyring opens, or that are damaged.
	Unreadable int
}

// Total is the number of records counted.
func (c Counts) Total() int {
	n := c.Clear + c.Unreadable
	for _, k := range c.ByKey {
		n += k
	}
	return n
}

// countPage is the page size Count asks the store for.
const countPage = 1000

// Count walks the records of s whose keys start with prefix ("": every
// key) with [oauthrt.Inspector.Inspect], and counts them by the key that
// seals them. s should be a store whose AEAD is the [Ring] to report on:
// a key of the ring that seals no record is absent from ByKey, and a
// record sealed with a key the ring does not hold counts as Unreadable.
// A key the walk meets twice (Redis' SCAN may return a key again) counts
// once. It reads no token the store holds beyond what Inspect decodes,
// and returns the first error of the walk, with the counts so far.
func Count(ctx context.Context, s oauthrt.Inspector, prefix string) (Counts, error) {
	var c Counts
	seen := make(map[string]bool)
	cursor := ""
	for {
		recs, next, err := s.Inspect(ctx, prefix, cursor, countPage)
		if err != nil {
			return c, fmt.Errorf("keyring: counting the records of each key: %w", err)
		}
		for _, r := range recs {
			if seen[r.Key] {
				continue
			}
			seen[r.Key] = true
			switch {
			case !r.Sealed:
				c.Clear++
			case r.Err != nil:
				c.Unreadable++
			default:
				if c.ByKey == nil {
					c.ByKey = make(map[string]int)
				}
				c.ByKey[r.KeyID]++
			}
		}
		if next == "" {
			return c, nil
		}
		cursor = next
	}
}
