package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/oauthrt/oauthrt"
)

// maxPage is the most records status asks an Inspector for at once.
const maxPage = 1000

// position is where a walk of a store's records stands, between runs of
// status: the Inspector's cursor of the page to read, the page size that
// cursor is good for, and the last key of that page already shown. Its
// text form, in a cursor flag, is opaque to the operator.
type position struct {
	Prefix []byte `json:"p,omitempty"` // the --prefix the cursor belongs to
	Size   int    `json:"n"`           // the page size of the Inspector's cursor
	Page   []byte `json:"c,omitempty"` // the Inspector's cursor; nil: the first page
	After  []byte `json:"a,omitempty"` // the last key shown of that page
	Skip   bool   `json:"s,omitempty"` // After is set (the empty key is a key)
}

// encode returns pos as a cursor flag's value.
func (pos position) encode() string {
	b, err := json.Marshal(pos)
	if err != nil {
		panic(err) // byte slices, an int and a bool always marshal
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePosition reads a cursor flag's value for prefix.
func decodePosition(s, prefix string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var pos position
	if err == nil {
		err = json.Unmarshal(b, &pos)
	}
	if err != nil || pos.Size <= 0 || pos.Size > maxPage {
		return position{}, usagef("--cursor: not a cursor status printed")
	}
	if string(pos.Prefix) != prefix {
		return position{}, usagef("--cursor: the cursor was printed for another --prefix")
	}
	return pos, nil
}

// walk reads records under pos.Prefix from pos on, keeping those keep
// accepts, until it has limit of them (limit 0: until the end). It
// returns them and the position after the last one kept, or done when no
// record is left.
//
// Within a page the Inspector returns keys in ascending order, so a walk
// that stops inside a page resumes by reading that page again and
// skipping the keys up to the last one kept: every key is shown once,
// whatever --limit, as long as the store does not change meanwhile. An
// Inspector may return a key twice in one walk (Redis's SCAN does, when
// the database grows meanwhile): a walk keeps it once.
func walk(ctx context.Context, ins oauthrt.Inspector, pos position, limit int, keep func(oauthrt.Record) bool) (kept []oauthrt.Record, after position, done bool, err error) {
	seen := map[string]bool{}
	keep = func(keep func(oauthrt.Record) bool) func(oauthrt.Record) bool {
		return func(r oauthrt.Record) bool { return !seen[r.Key] && keep(r) }
	}(keep)
	for {
		recs, next, err := ins.Inspect(ctx, string(pos.Prefix), string(pos.Page), pos.Size)
		if err != nil {
			return nil, position{}, false, err
		}
		if pos.Skip {
			i := 0
			for i < len(recs) && recs[i].Key <= string(pos.After) {
				i++
			}
			recs = recs[i:]
		}
		for i, r := range recs {
			if !keep(r) {
				continue
			}
			kept = append(kept, r)
			seen[r.Key] = true
			if limit > 0 && len(kept) == limit {
				rest := recs[i+1:]
				switch {
				case anyKept(rest, keep):
					pos.After, pos.Skip = []byte(r.Key), true
					return kept, pos, false, nil
				case next == "":
					return kept, position{}, true, nil
				}
				pos.Page, pos.After, pos.Skip = []byte(next), nil, false
				return kept, pos, false, nil
			}
		}
		if next == "" {
			return kept, position{}, true, nil
		}
		if next == string(pos.Page) {
			return nil, position{}, false, errors.New("the store's Inspect returned the cursor it was given: the walk would not end")
		}
		pos.Page, pos.After, pos.Skip = []byte(next), nil, false
	}
}

func anyKept(recs []oauthrt.Record, keep func(oauthrt.Record) bool) bool {
	for _, r := range recs {
		if keep(r) {
			return true
		}
	}
	return false
}
