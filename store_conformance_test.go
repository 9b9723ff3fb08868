package oauthrt_test

import (
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		s := new(oauthrt.MemoryStore) // one process: every Open shares it
		return storetest.Backend{
			Open:         func(storetest.Options) oauthrt.TokenStore { return s },
			NoEncryption: true,
		}
	})
}
