// Package tokencodec turns tokens into the bytes the stores keep, and
// back, optionally sealed with an AEAD.
//
// The plain form is a JSON object:
//
//	{"access_token":"…","token_type":"Bearer","refresh_token":"…",
//	 "expiry":"2026-11-28T20:37:35.123456789Z","expires_in":3600,
//	 "extra":{…},"extra_form":{"k":["v"]}}
//
// extra holds the raw fields of a JSON token response (what
// oauth2.Token.Extra reads), extra_form those of a form-encoded one. The
// sealed form is the byte 0x01, the AEAD nonce, then the plain form sealed
// with the store key as additional data, so that a value copied to another
// key does not open. With a [keyring.Ring] as the AEAD, what the ring
// seals starts with its prefix naming the ring's key; DecodeKey reports
// that key.
package tokencodec

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"github.com/oauthrt/oauthrt/keyring"
	"golang.org/x/oauth2"
)

// sealed marks the sealed form. A plain value starts with '{'.
const sealed = 0x01

type record struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type,omitempty"`
	RefreshToken string          `json:"refresh_token,omitempty"`
	Expiry       *time.Time      `json:"expiry,omitempty"`
	ExpiresIn    int64           `json:"expires_in,omitempty"`
	Extra        json.RawMessage `json:"extra,omitempty"`
	ExtraForm    url.Values      `json:"extra_form,omitempty"`
}

// Encode returns the bytes to store for tok under key: the plain form,
// or, when aead is not nil, the sealed form.
func Encode(tok *oauth2.Token, aead cipher.AEAD, key string) ([]byte, error) {
	if tok == nil {
		return nil, errors.New("oauthrt: cannot save a nil token")
	}
	r := record{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		ExpiresIn:    tok.ExpiresIn,
	}
	if !tok.Expiry.IsZero() {
		e := jsonTime(tok.Expiry)
		r.Expiry = &e
	}
	switch raw := tokenraw.Of(tok).(type) {
	case nil:
	case url.Values:
		r.ExtraForm = raw
	default:
		b, err := json.Marshal(raw)
		if err != nil {
			// The message names the type only: the value may hold secrets.
			return nil, fmt.Errorf("oauthrt: encoding the token's extra fields (%T): not JSON-encodable", raw)
		}
		r.Extra = b
	}
	plain, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: encoding the token: %T", err)
	}
	if aead == nil {
		return plain, nil
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealed
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("oauthrt: making a nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plain, additionalData(key)), nil
}

// Decode reads what Encode wrote. A value that does not open with aead
// (or that is sealed when aead is nil, or plain when it is not) is an
// error wrapping oauthrt.ErrDecrypt; one that is not a token wraps
// oauthrt.ErrCorruptToken. Neither error holds any of b.
func Decode(b []byte, aead cipher.AEAD, key string) (*oauth2.Token, error) {
	tok, _, err := DecodeKey(b, aead, key)
	return tok, err
}

// DecodeKey is Decode that also names the key of a keyring that opened
// b: "" when b is not sealed, or aead is not a [*keyring.Ring].
func DecodeKey(b []byte, aead cipher.AEAD, key string) (*oauth2.Token, string, error) {
	if len(b) == 0 {
		return nil, "", fmt.Errorf("%w: empty value", oauthrt.ErrCorruptToken)
	}
	var keyID string
	switch {
	case b[0] == sealed && aead == nil:
		return nil, "", fmt.Errorf("%w: the token is encrypted and the store has no AEAD", oauthrt.ErrDecrypt)
	case b[0] == sealed:
		n := aead.NonceSize()
		if len(b) < 1+n+minOverhead(aead) {
			return nil, "", fmt.Errorf("%w: value too short", oauthrt.ErrDecrypt)
		}
		var plain []byte
		var err error
		if ring, ok := aead.(*keyring.Ring); ok {
			plain, keyID, err = ring.OpenKey(nil, b[1:1+n], b[1+n:], additionalData(key))
		} else {
			plain, err = aead.Open(nil, b[1:1+n], b[1+n:], additionalData(key))
		}
		if err != nil {
			return nil, "", oauthrt.ErrDecrypt
		}
		b = plain
	case aead != nil:
		// Whatever else it is, it is not sealed: a store with an AEAD
		// never takes a token in the clear, which anyone able to write to
		// the store could have put there.
		return nil, "", fmt.Errorf("%w: the token is stored unencrypted and the store has an AEAD", oauthrt.ErrDecrypt)
	}
	tok, err := decodeRecord(b)
	if err != nil {
		return nil, "", err
	}
	return tok, keyID, nil
}

// minOverhead is the least a sealed value holds after the nonce. A
// ring's Overhead is that of what it seals, which a value sealed before
// the ring, by one of its keys alone, undercuts; the ring checks the
// length against each key it tries instead.
func minOverhead(aead cipher.AEAD) int {
	if _, ok := aead.(*keyring.Ring); ok {
		return 0
	}
	return aead.Overhead()
}

// decodeRecord returns the token of the plain form b.
func decodeRecord(b []byte) (*oauth2.Token, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		// err may quote the input; keep only its type.
		return nil, fmt.Errorf("%w: not a JSON token record (%T)", oauthrt.ErrCorruptToken, err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the token record", oauthrt.ErrCorruptToken)
	}
	if r.AccessToken == "" {
		return nil, fmt.Errorf("%w: no access token", oauthrt.ErrCorruptToken)
	}
	tok := &oauth2.Token{
		AccessToken:  r.AccessToken,
		TokenType:    r.TokenType,
		RefreshToken: r.RefreshToken,
		ExpiresIn:    r.ExpiresIn,
	}
	if r.Expiry != nil {
		tok.Expiry = jsonTime(*r.Expiry)
	}
	switch {
	case r.ExtraForm != nil:
		tok = tok.WithExtra(r.ExtraForm)
	case len(r.Extra) > 0 && !bytes.Equal(r.Extra, []byte("null")):
		d := json.NewDecoder(bytes.NewReader(r.Extra))
		d.UseNumber() // as the refreshers decode token responses
		var extra any
		if err := d.Decode(&extra); err != nil {
			return nil, fmt.Errorf("%w: extra fields (%T)", oauthrt.ErrCorruptToken, err)
		}
		tok = tok.WithExtra(extra)
	}
	return tok, nil
}

// jsonTime is t in UTC, clamped to the years 0 to 9999 that JSON's time
// format holds: an expiry beyond them (a token that claims to last ten
// thousand years, or a record written with an odd offset) would otherwise
// make the token impossible to save.
func jsonTime(t time.Time) time.Time {
	t = t.UTC()
	switch {
	case t.Year() > 9999:
		return time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	case t.Year() < 0:
		return time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

func additionalData(key string) []byte {
	return append([]byte("oauthrt token v1\x00"), key...)
}

// IsSealed reports whether b is the sealed form.
func IsSealed(b []byte) bool { return len(b) > 0 && b[0] == sealed }
