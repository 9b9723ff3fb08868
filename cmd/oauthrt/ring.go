package main

import (
	"crypto/cipher"

	"github.com/oauthrt/oauthrt/keyring"
)

// namedRing returns the keyring in the file named file or in the
// environment variable named env, nil when both are empty. fileFlag and
// envFlag name the flags that gave them, for messages. A keyring that
// does not load is a usageError: the command was pointed at the wrong
// key.
func namedRing(file, env, fileFlag, envFlag string) (*keyring.Ring, error) {
	switch {
	case file != "" && env != "":
		return nil, usagef("give %s or %s, not both", fileFlag, envFlag)
	case file != "":
		r, err := keyring.Load(file)
		if err != nil {
			return nil, usageError{err}
		}
		return r, nil
	case env != "":
		r, err := keyring.FromEnv(env)
		if err != nil {
			return nil, usageError{err}
		}
		return r, nil
	}
	return nil, nil
}

// ring returns the store's keyring, which --keys-file or --keys-env
// names, or nil when they name none.
func (a *app) ring() (*keyring.Ring, error) {
	return namedRing(a.keysFile, a.keysEnv, "--keys-file", "--keys-env")
}

// needRing returns the store's keyring, or a usageError saying that
// command needs one.
func (a *app) needRing(command string) (*keyring.Ring, error) {
	r, err := a.ring()
	if err == nil && r == nil {
		err = usagef("%s needs the store's keyring: give --keys-file FILE or --keys-env NAME", command)
	}
	return r, err
}

// aeadOf returns r as a store's AEAD: nil, not a nil *keyring.Ring, when
// r is nil.
func aeadOf(r *keyring.Ring) cipher.AEAD {
	if r == nil {
		return nil
	}
	return r
}
