package filestore

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/oauthrt/oauthrt"
)

// Grant states live in the token file, in "grant_states" (and, for keys
// that are not valid UTF-8, "byte_key_grant_states"), so that Save and
// Commit delete a key's state in the very write that stores its token.
//
// They do not change the layout version. A release of this package that
// predates them reads the file as before, ignoring both members, and
// drops them the next time it writes the file. That loses nothing that
// matters: a grant state is advisory. A lost backoff costs one more call
// to a failing token endpoint, and a lost dead-grant record one more
// refresh with a refresh token the endpoint then refuses again, after
// which the record is written anew. Raising the version instead would make
// those releases refuse the file, and so stop them from using the tokens
// they share with this one.

// grantRecord is an [oauthrt.GrantState] as the file holds it. Times are
// kept in UTC to the nanosecond; fields at their zero value are left out.
type grantRecord struct {
	DeadToken   string    `json:"dead_token,omitempty"`
	DeadCode    string    `json:"dead_code,omitempty"`
	DeadAt      time.Time `json:"dead_at,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Failures    int       `json:"failures,omitempty"`
	// A release that predates failing_since drops it when it writes the
	// file, as it drops every member it does not know.
	FailingSince time.Time `json:"failing_since,omitzero"`
}

func recordOf(st oauthrt.GrantState) grantRecord {
	return grantRecord{
		DeadToken:    st.DeadToken,
		DeadCode:     st.DeadCode,
		DeadAt:       fileTime(st.DeadAt),
		NextAttempt:  fileTime(st.NextAttempt),
		Failures:     st.Failures,
		FailingSince: fileTime(st.FailingSince),
	}
}

func (r grantRecord) state() oauthrt.GrantState {
	return oauthrt.GrantState{
		DeadToken:    r.DeadToken,
		DeadCode:     r.DeadCode,
		DeadAt:       r.DeadAt,
		NextAttempt:  r.NextAttempt,
		Failures:     r.Failures,
		FailingSince: r.FailingSince,
	}
}

// fileTime is t as the file keeps it: the zero time as it is, any other
// in UTC, without its monotonic reading, and clamped to the years 0 to
// 9999 that JSON's time format spells (a Retry-After of ten thousand
// years would otherwise make the state impossible to save).
func fileTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	t = t.UTC().Round(0)
	switch {
	case t.Year() > 9999:
		return time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	case t.Year() < 0:
		return time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

// grantState returns key's grant record, the zero one when there is none.
func (d *document) grantState(key string) grantRecord {
	if utf8.ValidString(key) {
		return d.GrantStates[key]
	}
	return d.ByteKeyGrantStates[byteKeyName(key)]
}

// putGrantState stores r as key's grant record; the zero record deletes
// it. It reports whether the document changed.
func (d *document) putGrantState(key string, r grantRecord) bool {
	states, name := &d.GrantStates, key
	if !utf8.ValidString(key) {
		states, name = &d.ByteKeyGrantStates, byteKeyName(key)
	}
	if r == (grantRecord{}) {
		_, ok := (*states)[name]
		delete(*states, name)
		return ok
	}
	if *states == nil {
		*states = map[string]grantRecord{}
	}
	(*states)[name] = r
	return true
}

// LoadGrantState returns the grant state kept for key, or the zero
// GrantState when none is, whether or not a token is. Its times are in
// UTC, with the precision they were saved with (the nanosecond). Like
// Load, it reads the file (the key's record, with Dir) without locking.
func (s *Store) LoadGrantState(ctx context.Context, key string) (oauthrt.GrantState, error) {
	if err := s.check(ctx); err != nil {
		return oauthrt.GrantState{}, err
	}
	if s.Dir != "" {
		r, err := s.readDirRecord(key)
		if err != nil {
			return oauthrt.GrantState{}, err
		}
		return r.GrantState.state(), nil
	}
	doc, err := s.read()
	if err != nil {
		return oauthrt.GrantState{}, err
	}
	return doc.grantState(key).state(), nil
}

// SaveGrantState replaces the grant state kept for key, leaving its token
// as it is; the zero GrantState deletes it. It writes the file (the
// key's record, with Dir) under the lock, as Save does. The state is stored in the clear even with an AEAD:
// it holds fingerprints and times, no token. Times are stored in UTC to
// the nanosecond, and those past the year 9999 as its last instant.
func (s *Store) SaveGrantState(ctx context.Context, key string, st oauthrt.GrantState) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	r := recordOf(st)
	if s.Dir != "" {
		return s.updateRecord(ctx, key, func(rec *keyRecord) (bool, error) {
			changed := rec.GrantState != r
			rec.GrantState = r
			return changed, nil
		})
	}
	return s.update(ctx, func(doc *document) (bool, error) {
		return doc.putGrantState(key, r), nil
	})
}
