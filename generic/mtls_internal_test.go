package generic

import (
	"net/http"
	"runtime"
	"sync"
	"testing"
	"weak"

	"github.com/oauthrt/oauthrt/internal/mtlstest"
)

// held counts the keys that certSenders holds.
func held(keys []certKey) int {
	n := 0
	for _, k := range keys {
		if _, ok := certSenders.Load(k); ok {
			n++
		}
	}
	return n
}

// Copies of a Refresher, at once, share one sender for their certificate
// and client; a sender goes once its certificate is held by nothing
// else, so that a process that loads certificates again and again does
// not keep a client for each.
func TestCertSendersAreSharedAndDropped(t *testing.T) {
	user := &http.Client{}
	var keys []certKey
	func() {
		cert, other := mtlstest.SelfSigned(t, "a"), mtlstest.SelfSigned(t, "b")
		keys = []certKey{
			{cert: weak.Make(cert)},
			{cert: weak.Make(other)},
			{cert: weak.Make(cert), client: weak.Make(user)},
		}
		r := Refresher{ClientCertificate: cert}
		var wg sync.WaitGroup
		senders := make([]sender, 16)
		for i := range senders {
			wg.Go(func() {
				cp := r // a copy, as a Refresher may be
				s, err := cp.sender()
				if err != nil {
					t.Error(err)
				}
				senders[i] = s
			})
		}
		wg.Wait()
		for _, s := range senders[1:] {
			if s.client != senders[0].client || s.once != senders[0].once {
				t.Fatal("copies of a Refresher got different clients for one certificate")
			}
		}
		for _, r := range []Refresher{{ClientCertificate: other}, {ClientCertificate: cert, HTTPClient: user}} {
			if _, err := r.sender(); err != nil {
				t.Fatal(err)
			}
		}
		if n := held(keys); n != 3 {
			t.Fatalf("%d senders for 2 certificates and 2 clients, want 3", n)
		}
		runtime.KeepAlive(cert)
		runtime.KeepAlive(other)
	}()
	// The certificates are gone; the cleanups run on their own goroutine
	// after a collection.
	for i := 0; i < 100 && held(keys) > 0; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if n := held(keys); n != 0 {
		t.Errorf("%d senders left after their certificates went", n)
	}
	runtime.KeepAlive(user)
}
