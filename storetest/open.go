package storetest

import (
	"fmt"
	"reflect"
	"testing"
)

// openAs opens a store with o and returns it as T, one of the optional
// capabilities of package oauthrt, or skips the subtest, naming T and,
// when what is not "", what is therefore not checked.
func openAs[T any](t *testing.T, b Backend, o Options, what string) T {
	t.Helper()
	s, ok := b.Open(o).(T)
	if !ok {
		msg := fmt.Sprintf("the store does not implement %v", reflect.TypeFor[T]())
		if what != "" {
			msg += ": " + what + " not checked"
		}
		t.Skip(msg)
	}
	return s
}
