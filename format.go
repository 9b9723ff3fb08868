package oauthrt

import (
	"fmt"
	"log/slog"

	"github.com/oauthrt/oauthrt/internal/describe"
)

// How the types that hold tokens, or hold what does, print: by their
// String, whatever the verb, in slog and in JSON.
//
// MemoryStore and Transport hold a mutex and per-key state, so their
// methods are on pointers: a method on the value would copy the lock
// (which go vet refuses) and race with the requests that change the
// state. A value of either, which fmt reaches by reflection, shows
// nothing secret all the same: their tokens sit two pointers deep (see
// memoryTokens; a Transport's per-key state is deeper still), and a
// Transport's Store and Refresher are printed by their own methods.

// Format writes String for every verb, so that none (%x, %d…) walks the
// fields.
func (s *MemoryStore) Format(f fmt.State, verb rune) { describe.Format(f, verb, s.String()) }

// LogValue is String, for slog.
func (s *MemoryStore) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes String as a JSON string.
func (s *MemoryStore) MarshalJSON() ([]byte, error) { return describe.JSON(s.String()) }

// Format writes String for every verb.
func (t *Transport) Format(f fmt.State, verb rune) { describe.Format(f, verb, t.String()) }

// LogValue is String, for slog.
func (t *Transport) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalJSON writes String as a JSON string, for encoding/json and
// slog's JSONHandler, which would otherwise fail on the func fields or
// write a Refresher's exported fields.
func (t *Transport) MarshalJSON() ([]byte, error) { return describe.JSON(t.String()) }

// String names the type of Source and nothing of what it holds: a token
// source often holds a token, or the client secret that gets one.
func (r TokenSourceRefresher) String() string {
	src := "nil"
	if r.Source != nil {
		src = fmt.Sprintf("%T", r.Source)
	}
	return "oauthrt.TokenSourceRefresher{Source: " + src + "}"
}

// GoString is String, so that %#v does not print the source either.
func (r TokenSourceRefresher) GoString() string { return r.String() }

// Format writes String for every verb.
func (r TokenSourceRefresher) Format(f fmt.State, verb rune) { describe.Format(f, verb, r.String()) }

// LogValue is String, for slog.
func (r TokenSourceRefresher) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON writes String as a JSON string.
func (r TokenSourceRefresher) MarshalJSON() ([]byte, error) { return describe.JSON(r.String()) }

// String tells whether the snapshot holds a token, and its grant state's
// health, never the token.
func (s Snapshot) String() string {
	tok := "none"
	if s.Token != nil {
		tok = "present"
	}
	return "oauthrt.Snapshot{Token: " + tok + ", Health: " + string(s.State.Health()) + "}"
}

// GoString is String, so that %#v does not print the token either.
func (s Snapshot) GoString() string { return s.String() }

// Format writes String for every verb.
func (s Snapshot) Format(f fmt.State, verb rune) { describe.Format(f, verb, s.String()) }

// LogValue is String, for slog.
func (s Snapshot) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes String as a JSON string: a snapshot is passed from
// a store to the Transport, and is not a way to export tokens.
func (s Snapshot) MarshalJSON() ([]byte, error) { return describe.JSON(s.String()) }

// String gives the record's key, whether its token was read (never the
// token), its grant state's health, whether the token is sealed and by
// which key, and its lease.
func (r Record) String() string {
	tok := "present"
	switch {
	case r.Err != nil:
		tok = fmt.Sprintf("unreadable (%v)", r.Err)
	case r.Token == nil:
		tok = "none"
	}
	return fmt.Sprintf("oauthrt.Record{Key: %q, Token: %s, Health: %s, Sealed: %t, KeyID: %q, Lease: %+v}",
		r.Key, tok, r.State.Health(), r.Sealed, r.KeyID, r.Lease)
}

// GoString is String, so that %#v does not print the token either.
func (r Record) GoString() string { return r.String() }

// Format writes String for every verb.
func (r Record) Format(f fmt.State, verb rune) { describe.Format(f, verb, r.String()) }

// LogValue is String, for slog.
func (r Record) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON writes String as a JSON string: a tool that exports tokens
// reads Record.Token, and chooses how to write it.
func (r Record) MarshalJSON() ([]byte, error) { return describe.JSON(r.String()) }
