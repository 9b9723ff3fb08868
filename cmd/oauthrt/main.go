// Command oauthrt lets an operator see, repair, move and re-key the token
// stores of services that use github.com/oauthrt/oauthrt.
//
// It takes a store as a URL (see [storeHelp]) and, for encrypted stores,
// a keyring (see the keyring package). Run oauthrt help for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
