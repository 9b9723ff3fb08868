package sqlstore

import (
	"fmt"
	"log/slog"

	"github.com/oauthrt/oauthrt/internal/describe"
)

// The methods below are on values, so that they serve a Store held by
// value in a struct of the user's, which fmt and encoding/json reach by
// reflection, as well as a pointer.

// GoString is String, so that %#v does not print the AEAD either.
func (s Store) GoString() string { return s.String() }

// Format writes String for every verb, so that none (%x, %d…) walks the
// fields.
func (s Store) Format(f fmt.State, verb rune) { describe.Format(f, verb, s.String()) }

// LogValue is String, for slog.
func (s Store) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes String as a JSON string, for encoding/json and
// slog's JSONHandler, which would otherwise write the AEAD.
func (s Store) MarshalJSON() ([]byte, error) { return describe.JSON(s.String()) }
