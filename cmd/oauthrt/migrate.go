package main

import (
	"context"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/spf13/cobra"
)

const migrateHelp = `Migrate copies every grant of one store (--from URL) into another
(--to URL): each key's token, with the extra fields of its token
response, and its grant state; not its lease. --store is not used.

The stores may use different keyrings: --from-keys-file or
--from-keys-env opens the source, --to-keys-file or --to-keys-env seals
in the destination (its first key). Grants of an encrypted source go
into a destination with a keyring, unless --to-plaintext lets it hold
them in the clear.

It reads every record of the source first: one that does not decode (a
wrong key, a damaged value) stops it with exit code 1 before anything is
written, unless --skip-unreadable, which leaves such records out and
names them on stderr. Then it writes each key under its lease in the
destination, with the rules of import (see oauthrt help import): a key
holding the same token is left alone, a key holding another one is a
conflict unless --overwrite. Running it again writes nothing new: a
migration that stopped is simply run again.

A store in use goes on refreshing while it is read: stop the services
of the source, migrate, then start them on the destination, or a token
rotated after it was copied is stale in the destination.

Output: a summary line on stdout; with --json
  {"records":N,"written":N,"unchanged":N,"overwritten":N,"conflicts":N,"busy":N,"failed":N}
and "skipped":N, the unreadable records left out, in a line of its own
before it when there are any.
`

func (a *app) migrateCommand() *cobra.Command {
	var (
		from, to                  string
		fromKeysFile, fromKeysEnv string
		toKeysFile, toKeysEnv     string
		prefix                    string
		page                      int
		overwrite, skipUnreadable bool
		toPlaintext               bool
	)
	c := &cobra.Command{
		Use:   "migrate --from URL --to URL",
		Short: "Copy a store's grants into another store",
		Long:  migrateHelp,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case from == "" || to == "":
				return usagef("migrate needs --from URL and --to URL")
			case from == to:
				return usagef("--from and --to name the same store")
			case page <= 0:
				return usagef("--page must be positive")
			}
			ctx := cmd.Context()
			fromRing, err := namedRing(fromKeysFile, fromKeysEnv, "--from-keys-file", "--from-keys-env")
			if err != nil {
				return err
			}
			toRing, err := namedRing(toKeysFile, toKeysEnv, "--to-keys-file", "--to-keys-env")
			if err != nil {
				return err
			}
			if fromRing != nil && toRing == nil && !toPlaintext {
				return usagef("--to has no keyring: the grants, encrypted in --from, would be stored in the clear; give --to-keys-file or --to-keys-env, or --to-plaintext")
			}
			src, err := openStore(ctx, from, aeadOf(fromRing))
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := createStore(ctx, to, aeadOf(toRing))
			if err != nil {
				return err
			}
			defer dst.Close()
			ins, err := inspector(src)
			if err != nil {
				return err
			}
			w, err := newWriter(ctx, dst, true)
			if err != nil {
				return err
			}
			w.overwrite = overwrite

			// Read everything first: a wrong key writes nothing.
			total, bad := 0, 0
			err = walkRecords(ctx, ins, prefix, page, func(r oauthrt.Record) error {
				total++
				if r.Err != nil {
					bad++
					if !skipUnreadable {
						fmt.Fprintf(a.stderr, "oauthrt: the record of key %q does not decode: %v\n", r.Key, r.Err)
					}
				}
				return nil
			})
			if err != nil {
				return nothingWritten(fmt.Errorf("reading store %s: %w", src.name, err))
			}
			if bad > 0 && !skipUnreadable {
				return nothingWritten(fmt.Errorf("%d records of store %s do not decode (see above; --skip-unreadable leaves them out)", bad, src.name))
			}

			run := newWriteRun(a, w, "migrated", total-bad)
			skipped := 0
			err = walkRecords(ctx, ins, prefix, page, func(r oauthrt.Record) error {
				if r.Err != nil {
					// Named whether or not it was met in the first walk.
					fmt.Fprintf(a.stderr, "oauthrt: leaving out key %q: %v\n", r.Key, r.Err)
					skipped++
					return nil
				}
				run.put(ctx, movedGrant{key: r.Key, tok: r.Token, state: r.State})
				return ctx.Err()
			})
			if err != nil {
				run.p.done()
				return fmt.Errorf("reading store %s: %w (rerun migrate to go on)", src.name, err)
			}
			if skipped > 0 {
				a.printSkipped(skipped)
			}
			if err := run.finish(ctx); err != nil {
				return err
			}
			if skipped > 0 && !skipUnreadable {
				return fmt.Errorf("%d records of store %s did not decode (see above)", skipped, src.name)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "the `URL` of the store to copy")
	f.StringVar(&to, "to", "", "the `URL` of the store to copy into")
	f.StringVar(&fromKeysFile, "from-keys-file", "", "the keyring file of the --from store")
	f.StringVar(&fromKeysEnv, "from-keys-env", "", "the environment variable holding the --from store's keyring")
	f.StringVar(&toKeysFile, "to-keys-file", "", "the keyring file of the --to store")
	f.StringVar(&toKeysEnv, "to-keys-env", "", "the environment variable holding the --to store's keyring")
	f.StringVar(&prefix, "prefix", "", "copy only the keys that start with `P`")
	f.IntVar(&page, "page", defaultPage, "records per page of the store walk")
	f.BoolVar(&overwrite, "overwrite", false, "give a key that holds another token the source's")
	f.BoolVar(&toPlaintext, "to-plaintext", false, "let a --to store without a keyring hold the grants of an encrypted --from in the clear")
	f.BoolVar(&skipUnreadable, "skip-unreadable", false, "leave out the records that do not decode, rather than fail")
	return c
}

// printSkipped reports, in a line of its own, how many unreadable
// records were left out.
func (a *app) printSkipped(n int) {
	if a.jsonOut {
		fmt.Fprintf(a.stdout, "{\"skipped\":%d}\n", n)
		return
	}
	fmt.Fprintf(a.stdout, "%d unreadable records left out\n", n)
}

// walkRecords calls each with every record of ins whose key starts with
// prefix, a page of limit at a time, until each returns an error. A key
// the walk meets again (Redis' SCAN may) is passed once.
func walkRecords(ctx context.Context, ins oauthrt.Inspector, prefix string, limit int, each func(oauthrt.Record) error) error {
	cursor := ""
	seen := make(map[string]bool)
	for {
		recs, next, err := ins.Inspect(ctx, prefix, cursor, limit)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if seen[r.Key] {
				continue
			}
			seen[r.Key] = true
			if err := each(r); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}
