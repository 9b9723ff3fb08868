//go:build !unix && !windows

package filestore

import (
	"context"
	"errors"
)

func lockFile(context.Context, string) (func(), error) {
	return nil, errors.New("oauthrt: filestore: file locking is not supported on this system")
}

func processAlive(int) bool { return true }
