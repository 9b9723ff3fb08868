package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

const importHelp = `Import writes the grants of an export file (see oauthrt help export)
into the store: each key's token, with its extra fields, and its grant
state.

An encrypted file is imported into a store with a keyring (--keys-file
or --keys-env), unless --store-plaintext lets the store hold its grants
in the clear.

It reads and checks the whole file first: a wrong file key, a damaged
line or a file cut short stops it with exit code 1 before anything is
written. Then each key is written under its lease, as a refresh writes
it, so that the services using the store may keep running:

  - a key the store does not hold is written;
  - a key holding the same token (the same access and refresh token) is
    left alone, and given the file's grant state: importing twice
    changes nothing, and an import that stopped is simply run again;
  - a key holding another token is a conflict: it is left alone and
    named on stderr, and the import ends with exit code 1, unless
    --overwrite, which gives it the file's token.

A key whose lease stays held by a service is tried again at the end of
the run; one still held then is named, and the exit code is 1.

Output: a summary line on stdout; with --json
  {"records":N,"written":N,"unchanged":N,"overwritten":N,"conflicts":N,"busy":N,"failed":N}
`

func (a *app) importCommand() *cobra.Command {
	var (
		in             string
		overwrite      bool
		storePlaintext bool
		keys           fileKeyFlags
	)
	c := &cobra.Command{
		Use:   "import --in FILE",
		Short: "Write the grants of an export file into a store",
		Long:  importHelp,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return usagef("import needs --in FILE")
			}
			// The file's header says whether it is sealed: scanExport
			// checks the keyring, or --plaintext, against it.
			r, err := namedRing(keys.file, keys.env, "--file-keys-file", "--file-keys-env")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// Check the whole file, and find the last record of each key
			// (a walk may have met a key twice).
			last := make(map[string]int64)
			scan := func(each func(seq int64, g movedGrant) error) (*exportScan, error) {
				f, err := os.Open(in)
				if err != nil {
					return nil, usageError{err}
				}
				defer f.Close()
				sc, err := scanExport(f, in, r, keys.plaintext, false, each)
				if err == nil && sc.end == nil {
					err = &errExportFile{in + ": the file ends before its end line: it is truncated, or its export did not finish (rerun export --resume)"}
				}
				return sc, err
			}
			sc, err := scan(func(seq int64, g movedGrant) error {
				last[g.key] = seq
				return nil
			})
			if err != nil {
				return nothingWritten(err)
			}
			if sc.hdr.Sealed && a.keysFile == "" && a.keysEnv == "" && !storePlaintext {
				return usagef("the store has no keyring: the grants, encrypted in %s, would be stored in the clear; give --keys-file or --keys-env, or --store-plaintext", in)
			}

			s, err := a.create(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			w, err := newWriter(ctx, s, true)
			if err != nil {
				return err
			}
			w.overwrite = overwrite
			run := newWriteRun(a, w, "imported", len(last))
			if _, err := scan(func(seq int64, g movedGrant) error {
				if last[g.key] == seq {
					run.put(ctx, g)
				}
				return ctx.Err()
			}); err != nil {
				return fmt.Errorf("%w (the file changed while it was imported?)", err)
			}
			return run.finish(ctx)
		},
	}
	c.Flags().StringVar(&in, "in", "", "the export `FILE` to read")
	c.Flags().BoolVar(&overwrite, "overwrite", false, "give a key that holds another token the file's")
	c.Flags().BoolVar(&storePlaintext, "store-plaintext", false, "let a store without a keyring hold the grants of an encrypted file in the clear")
	keys.add(c)
	return c
}

// nothingWritten adds to an error found before any write that nothing
// was written.
func nothingWritten(err error) error {
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%w; nothing was written", err)
}

// writeRun writes the grants of an import or a migration into a store,
// and reports what it did.
type writeRun struct {
	a    *app
	w    *writer
	p    *progress
	t    tally
	busy map[string]movedGrant // the keys whose lease was busy, to try again
	// busyKeys keeps them in order.
	busyKeys []string
}

func newWriteRun(a *app, w *writer, verb string, total int) *writeRun {
	return &writeRun{a: a, w: w, p: a.newProgress(verb, total), busy: make(map[string]movedGrant)}
}

// put writes g, or puts it aside when its lease is busy.
func (r *writeRun) put(ctx context.Context, g movedGrant) {
	o, err := r.w.put(ctx, g.key, g.tok, g.state, firstLeaseWait)
	if errors.Is(err, errBusy) {
		if _, ok := r.busy[g.key]; !ok {
			r.busyKeys = append(r.busyKeys, g.key)
		}
		r.busy[g.key] = g
		return
	}
	r.done(g.key, o, err)
}

// done counts key's outcome, or its failure.
func (r *writeRun) done(key string, o outcome, err error) {
	r.p.add(1)
	if err != nil {
		r.t.failed++
		fmt.Fprintf(r.a.stderr, "oauthrt: key %q was not written: %v\n", key, err)
		return
	}
	if o == outConflict {
		fmt.Fprintf(r.a.stderr, "oauthrt: key %q holds another token in the store: left as it is (--overwrite replaces it)\n", key)
	}
	r.t.add(o)
}

// finish tries the busy keys again, prints the summary, and returns an
// error when a key was not written as asked.
func (r *writeRun) finish(ctx context.Context) error {
	still := retryBusy(ctx, r.busyKeys, func(key string) (outcome, error) {
		g := r.busy[key]
		return r.w.put(ctx, key, g.tok, g.state, retryLeaseWait)
	}, func(key string, o outcome, err error) {
		if err == nil {
			r.t.busyThenDone++
		}
		r.done(key, o, err)
	})
	for _, k := range still {
		fmt.Fprintf(r.a.stderr, "oauthrt: key %q was not written: %v\n", k, errBusy)
	}
	r.p.done()
	t := r.t
	n := t.written + t.same + t.conflicts + t.overwritten + t.failed + len(still)
	if r.a.jsonOut {
		if err := json.NewEncoder(r.a.stdout).Encode(struct {
			Records     int `json:"records"`
			Written     int `json:"written"`
			Unchanged   int `json:"unchanged"`
			Overwritten int `json:"overwritten"`
			Conflicts   int `json:"conflicts"`
			Busy        int `json:"busy"`
			Failed      int `json:"failed"`
		}{n, t.written, t.same, t.overwritten, t.conflicts, len(still), t.failed}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(r.a.stdout, "%s: %d records: %d written, %d unchanged, %d overwritten, %d conflicts, %d busy, %d failed\n",
			r.w.name, n, t.written, t.same, t.overwritten, t.conflicts, len(still), t.failed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.conflicts+t.failed+len(still) > 0 {
		return fmt.Errorf("%d conflicts, %d keys failed and %d stayed busy: see above; the run can be repeated", t.conflicts, t.failed, len(still))
	}
	return nil
}
