package generic

import (
	"fmt"
	"log/slog"

	"github.com/oauthrt/oauthrt/internal/describe"
)

// The methods below are on values, so that they serve a Refresher or a
// PrivateKeyJWT held by value in a struct of the user's, which fmt and
// encoding/json reach by reflection, as well as a pointer.

// GoString is String, so that %#v does not print the secret either.
func (r Refresher) GoString() string { return r.String() }

// Format writes String for every verb, so that none (%x, %d…) walks the
// fields.
func (r Refresher) Format(f fmt.State, verb rune) { describe.Format(f, verb, r.String()) }

// LogValue is String, for slog.
func (r Refresher) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON writes String as a JSON string, for encoding/json and
// slog's JSONHandler.
func (r Refresher) MarshalJSON() ([]byte, error) { return describe.JSON(r.String()) }

// GoString is String, so that %#v does not print the key either.
func (p PrivateKeyJWT) GoString() string { return p.String() }

// Format writes String for every verb.
func (p PrivateKeyJWT) Format(f fmt.State, verb rune) { describe.Format(f, verb, p.String()) }

// LogValue is String, for slog.
func (p PrivateKeyJWT) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON writes String as a JSON string: encoding/json would write
// the key's private fields.
func (p PrivateKeyJWT) MarshalJSON() ([]byte, error) { return describe.JSON(p.String()) }
