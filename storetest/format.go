package storetest

import (
	"fmt"
	"log/slog"

	"github.com/oauthrt/oauthrt/internal/describe"
)

// String describes o without its AEAD, whose internals hold the key.
func (o Options) String() string {
	return fmt.Sprintf("storetest.Options{LeaseTTL: %v, Encrypted: %t}", o.LeaseTTL, o.AEAD != nil)
}

// GoString is String, so that %#v does not print the AEAD either.
func (o Options) GoString() string { return o.String() }

// Format writes String for every verb.
func (o Options) Format(f fmt.State, verb rune) { describe.Format(f, verb, o.String()) }

// LogValue is String, for slog.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// MarshalJSON writes String as a JSON string.
func (o Options) MarshalJSON() ([]byte, error) { return describe.JSON(o.String()) }
