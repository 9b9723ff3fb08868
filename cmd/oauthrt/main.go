// Command oauthrt lets an operator see, repair, move and re-key the token
// stores of services that use github.com/oauthrt/oauthrt:
//
//	oauthrt status            the grants: health, expiry, idleness, leases
//	oauthrt show KEY          one grant, its tokens as fingerprints
//	oauthrt refresh KEY       refresh now, through the lease
//	oauthrt revoke KEY        revoke at the provider, and delete
//	oauthrt export / import   a portable, encrypted file of the grants
//	oauthrt migrate           copy one store into another
//	oauthrt keygen ID         a new keyring key
//	oauthrt rekey             reseal every record with the keyring's first key
//	oauthrt keys              count the records each key seals
//
// A store is a URL (file, sqlite, postgres, mysql, redis), given with
// --store or $OAUTHRT_STORE; an encrypted store's keyring (see the
// keyring package) with --keys-file or --keys-env. oauthrt help COMMAND
// says more. It exits 0 when it did what it was asked, 1 when that
// failed, and 2 when it was asked wrongly.
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
