package main

import (
	"context"
	"crypto/cipher"

	"github.com/oauthrt/oauthrt/keyring"
)

const keysHelp = `
An encrypted store needs its keyring: --keys-file FILE (or
$OAUTHRT_KEYS_FILE), or --keys-env NAME for a keyring held in environment
variable NAME. A keyring lists one key per line, "ID BASE64-SECRET", the
newest first: tokens are read with any of them and written with the first.
`

// keys returns the keyring the flags name, or nil when they name none.
func (a *app) keys() (cipher.AEAD, error) {
	switch {
	case a.keysFile != "" && a.keysEnv != "":
		return nil, usagef("give --keys-file or --keys-env, not both")
	case a.keysFile != "":
		return loadRing(keyring.Load(a.keysFile))
	case a.keysEnv != "":
		return loadRing(keyring.FromEnv(a.keysEnv))
	}
	return nil, nil
}

// loadRing returns r, or err as a usageError: a keyring that does not
// load is a mistake in what the command was given. A nil *Ring becomes a
// nil AEAD, not an interface holding nil.
func loadRing(r *keyring.Ring, err error) (cipher.AEAD, error) {
	if err != nil {
		return nil, usageError{err}
	}
	return r, nil
}

// open opens the store of --store with the keyring of the flags.
func (a *app) open(ctx context.Context) (*store, error) {
	aead, err := a.keys()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, a.storeURL, aead)
}

// create opens the store of --store, with the keyring of the flags, for
// import to write into; see createStore.
func (a *app) create(ctx context.Context) (*store, error) {
	aead, err := a.keys()
	if err != nil {
		return nil, err
	}
	return createStore(ctx, a.storeURL, aead)
}
