package entra

import (
	"fmt"
	"log/slog"

	"github.com/oauthrt/oauthrt/internal/describe"
)

// The methods below are on values, so that they serve a Refresher held by
// value in a struct of the user's, which fmt and encoding/json reach by
// reflection, as well as a pointer.

// GoString is String, so that %#v does not print the client secret or the private key either.
func (r Refresher) GoString() string { return r.String() }

// Format writes String for every verb, so that none (%x, %d…) walks the
// fields.
func (r Refresher) Format(f fmt.State, verb rune) { describe.Format(f, verb, r.String()) }

// LogValue is String, for slog.
func (r Refresher) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON writes String as a JSON string, for encoding/json and
// slog's JSONHandler, which would otherwise write the client secret or the private key.
func (r Refresher) MarshalJSON() ([]byte, error) { return describe.JSON(r.String()) }
