package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keyring"
	"github.com/spf13/cobra"
)

const rekeyHelp = `Rekey rewrites every record of the store that is not sealed with the
keyring's primary key (its first), so that the keys after it can leave
the ring. Give the keyring with --keys-file or --keys-env: the new key
first, and every older key that still seals records after it.

The services using the store may keep running: each record is written
under its key's lease, as a refresh writes it, its token and grant state
unchanged, and the store seals it with the primary key. A record already
on the primary is skipped, so rekey that stopped is simply run again.
A key whose lease stays held by a service is tried again at the end of
the run.

A record that no key of the ring opens (a key missing from the ring, a
damaged value) or that is stored in the clear is named on stderr and
left as it is, and the exit code is 1.

Output: a summary line on stdout; with --json
  {"records":N,"rewritten":N,"current":N,"unreadable":N,"busy_then_done":N,"busy":N,"failed":N}
busy_then_done counts the rewritten records whose lease was held at the
first try; busy those whose lease stayed held to the end.
Run oauthrt keys to see how many records each key still seals.
`

func (a *app) rekeyCommand() *cobra.Command {
	var (
		prefix string
		page   int
	)
	c := &cobra.Command{
		Use:   "rekey",
		Short: "Rewrite every record with the keyring's newest key",
		Long:  rekeyHelp,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if page <= 0 {
				return usagef("--page must be positive")
			}
			ctx := cmd.Context()
			ring, err := a.needRing("rekey")
			if err != nil {
				return err
			}
			s, err := openStore(ctx, a.storeURL, ring)
			if err != nil {
				return err
			}
			defer s.Close()
			// The walk reads through a view of the store that opens only
			// what the primary key sealed, naming it: every other record,
			// one sealed by a bare AEAD before the ring included, is read
			// again with the whole ring under its lease, and rewritten.
			view, err := openStore(ctx, a.storeURL, primaryOnly{ring})
			if err != nil {
				return err
			}
			defer view.Close()
			ins, err := inspector(view)
			if err != nil {
				return err
			}
			w, err := newWriter(ctx, s, false)
			if err != nil {
				return err
			}
			p := a.newProgress("rekeyed", -1)
			defer p.done()
			var (
				t          tally
				records    int
				current    int
				unreadable int
				busy       []string
			)
			done := func(key string, o outcome, err error) {
				p.add(1)
				if errors.Is(err, errUnreadable) {
					unreadable++
					fmt.Fprintf(a.stderr, "oauthrt: key %q: no key of the ring opens its record, left as it is: %v\n", key, err)
					return
				}
				if err != nil {
					t.failed++
					fmt.Fprintf(a.stderr, "oauthrt: key %q was not rewritten: %v\n", key, err)
					return
				}
				t.add(o)
			}
			err = walkRecords(ctx, ins, prefix, page, func(r oauthrt.Record) error {
				records++
				switch {
				case !r.Sealed:
					unreadable++
					p.add(1)
					fmt.Fprintf(a.stderr, "oauthrt: key %q is stored in the clear: the store does not read it, and rekey leaves it\n", r.Key)
					return nil
				case r.Err == nil:
					current++
					p.add(1)
					return nil
				}
				o, err := w.reseal(ctx, r.Key, firstLeaseWait)
				if errors.Is(err, errBusy) {
					busy = append(busy, r.Key)
					return nil
				}
				done(r.Key, o, err)
				return ctx.Err()
			})
			if err != nil {
				return fmt.Errorf("reading store %s: %w (rerun rekey to go on)", s.name, err)
			}
			still := retryBusy(ctx, busy, func(key string) (outcome, error) {
				return w.reseal(ctx, key, retryLeaseWait)
			}, func(key string, o outcome, err error) {
				if err == nil {
					t.busyThenDone++
				}
				done(key, o, err)
			})
			for _, k := range still {
				fmt.Fprintf(a.stderr, "oauthrt: key %q was not rewritten: %v\n", k, errBusy)
			}
			p.done()
			// A key that held no token any more by the time its lease was
			// taken counts as current: there is nothing left to rewrite.
			current += t.same
			if a.jsonOut {
				err = json.NewEncoder(a.stdout).Encode(struct {
					Records      int `json:"records"`
					Rewritten    int `json:"rewritten"`
					Current      int `json:"current"`
					Unreadable   int `json:"unreadable"`
					BusyThenDone int `json:"busy_then_done"`
					Busy         int `json:"busy"`
					Failed       int `json:"failed"`
				}{records, t.resealed, current, unreadable, t.busyThenDone, len(still), t.failed})
				if err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "%s: %d records: %d rewritten, %d already current, %d unreadable, %d busy then done, %d busy, %d failed\n",
					s.name, records, t.resealed, current, unreadable, t.busyThenDone, len(still), t.failed)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if n := unreadable + t.failed + len(still); n > 0 {
				return fmt.Errorf("%d records were not rewritten (see above); rerun rekey once they are dealt with", n)
			}
			return nil
		},
	}
	c.Flags().StringVar(&prefix, "prefix", "", "rewrite only the keys that start with `P`")
	c.Flags().IntVar(&page, "page", defaultPage, "records per page of the store walk")
	return c
}

// primaryOnly is a view of a keyring that opens only what the ring's
// primary key sealed as a ring seals, its ID in front: rekey walks the
// store through it to find every record to rewrite. It never seals.
type primaryOnly struct{ ring *keyring.Ring }

func (p primaryOnly) NonceSize() int { return p.ring.NonceSize() }
func (p primaryOnly) Overhead() int  { return p.ring.Overhead() }

func (p primaryOnly) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	panic("oauthrt: rekey's view of the store does not write")
}

func (p primaryOnly) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	id := p.ring.Primary()
	if named, ok := p.ring.Named(ciphertext); !ok || named != id {
		return nil, errors.New("oauthrt: not sealed by the primary key")
	}
	out, kid, err := p.ring.OpenKey(dst, nonce, ciphertext, additionalData)
	if err == nil && kid != id {
		return nil, errors.New("oauthrt: not sealed by the primary key")
	}
	return out, err
}
