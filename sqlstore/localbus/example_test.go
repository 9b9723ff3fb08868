package localbus_test

import (
	"context"
	"fmt"
	"os"

	"github.com/oauthrt/oauthrt/sqlstore/localbus"
)

// Two processes of one host would each make a Bus on the same directory;
// here one listens, and the other announces.
func ExampleBus() {
	dir, err := os.MkdirTemp("", "bus")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithCancel(context.Background())
	ready, heard, done := make(chan struct{}), make(chan string, 1), make(chan error)
	go func() {
		done <- localbus.New(dir).Listen(ctx, "oauthrt_tokens", func() { close(ready) }, func(p string) { heard <- p })
	}()
	<-ready

	if err := localbus.New(dir).Announce(context.Background(), "oauthrt_tokens", "a release"); err != nil {
		fmt.Println(err)
	}
	fmt.Println("heard:", <-heard)
	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// heard: a release
	// stopped: context canceled
}
