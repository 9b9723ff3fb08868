package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/oauthrt/oauthrt/keyring"
	"golang.org/x/oauth2"
)

// The export file: a portable copy of a store's grants, which export
// writes and import reads. It is JSON lines:
//
//	{"format":"oauthrt-export","version":1,"id":"…","created":"…","store":"…","prefix":"…","page":500,"sealed":true}
//	{"seq":1,"type":"record","data":"…"}
//	{"seq":2,"type":"record","data":"…"}
//	{"seq":3,"type":"checkpoint","data":"…"}
//	…
//	{"seq":N,"type":"end","data":"…"}
//
// The first line is the header, in the clear: the format and its
// version, a random file id, when the export started, the store it
// read (its URL without password), the key prefix and page size of the
// walk, and whether the lines are sealed. Every other line has a
// sequence number, from 1 and one more on each line, a type, and its
// payload, a JSON object:
//
//   - record: {"key":…,"token":…,"state":…}: the store key, the token in
//     the stores' plain JSON form (internal/tokencodec: access and
//     refresh token, type, expiry and the extra fields of the token
//     response), and the grant state (see oauthrt.GrantState), absent
//     when zero.
//   - checkpoint, after each page of the walk but the last:
//     {"cursor":…,"records":…,"skipped":…}: the store's Inspect cursor
//     of the next page, and how many records and unreadable keys the file
//     has counted so far. export --resume continues from the last one.
//   - end, the last line: {"records":…,"skipped":…}. A file without it
//     is an export that did not finish.
//
// In a sealed file ("sealed":true) the payload is "data": the base64
// of a nonce and the payload sealed with the file's keyring (see the
// keyring package; its primary key seals), whose additional data is
// "oauthrt-export", the version, the file id, the line's type and its
// sequence number, NUL-separated: a line moved to another place or
// another file, or a file cut short, does not pass. In a file written
// with --plaintext the payload is "plain", the JSON object itself.
// A key may appear in more than one record (a store walk may meet a key
// twice); the last one is the newest.

// exportFormat and exportVersion name the file's format in its header.
const (
	exportFormat  = "oauthrt-export"
	exportVersion = 1
)

// The types of the lines after the header.
const (
	lineRecord     = "record"
	lineCheckpoint = "checkpoint"
	lineEnd        = "end"
)

// exportHeader is the file's first line.
type exportHeader struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Store   string    `json:"store"`
	Prefix  string    `json:"prefix"`
	Page    int       `json:"page"`
	Sealed  bool      `json:"sealed"`
}

// exportLine is every line after the header.
type exportLine struct {
	Seq   int64           `json:"seq"`
	Type  string          `json:"type"`
	Data  string          `json:"data,omitempty"`
	Plain json.RawMessage `json:"plain,omitempty"`
}

// exportRecord is a record line's payload.
type exportRecord struct {
	Key   string          `json:"key"`
	Token json.RawMessage `json:"token"`
	State *exportState    `json:"state,omitempty"`
}

// exportState is an oauthrt.GrantState in the file.
type exportState struct {
	DeadToken    string    `json:"dead_token,omitempty"`
	DeadCode     string    `json:"dead_code,omitempty"`
	DeadAt       time.Time `json:"dead_at,omitzero"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
	Failures     int       `json:"failures,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// exportMark is the payload of a checkpoint line (with its Cursor) and
// of the end line.
type exportMark struct {
	Cursor  string `json:"cursor,omitempty"`
	Records int    `json:"records"`
	Skipped int    `json:"skipped"`
}

// movedGrant is one record of the file, decoded.
type movedGrant struct {
	key   string
	tok   *oauth2.Token
	state oauthrt.GrantState
}

func stateOut(st oauthrt.GrantState) *exportState {
	if st.IsZero() {
		return nil
	}
	return &exportState{st.DeadToken, st.DeadCode, st.DeadAt.UTC(), st.NextAttempt.UTC(), st.Failures, st.FailingSince.UTC()}
}

func (s *exportState) state() oauthrt.GrantState {
	if s == nil {
		return oauthrt.GrantState{}
	}
	return oauthrt.GrantState{DeadToken: s.DeadToken, DeadCode: s.DeadCode, DeadAt: s.DeadAt, NextAttempt: s.NextAttempt, Failures: s.Failures, FailingSince: s.FailingSince}
}

// additionalData is what a sealed line's AEAD authenticates beside its
// payload.
func additionalData(h *exportHeader, typ string, seq int64) []byte {
	return fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s\x00%d", exportFormat, exportVersion, h.ID, typ, seq)
}

// exportWriter appends lines to an export file.
type exportWriter struct {
	f    *os.File
	w    *bufio.Writer
	hdr  *exportHeader
	ring *keyring.Ring // nil: the file is written in the clear
	seq  int64         // the last line's
}

// newHeader returns the header of a new export.
func newHeader(storeName, prefix string, page int, sealed bool) (*exportHeader, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	return &exportHeader{Format: exportFormat, Version: exportVersion, ID: hex.EncodeToString(id[:]),
		Created: time.Now().UTC().Truncate(time.Second), Store: storeName, Prefix: prefix, Page: page, Sealed: sealed}, nil
}

// writeHeader writes the header line.
func (e *exportWriter) writeHeader() error {
	b, err := json.Marshal(e.hdr)
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}

// line writes the next line, of type typ, with payload v.
func (e *exportWriter) line(typ string, v any) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a %s line: %T", typ, err)
	}
	e.seq++
	l := exportLine{Seq: e.seq, Type: typ}
	if e.ring == nil {
		l.Plain = plain
	} else {
		nonce := make([]byte, e.ring.NonceSize(), e.ring.NonceSize()+len(plain)+e.ring.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		sealed := e.ring.Seal(nonce, nonce, plain, additionalData(e.hdr, typ, e.seq))
		clear(plain)
		l.Data = base64.StdEncoding.EncodeToString(sealed)
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}

// record writes a record line.
func (e *exportWriter) record(r oauthrt.Record) error {
	tok, err := tokencodec.Encode(r.Token, nil, r.Key)
	if err != nil {
		return fmt.Errorf("key %q: %w", r.Key, err)
	}
	err = e.line(lineRecord, exportRecord{Key: r.Key, Token: tok, State: stateOut(r.State)})
	clear(tok)
	return err
}

// sync writes what is buffered to the file's storage.
func (e *exportWriter) sync() error {
	if err := e.w.Flush(); err != nil {
		return err
	}
	return e.f.Sync()
}

// exportScan is what scanExport found in a file.
type exportScan struct {
	hdr *exportHeader
	// end is the end line's payload; nil when the file has none.
	end *exportMark
	// records counts the record lines.
	records int
	// last is the last checkpoint, and lastOff the offset just after its
	// line (after the header's when there is none), lastSeq its number.
	last    exportMark
	lastOff int64
	lastSeq int64
	// partial reports that the file ends in a line cut short.
	partial bool
}

// errExportFile marks a file that is not a good export; its message says
// where and why, never what the line holds.
type errExportFile struct{ msg string }

func (e *errExportFile) Error() string { return e.msg }

// scanExport reads the export file r, named path, checking every line: it
// must parse, follow the one before it, and open with ring (nil for a
// file in the clear). It calls each, when not nil, with every record in
// order, and stops at the first error each returns. A last line without
// its newline is an error unless partialOK (export --resume: a line cut
// by a crash), and then it is left out. plainOK allows a file in the
// clear.
func scanExport(r io.Reader, path string, ring *keyring.Ring, plainOK, partialOK bool, each func(seq int64, g movedGrant) error) (*exportScan, error) {
	bad := func(format string, args ...any) error {
		return &errExportFile{path + ": " + fmt.Sprintf(format, args...)}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	next := func() ([]byte, bool, error) {
		b, err := br.ReadBytes('\n')
		off += int64(len(b))
		switch {
		case err == io.EOF && len(b) == 0:
			return nil, false, io.EOF
		case err == io.EOF:
			return b, false, nil
		case err != nil:
			return nil, false, err
		}
		return b[:len(b)-1], true, nil
	}

	first, whole, err := next()
	if err == io.EOF {
		return nil, bad("the file is empty: not an oauthrt export")
	} else if err != nil {
		return nil, err
	}
	var h exportHeader
	if json.Unmarshal(first, &h) != nil || h.Format != exportFormat || !whole {
		return nil, bad("line 1 is not the header of an oauthrt export")
	}
	if h.Version != exportVersion {
		return nil, bad("an export of version %d; this oauthrt reads version %d", h.Version, exportVersion)
	}
	switch {
	case h.Sealed && ring == nil:
		return nil, usagef("%s is encrypted: give its keyring with --file-keys-file FILE or --file-keys-env NAME", path)
	case !h.Sealed && ring != nil:
		return nil, usagef("%s is not encrypted, yet a file keyring was given: give none, and --plaintext, to read a file in the clear", path)
	case !h.Sealed && !plainOK:
		return nil, usagef("%s is not encrypted: give --plaintext to read a file in the clear", path)
	}
	sc := &exportScan{hdr: &h, lastOff: off}
	for n := 2; ; n++ {
		b, whole, err := next()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if !whole {
			if partialOK {
				sc.partial = true
				break
			}
			return nil, bad("line %d is cut short: the file is truncated", n)
		}
		if sc.end != nil {
			return nil, bad("line %d follows the end line: the file is damaged", n)
		}
		var l exportLine
		if json.Unmarshal(b, &l) != nil {
			return nil, bad("line %d is not a line of an oauthrt export: the file is damaged", n)
		}
		if l.Seq != int64(n-1) {
			return nil, bad("line %d is numbered %d: lines are missing, repeated or out of order", n, l.Seq)
		}
		var payload []byte
		if h.Sealed {
			sealed, err := base64.StdEncoding.DecodeString(l.Data)
			if err != nil || len(sealed) < ring.NonceSize() {
				return nil, bad("line %d is damaged", n)
			}
			ns := ring.NonceSize()
			payload, err = ring.Open(nil, sealed[:ns], sealed[ns:], additionalData(&h, l.Type, l.Seq))
			if err != nil {
				return nil, bad("line %d does not open with the file keyring: a wrong key, or a damaged line", n)
			}
		} else {
			if len(l.Plain) == 0 {
				return nil, bad("line %d has no payload: the file is damaged", n)
			}
			payload = l.Plain
		}
		switch l.Type {
		case lineRecord:
			g, err := decodeRecord(payload)
			clear(payload)
			if err != nil {
				return nil, bad("line %d: %v", n, err)
			}
			sc.records++
			if each != nil {
				if err := each(l.Seq, g); err != nil {
					return sc, err
				}
			}
		case lineCheckpoint, lineEnd:
			var m exportMark
			if err := json.Unmarshal(payload, &m); err != nil {
				return nil, bad("line %d: its %s does not decode", n, l.Type)
			}
			if m.Records != sc.records {
				return nil, bad("line %d: its %s counts %d records, the file holds %d before it", n, l.Type, m.Records, sc.records)
			}
			if l.Type == lineEnd {
				sc.end = &m
			} else {
				sc.last, sc.lastOff, sc.lastSeq = m, off, l.Seq
			}
		default:
			return nil, bad("line %d has an unknown type (not record, checkpoint or end)", n)
		}
	}
	return sc, nil
}

// decodeRecord decodes a record line's payload.
func decodeRecord(payload []byte) (movedGrant, error) {
	var r exportRecord
	if err := json.Unmarshal(payload, &r); err != nil {
		return movedGrant{}, errors.New("the record does not decode")
	}
	tok, err := tokencodec.Decode(bytes.Clone(r.Token), nil, r.Key)
	if err != nil {
		return movedGrant{}, fmt.Errorf("the token of key %s does not decode: %w", strconv.Quote(r.Key), err)
	}
	return movedGrant{key: r.Key, tok: tok, state: r.State.state()}, nil
}
