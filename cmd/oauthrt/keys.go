package main

import (
	"context"
	"crypto/cipher"
)

const keysHelp = `
An encrypted store needs its keyring: --keys-file FILE (or
$OAUTHRT_KEYS_FILE), or --keys-env NAME for a keyring held in environment
variable NAME. A keyring lists one key per line, "ID BASE64-SECRET", the
newest first: tokens are read with any of them and written with the first.
`

// keys returns the keyring the flags name, or nil when they name none.
func (a *app) keys() (cipher.AEAD, error) {
	if a.keysFile == "" && a.keysEnv == "" {
		return nil, nil
	}
	return nil, usagef("keyrings are not supported yet")
}

// open opens the store of --store with the keyring of the flags.
func (a *app) open(ctx context.Context) (*store, error) {
	aead, err := a.keys()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, a.storeURL, aead)
}
