package oauthrt_test

import (
	"sync"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		// One process: every Open of a subtest shares one store, made
		// with the first Open's options; the suite gives every Open of a
		// subtest the same ones.
		var once sync.Once
		var s *oauthrt.MemoryStore
		return storetest.Backend{
			Open: func(o storetest.Options) oauthrt.TokenStore {
				once.Do(func() { s = newMemoryStore(o) })
				return s
			},
			NoEncryption: true,
		}
	})
}

// newMemoryStore returns a MemoryStore set up with o: its lease TTL is
// o.LeaseTTL, so that the suite's lease checks apply to it.
func newMemoryStore(o storetest.Options) *oauthrt.MemoryStore {
	return &oauthrt.MemoryStore{LeaseTTL: o.LeaseTTL}
}
