package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/providers"
	"golang.org/x/oauth2"
)

// What status and show say about one record of a store: its health as
// the fleet recorded it, and the facts about its token that hold no
// secret.

// healthUnreadable is the health of a record whose token does not open
// or decode: status shows it beside the healths of oauthrt.
const healthUnreadable = "unreadable"

// grant is a record of a store, read through oauthrt.Inspector, with
// its status.
type grant struct {
	rec    oauthrt.Record
	status oauthrt.GrantStatus
}

// newGrant returns the grant of rec. A dead state recorded for another
// token than the one stored (saved since, by a store of an earlier
// release) is not the stored grant's, as Transport.Status decides.
func newGrant(rec oauthrt.Record) grant {
	st := rec.State
	if rec.Token != nil && st.DeadToken != "" && st.DeadToken != oauthrt.Fingerprint(rec.Token) {
		st.DeadToken, st.DeadCode, st.DeadAt = "", "", time.Time{}
	}
	return grant{rec: rec, status: oauthrt.StatusOf(rec.Key, st)}
}

// health returns the grant's health: "unreadable" when its token does
// not open or decode, else oauthrt's.
func (g grant) health() string {
	if g.rec.Err != nil {
		return healthUnreadable
	}
	return string(g.status.Health)
}

// reason says in a few words why an unreadable record could not be
// read; keyed reports whether the command was given a keyring.
func (g grant) reason(keyed bool) string {
	switch err := g.rec.Err; {
	case err == nil:
		return ""
	case errors.Is(err, oauthrt.ErrDecrypt) && !keyed && g.rec.Sealed:
		return "no key"
	case errors.Is(err, oauthrt.ErrDecrypt):
		return "wrong key"
	case errors.Is(err, oauthrt.ErrCorruptToken):
		return "damaged"
	}
	return "unreadable"
}

// refreshed returns when the grant's access token was issued: its expiry
// less its expires_in. ok is false when the token does not say.
func (g grant) refreshed() (t time.Time, ok bool) {
	tok := g.rec.Token
	if tok == nil || tok.ExpiresIn <= 0 || tok.Expiry.IsZero() {
		return time.Time{}, false
	}
	return tok.Expiry.Add(-time.Duration(tok.ExpiresIn) * time.Second), true
}

// idleWarn is the part of a provider's idle lifetime past which a grant's
// idleness is flagged.
const idleWarn = 0.8

// idleness describes how long a grant has gone unrefreshed, against a
// provider's idle lifetime.
type idleness struct {
	idle     time.Duration // since the last refresh; valid when known
	known    bool          // the refresh time is known
	limit    time.Duration // the provider's idle lifetime; 0: none
	limitSet bool          // a provider was named and knows its idle lifetime
	warn     bool          // idle past idleWarn of limit
}

// idleOf returns g's idleness at now against p's idle lifetime (p nil: no
// provider named).
func idleOf(g grant, p *providers.Provider, now time.Time) idleness {
	var in idleness
	if at, ok := g.refreshed(); ok {
		in.idle, in.known = now.Sub(at), true
	}
	if p != nil && p.IdleLifetime.Known {
		in.limit, in.limitSet = p.IdleLifetime.Value, true
		in.warn = in.known && in.limit > 0 && float64(in.idle) > idleWarn*float64(in.limit)
	}
	return in
}

// text describes in as the REFRESHED column shows it.
func (in idleness) text(p *providers.Provider) string {
	switch {
	case !in.known:
		return "unknown"
	case p == nil:
		return ago(in.idle)
	case !in.limitSet:
		return span(in.idle) + " of unknown idle"
	case in.limit == 0:
		return ago(in.idle) + ", no idle limit"
	case in.warn:
		return span(in.idle) + " of " + span(in.limit) + " idle !"
	}
	return span(in.idle) + " of " + span(in.limit) + " idle"
}

// short returns the first 12 hex digits of a fingerprint: enough to tell
// tokens apart on a screen.
func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// accessPrint and refreshPrint fingerprint one of tok's tokens alone, so
// that each can be followed on its own across refreshes; "" when tok has
// none.
func accessPrint(tok *oauth2.Token) string {
	if tok == nil || tok.AccessToken == "" {
		return ""
	}
	return short(oauthrt.Fingerprint(&oauth2.Token{AccessToken: tok.AccessToken}))
}

func refreshPrint(tok *oauth2.Token) string {
	if tok == nil || tok.RefreshToken == "" {
		return ""
	}
	return short(oauthrt.Fingerprint(&oauth2.Token{RefreshToken: tok.RefreshToken}))
}

// inspector returns s's Inspector, or an error saying the store cannot be
// listed.
func inspector(s *store) (oauthrt.Inspector, error) {
	ins, ok := s.TokenStore.(oauthrt.Inspector)
	if !ok {
		return nil, fmt.Errorf("store %s: it cannot describe its records (%T is no oauthrt.Inspector)", s.name, s.TokenStore)
	}
	return ins, nil
}

// lookupProvider returns the catalog's provider id; nil for "".
func lookupProvider(id string) (*providers.Provider, error) {
	if id == "" {
		return nil, nil
	}
	p, ok := providers.Lookup(id)
	if !ok {
		return nil, usagef("--provider %q: no such provider in the catalog", id)
	}
	return p, nil
}

// inspectKey returns the record of key, walking the records under the
// prefix key until it turns up. ok is false when key holds no token.
func inspectKey(ctx context.Context, ins oauthrt.Inspector, key string) (rec oauthrt.Record, ok bool, err error) {
	cursor := ""
	for {
		recs, next, err := ins.Inspect(ctx, key, cursor, 100)
		if err != nil {
			return oauthrt.Record{}, false, err
		}
		for _, r := range recs {
			if r.Key == key {
				return r, true, nil
			}
		}
		if next == "" {
			return oauthrt.Record{}, false, nil
		}
		cursor = next
	}
}
