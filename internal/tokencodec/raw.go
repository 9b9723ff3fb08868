package tokencodec

import (
	"reflect"
	"unsafe"

	"golang.org/x/oauth2"
)

// rawField is the index of oauth2.Token's unexported raw field (what
// WithExtra sets and Extra reads), or -1 if this version of x/oauth2 has
// none of the expected type.
var rawField = func() int {
	f, ok := reflect.TypeFor[oauth2.Token]().FieldByName("raw")
	if !ok || f.Type.Kind() != reflect.Interface || len(f.Index) != 1 {
		return -1
	}
	return f.Index[0]
}()

// rawOf returns what tok.WithExtra was given, or nil. oauth2.Token offers
// only Extra(key), so a store could not otherwise keep the raw fields of
// a token response (id_token, scope, a provider's own members). The field
// is read, never written, through reflect and unsafe; if x/oauth2 ever
// drops or retypes it, rawOf returns nil and the extras are not stored.
func rawOf(tok *oauth2.Token) any {
	if rawField < 0 {
		return nil
	}
	f := reflect.ValueOf(tok).Elem().Field(rawField)
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
}
