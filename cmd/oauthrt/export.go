package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keyring"
	"github.com/spf13/cobra"
)

// defaultPage is how many records a page of a store walk asks for.
const defaultPage = 500

// fileKeyFlags are the flags that name an export file's keyring.
type fileKeyFlags struct {
	file, env string
	plaintext bool
}

func (f *fileKeyFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.file, "file-keys-file", "", "the keyring file that seals the export file (not the store's)")
	c.Flags().StringVar(&f.env, "file-keys-env", "", "the environment variable holding the export file's keyring")
	c.Flags().BoolVar(&f.plaintext, "plaintext", false, "let the export file be in the clear, unencrypted")
}

// load returns the export file's keyring, nil only with --plaintext;
// verb says what is done to the file, for messages.
func (f *fileKeyFlags) load(verb string) (*keyring.Ring, error) {
	r, err := namedRing(f.file, f.env, "--file-keys-file", "--file-keys-env")
	switch {
	case err != nil:
		return nil, err
	case r != nil && f.plaintext:
		return nil, usagef("give a file keyring or --plaintext, not both")
	case r == nil && !f.plaintext:
		return nil, usagef("refusing to %s an unencrypted export file: give its keyring with --file-keys-file FILE or --file-keys-env NAME (or --plaintext for a file in the clear)", verb)
	}
	return r, nil
}

const exportHelp = `Export writes every grant of the store (or those whose keys start with
--prefix) to FILE: each key's token, with the extra fields of its token
response, and its grant state (healthy, degraded or dead). Leases are
not exported. FILE is sealed with its own keyring (--file-keys-file or
--file-keys-env, not the store's: its first key seals), and written with
mode 0600. An unencrypted FILE takes --plaintext.

A store in use goes on refreshing while it is exported: a token that
rotates after its record was written is stale in FILE, and its refresh
token dead wherever FILE is imported. Stop the services of the store
before an export meant to move them.

Export is resumable: it writes a checkpoint after each page of records,
and export --out FILE --resume keeps FILE up to its last checkpoint and
goes on from there. Without --resume an existing FILE is refused.

A record that does not decode (a wrong store key, a damaged value) stops
the export with a message naming its key, and exit code 1; with
--skip-unreadable it is left out, named on stderr and counted.

The file is JSON lines: a header in the clear,
  {"format":"oauthrt-export","version":1,"id":…,"created":…,"store":…,"prefix":…,"page":…,"sealed":true}
then one line per record, and a checkpoint line after each page, each
  {"seq":N,"type":"record"|"checkpoint"|"end","data":BASE64}
numbered from 1, its payload sealed with additional data binding the
format, version, file id, type and number; the last line is "end". A
record's payload is {"key":…,"token":{…},"state":{…}}, the token in the
stores' JSON form. With --plaintext the payload is "plain": {…}.

Output: "exported N records to FILE" on stdout; with --json
  {"file":…,"records":N,"skipped":K,"complete":true}
Records counts the records the file holds, over every run of a resumed
export; skipped the unreadable ones left out.
`

func (a *app) exportCommand() *cobra.Command {
	var (
		out            string
		prefix         string
		page           int
		resume         bool
		skipUnreadable bool
		keys           fileKeyFlags
	)
	c := &cobra.Command{
		Use:   "export --out FILE",
		Short: "Write a store's grants to an encrypted, portable file",
		Long:  exportHelp,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("export needs --out FILE")
			}
			if page <= 0 {
				return usagef("--page must be positive")
			}
			r, err := keys.load("write")
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			ins, err := inspector(s)
			if err != nil {
				return err
			}
			x := &exporter{a: a, s: s, ins: ins, path: out, skip: skipUnreadable}
			if resume {
				return x.resume(cmd.Context(), r, prefix, cmd.Flags().Changed("prefix"))
			}
			return x.start(cmd.Context(), r, prefix, page)
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "the export `FILE` to write")
	f.StringVar(&prefix, "prefix", "", "export only the keys that start with `P`")
	f.IntVar(&page, "page", defaultPage, "records per page of the store walk, and between checkpoints")
	f.BoolVar(&resume, "resume", false, "continue an export that stopped, from FILE's last checkpoint")
	f.BoolVar(&skipUnreadable, "skip-unreadable", false, "leave out the records that do not decode, rather than fail")
	keys.add(c)
	return c
}

// exporter writes one export file.
type exporter struct {
	a    *app
	s    *store
	ins  oauthrt.Inspector
	path string
	skip bool
}

// start writes a new file.
func (x *exporter) start(ctx context.Context, r *keyring.Ring, prefix string, page int) error {
	f, err := os.OpenFile(x.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return usagef("%s exists: give --resume to continue its export, or another --out", x.path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := newHeader(x.s.name, prefix, page, r != nil)
	if err != nil {
		return err
	}
	w := &exportWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), hdr: h, ring: r}
	if err := w.writeHeader(); err != nil {
		return fmt.Errorf("writing %s: %w", x.path, err)
	}
	if err := w.sync(); err != nil {
		return fmt.Errorf("writing %s: %w", x.path, err)
	}
	return x.walk(ctx, w, exportMark{})
}

// resume continues the export in the file, from its last checkpoint.
func (x *exporter) resume(ctx context.Context, r *keyring.Ring, prefix string, prefixSet bool) error {
	f, err := os.OpenFile(x.path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return usagef("%s does not exist: there is nothing to resume (leave out --resume)", x.path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc, err := scanExport(f, x.path, r, r == nil, true, nil)
	if err != nil {
		return fmt.Errorf("resuming: %w", err)
	}
	h := sc.hdr
	switch {
	case h.Store != x.s.name:
		return usagef("%s is an export of store %s, not of %s: resume it from the same store", x.path, h.Store, x.s.name)
	case prefixSet && prefix != h.Prefix:
		return usagef("%s is an export of the keys starting with %q: resume it with that --prefix", x.path, h.Prefix)
	}
	if sc.end != nil {
		return x.summary(*sc.end, true)
	}
	if err := f.Truncate(sc.lastOff); err != nil {
		return fmt.Errorf("resuming %s: %w", x.path, err)
	}
	if _, err := f.Seek(sc.lastOff, io.SeekStart); err != nil {
		return fmt.Errorf("resuming %s: %w", x.path, err)
	}
	w := &exportWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), hdr: h, ring: r, seq: sc.lastSeq}
	fmt.Fprintf(x.a.stderr, "oauthrt: resuming the export in %s after %d records\n", x.path, sc.last.Records)
	return x.walk(ctx, w, sc.last)
}

// walk exports the store's records from the mark's cursor on.
func (x *exporter) walk(ctx context.Context, w *exportWriter, m exportMark) error {
	p := x.a.newProgress("exported", -1)
	defer p.done()
	h := w.hdr
	for {
		recs, next, err := x.ins.Inspect(ctx, h.Prefix, m.Cursor, h.Page)
		if err != nil {
			return fmt.Errorf("reading store %s: %w (%s holds the records up to its last checkpoint: rerun with --resume)", x.s.name, err, x.path)
		}
		// Check the page before writing any of it, so that the file
		// stops at a checkpoint.
		for _, r := range recs {
			if r.Err != nil && !x.skip {
				return fmt.Errorf("the record of key %q does not decode: %w; %s holds the records before it (rerun with --resume, and --skip-unreadable to leave it out)", r.Key, r.Err, x.path)
			}
		}
		for _, r := range recs {
			if r.Err != nil {
				fmt.Fprintf(x.a.stderr, "oauthrt: leaving out key %q: %v\n", r.Key, r.Err)
				m.Skipped++
				continue
			}
			if err := w.record(r); err != nil {
				return fmt.Errorf("writing %s: %w", x.path, err)
			}
			m.Records++
		}
		p.add(len(recs))
		m.Cursor = next
		typ := lineCheckpoint
		if next == "" {
			typ = lineEnd
		}
		if err := w.line(typ, m); err != nil {
			return fmt.Errorf("writing %s: %w", x.path, err)
		}
		if err := w.sync(); err != nil {
			return fmt.Errorf("writing %s: %w", x.path, err)
		}
		if next == "" {
			p.done()
			return x.summary(m, false)
		}
	}
}

// summary prints what the export wrote.
func (x *exporter) summary(m exportMark, already bool) error {
	if x.a.jsonOut {
		return json.NewEncoder(x.a.stdout).Encode(struct {
			File     string `json:"file"`
			Records  int    `json:"records"`
			Skipped  int    `json:"skipped"`
			Complete bool   `json:"complete"`
		}{x.path, m.Records, m.Skipped, true})
	}
	msg := fmt.Sprintf("exported %d records to %s", m.Records, x.path)
	if already {
		msg = fmt.Sprintf("%s is complete already: %d records", x.path, m.Records)
	}
	if m.Skipped > 0 {
		msg += fmt.Sprintf(" (%d unreadable left out)", m.Skipped)
	}
	fmt.Fprintln(x.a.stdout, msg)
	return nil
}
