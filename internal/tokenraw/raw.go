// Package tokenraw reads what an oauth2.Token's extra fields were made
// from, which x/oauth2 offers no way to list: the stores keep it, and the
// refreshers carry members of it from token to token.
package tokenraw

import (
	"maps"
	"net/url"
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

// Of returns what tok.WithExtra was given, or nil (for a nil tok too).
// oauth2.Token offers only Extra(key), so a store could not otherwise
// keep the raw fields of a token response (id_token, scope, a provider's
// own members). The field is read, never written, through reflect and
// unsafe; if x/oauth2 ever drops or retypes it, Of returns nil and the
// extras are neither stored nor carried over.
//
// The token endpoint clients of this module give it a map[string]any (a
// JSON answer, its numbers as json.Number) or a url.Values (a
// form-encoded one); other code may give it anything.
func Of(tok *oauth2.Token) any {
	if rawField < 0 || tok == nil {
		return nil
	}
	f := reflect.ValueOf(tok).Elem().Field(rawField)
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
}

// Readable reports whether Of can read tokens' extra fields with this
// version of x/oauth2. When it cannot, code that would rebuild them must
// leave tokens alone, or it would drop what it could not see.
func Readable() bool { return rawField >= 0 }

// Set returns a copy of tok whose extra fields hold the member name with
// value, in place of any it had, as a string in either kind of extra
// fields (a JSON answer's map or a form answer's url.Values). tok is not
// modified. It returns tok as it is when its extra fields are of another
// type or cannot be read (see Readable).
func Set(tok *oauth2.Token, name, value string) *oauth2.Token {
	if tok == nil || !Readable() {
		return tok
	}
	switch raw := Of(tok).(type) {
	case nil:
		return tok.WithExtra(map[string]any{name: value})
	case map[string]any:
		m := maps.Clone(raw)
		m[name] = value
		return tok.WithExtra(m)
	case url.Values:
		v := maps.Clone(raw)
		v[name] = []string{value}
		return tok.WithExtra(v)
	}
	return tok
}
