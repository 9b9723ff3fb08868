package sqlstore

import (
	"bytes"
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
)

// This file holds the capabilities that merge the steps of a refresh
// into fewer statements (see [oauthrt.SnapshotLoader],
// [oauthrt.LeaseLoader] and [oauthrt.CommitReleaser]), in the order a
// refresh takes them.

var _ oauthrt.SnapshotLoader = (*Store)(nil)

// snapshotSQL reads what LoadSnapshot returns: the token and the grant
// state, in scanRow's order.
const snapshotSQL = `SELECT token, {grant} FROM {table} WHERE token_key = ?`

// loadRowSQL is the SELECT of LoadSnapshot and Load on MySQL, whose
// Store remembers whole rows (see rowMemory): it reads, besides the
// token and the grant state, the lease_epoch that TakeLeaseIf compares,
// in the order of storedRow.dest and then the epoch.
const loadRowSQL = `SELECT token, {grant}, lease_epoch FROM {table} WHERE token_key = ?`

// OneTripStore returns s: its one-trip methods (LoadSnapshot,
// TakeLeaseIf, its leases' CommitRelease) act on s itself. A type that
// embeds a *Store gains this method too, and returns the embedded Store,
// so the Transport reaches such a wrapper through its own methods. See
// [oauthrt.SnapshotLoader].
func (s *Store) OneTripStore() oauthrt.TokenStore { return s }

// LoadSnapshot returns the token stored under key (nil when there is
// none: no row, or a row that only carries a lease or a grant state) and
// the key's grant state, read together by one SELECT on every dialect
// (which on MySQL also reads the row's lease_epoch, for TakeLeaseIf).
// A stored token that cannot be decrypted gives an error wrapping
// [oauthrt.ErrDecrypt], one that is not a token an error wrapping
// [oauthrt.ErrCorruptToken], as Load does. See [oauthrt.SnapshotLoader].
func (s *Store) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return oauthrt.Snapshot{}, err
	}
	if err := d.checkKey(key); err != nil {
		return oauthrt.Snapshot{}, err
	}
	if err := ctx.Err(); err != nil {
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	}
	mem := s.rows()
	r, err := loadRow(ctx, db, d, table, key, d.takeIf == takeCompareAndSwap)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return oauthrt.Snapshot{}, nil
	case err != nil:
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	}
	snap, err := r.snapshot(s, key)
	if err != nil {
		return oauthrt.Snapshot{}, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	}
	mem.remember(key, r)
	return snap, nil
}

// loadRow reads key's row with one SELECT: its token and grant state,
// and, when withEpoch, its lease_epoch (loadRowSQL). The error wraps
// [sql.ErrNoRows] when key has no row.
func loadRow(ctx context.Context, db *sql.DB, d *Dialect, table, key string, withEpoch bool) (knownRow, error) {
	var r knownRow
	if withEpoch {
		return r, db.QueryRowContext(ctx, d.sql(loadRowSQL, table), key).Scan(append(r.dest(), &r.epoch)...)
	}
	return r, db.QueryRowContext(ctx, d.sql(snapshotSQL, table), key).Scan(r.dest()...)
}

// storedRow is a row's token and grant state, as they are scanned.
type storedRow struct {
	token sql.Null[[]byte]
	grant grantRow
}

// dest returns where to scan token and the columns {grant} names, in
// their order.
func (r *storedRow) dest() []any {
	return append([]any{&r.token}, r.grant.dest()...)
}

// snapshot decodes the row with s's AEAD, bound to key.
func (r *storedRow) snapshot(s *Store, key string) (oauthrt.Snapshot, error) {
	snap := oauthrt.Snapshot{State: r.grant.state()}
	if !r.token.Valid {
		return snap, nil
	}
	tok, err := tokencodec.Decode(r.token.V, s.AEAD, key)
	if err != nil {
		return oauthrt.Snapshot{}, err
	}
	snap.Token = tok
	return snap, nil
}

// CommitRelease commits tok under the lease's key over prev, as the
// Store's Commit does (and so clears the key's grant state), and releases
// the lease if the row still holds it, with one UPDATE on every dialect:
// Commit's conditional UPDATE, whose SET also hands the lease back where
// lease_holder is still this holder's. See [oauthrt.CommitReleaser].
//
// The UPDATE's condition is Commit's: the row must hold the very bytes
// that were compared with prev, or, for a nil prev, no token. A lease
// taken by TakeLeaseIf over prev remembers the bytes the row held as it
// was taken, and so writes without reading them again; a lease taken by
// TakeLease, or a prev other than the one TakeLeaseIf was given, reads
// and compares them first, one SELECT more. When the UPDATE matches
// nothing (the row was written since, or, on MySQL, it changed nothing),
// CommitRelease reads and compares again, as Commit does. A conflict
// stores nothing, returns an error wrapping [oauthrt.ErrCommitConflict],
// and releases the lease with one more statement. Other errors leave the
// lease as it may be: Release it, or let it lapse. On PostgreSQL the
// UPDATE that commits announces the commit, with the token sealed for
// the waiters (see "Announced releases" in the package documentation).
func (l *fencedLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", l.w.key, err)
	}
	b, err := tokencodec.Encode(tok, l.w.aead, l.w.key)
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: committing key %q: %w", l.w.key, err)
	}
	var read *sql.Null[[]byte]
	if l.read != nil && oauthrt.Fingerprint(prev) == l.readFP {
		read = l.read
	}
	wrote, err := l.w.commit(ctx, prev, b, l.holder, read)
	if wrote {
		l.released.Store(true)
	}
	if wrote && err == nil {
		// The row holds b, no grant state, and the lease_epoch of this
		// lease, unless the lease lapsed and was taken again meanwhile
		// (then TakeLeaseIf finds the row changed, and reads it).
		l.mem.remember(l.w.key, committed(b, l.epoch))
	} else {
		l.mem.forget(l.w.key)
	}
	if err == nil || errors.Is(err, oauthrt.ErrCommitConflict) {
		l.Release() // sends nothing when the UPDATE released it
	}
	return err
}

var _ oauthrt.LeaseLoader = (*Store)(nil)

// How a dialect's TakeLeaseIf takes the lease and reads the row.
type takeMode int

const (
	// takeCTE (PostgreSQL): one statement, a data-modifying WITH, takes
	// the lease if it is free and returns the row in any case, with
	// whether it took it.
	takeCTE takeMode = iota
	// takeReturning (SQLite 3.35 or later): the taking UPDATE returns the
	// row it took; when it takes nothing, a SELECT reads the row.
	takeReturning
	// takeCompareAndSwap (MySQL, MariaDB): no UPDATE … RETURNING; a
	// SELECT reads the row, and, when it holds prev and the lease is
	// free, an UPDATE takes the lease on the condition that the row still
	// holds everything the SELECT read. The Store remembers rows (see
	// rowMemory) to send that UPDATE without the SELECT.
	takeCompareAndSwap
)

// The statements of TakeLeaseIf; each reads token, {grant} and
// lease_epoch in that order, as storedRow.dest and then the epoch scan
// them. The RETURNING and the first SELECT of takeCTESQL give the row's
// values after the UPDATE, read from its latest version: the token the
// lease was taken over, even when the UPDATE waited for another writer.
const (
	takeCTESQL = `WITH taken AS (` + takeSQL + ` RETURNING token, {grant}, lease_epoch)` +
		` SELECT token, {grant}, lease_epoch, TRUE FROM taken` +
		` UNION ALL SELECT token, {grant}, lease_epoch, FALSE FROM {table} WHERE token_key = ? AND NOT EXISTS (SELECT 1 FROM taken)`
	// takeReturningSQL matches the row whether its lease is free or not,
	// so that it reads the row either way, and takes the lease where it
	// is free: SQLite evaluates every expression of a SET on the row as
	// it was, and RETURNING reads it as it is after; holders are unique,
	// so the row holds this taking's holder only when it took the lease.
	// A row whose lease is held is written as it was.
	takeReturningSQL = `UPDATE {table} SET lease_holder = CASE WHEN ` + leaseFree + ` THEN ? ELSE lease_holder END,` +
		` lease_until = CASE WHEN ` + leaseFree + ` THEN {now} + ? ELSE lease_until END,` +
		` lease_epoch = CASE WHEN ` + leaseFree + ` THEN lease_epoch + 1 ELSE lease_epoch END` +
		` WHERE token_key = ? RETURNING token, {grant}, lease_epoch, lease_holder IS ?`
	leaseFree = `(lease_holder IS NULL OR lease_until <= {now})`
	// takeCTEOverSQL and takeReturningOverSQL are takeCTESQL and
	// takeReturningSQL that take the lease only where the row holds the
	// token bytes given (see taking.oneStatement), and also read whether
	// the lease is free when they took nothing. Their arguments:
	// takeCTEOverSQL's are takeCTESQL's with the bytes after the first
	// key; takeReturningOverSQL's are takeReturningSQL's with the bytes
	// before each condition.
	takeCTEOverSQL = `WITH taken AS (` + takeSQL + ` AND token = ? RETURNING token, {grant}, lease_epoch)` +
		` SELECT token, {grant}, lease_epoch, TRUE, FALSE FROM taken` +
		` UNION ALL SELECT token, {grant}, lease_epoch, FALSE, ` + leaseFree + ` FROM {table} WHERE token_key = ? AND NOT EXISTS (SELECT 1 FROM taken)`
	takeReturningOverSQL = `UPDATE {table} SET lease_holder = CASE WHEN ` + freeOver + ` THEN ? ELSE lease_holder END,` +
		` lease_until = CASE WHEN ` + freeOver + ` THEN {now} + ? ELSE lease_until END,` +
		` lease_epoch = CASE WHEN ` + freeOver + ` THEN lease_epoch + 1 ELSE lease_epoch END` +
		` WHERE token_key = ? RETURNING token, {grant}, lease_epoch, lease_holder IS ?, ` + leaseFree
	freeOver = `(` + leaseFree + ` AND token = ?)`
	// takeReadSQL also reads whether the lease is free; takeSwapSQL's
	// arguments are takeSQL's, then the lease_epoch, token and grant_
	// columns takeReadSQL read, compared with <=>, which holds for two
	// NULLs.
	takeReadSQL = `SELECT token, {grant}, lease_epoch, (lease_holder IS NULL OR lease_until <= {now}) FROM {table} WHERE token_key = ?`
	takeSwapSQL = takeSQL + ` AND ` + sameRow
	sameRow     = `lease_epoch = ? AND token <=> ? AND grant_dead_token <=> ? AND grant_dead_code <=> ?` +
		` AND grant_dead_at <=> ? AND grant_next_attempt <=> ? AND grant_failures <=> ? AND grant_failing_since <=> ?`
	// takeOrSeeSQL is takeSwapSQL over a remembered row that matches the
	// row whatever it holds, so that a swap that fails tells why without
	// a SELECT: through LAST_INSERT_ID(code), which the OK packet of the
	// UPDATE returns (0 when no row matched): 1 when it took the lease, 2
	// when the lease is held, 3 when it is free but the row changed. Its
	// arguments are: sameRow's, the holder; the holder, sameRow's, the
	// TTL; the holder, sameRow's; the key.
	//
	// MySQL and MariaDB evaluate a SET's assignments from left to right,
	// each on the row as the ones before it left it, or, in MariaDB's
	// SIMULTANEOUS_ASSIGNMENT mode, all on the row as it was. Each
	// condition here holds the same in both: the first assignment writes
	// this taking's holder, which no one else writes, only when the swap's
	// condition holds; the later ones find it there, or evaluate that
	// condition on columns no assignment before them changed.
	takeOrSeeSQL = `UPDATE {table} SET lease_holder = IF(` + takeOrSee + `, ?, lease_holder),` +
		` lease_until = IF(lease_holder <=> ? OR ` + takeOrSee + `, {now} + ?, lease_until),` +
		` lease_epoch = lease_epoch + (LAST_INSERT_ID(IF(lease_holder <=> ? OR ` + takeOrSee + `, 1, IF(` + leaseFree + `, 3, 2))) = 1)` +
		` WHERE token_key = ?`
	takeOrSee = `(` + leaseFree + ` AND ` + sameRow + `)`
	// heldBySQL reads whether the row's lease is the holder's.
	heldBySQL = `SELECT lease_holder <=> ? FROM {table} WHERE token_key = ?`
)

// What a takeOrSeeSQL found, as its LAST_INSERT_ID.
const (
	seenTook    = 1
	seenHeld    = 2
	seenChanged = 3
)

// TakeLeaseIf takes the refresh lease of key as TakeLease does (for the
// Store's LeaseTTL, by the database's clock, adding one to lease_epoch)
// if the table holds prev under key: a token with prev's
// [oauthrt.Fingerprint], or, when prev is nil, no token (no row, or one
// without a token). It returns the lease, an [oauthrt.FencedLease] and an
// [oauthrt.CommitReleaser], with the key's token and grant state as the
// row held them when the lease was taken. When the table holds another
// token it returns a nil Lease with the token and grant state it read.
// While another holder has the lease it waits, reading the row again at
// each try, until it takes the lease, finds another token, or ctx ends;
// then the error wraps ctx.Err(). A Store with a Listener (on PostgreSQL,
// or with an Announcer) tries again when the lease is announced
// released, and returns the token a holder announced with its commit
// without reading the row (see "Announced releases" in the package
// documentation); otherwise it polls. A stored token that cannot be decrypted
// or decoded is an error, and no lease is kept. See
// [oauthrt.LeaseLoader].
//
// The fingerprint is compared in Go, after the token is decoded: the
// databases cannot compare it, as a sealed token is new bytes each time
// it is written. The statements of one try, per dialect:
//
//   - PostgreSQL: one statement, whether it takes the lease or finds it
//     held; a data-modifying WITH takes the lease with TakeLease's UPDATE
//     where it is free, RETURNING the row, and otherwise reads the row.
//     When the lease was taken over another token, one more statement
//     releases it.
//   - SQLite (3.35 or later, for RETURNING): one statement, whether it
//     takes the lease or finds it held: an UPDATE … RETURNING of the row
//     that takes the lease where it is free and writes the row as it was
//     where it is held. When the lease was taken over another token, one
//     more statement releases it.
//   - On both, when the Store remembers the row of key holding prev in
//     some bytes (Load, LoadSnapshot, LoadMany, CommitRelease, or a
//     TakeLeaseIf that found or heard of another token), the first try
//     takes the lease only where the row still holds those bytes: a row
//     another process wrote since is read in one statement, and no lease
//     is taken over it. A row that holds prev in other bytes, with its
//     lease free, costs one statement more, which takes the lease.
//   - MySQL and MariaDB, which have no UPDATE … RETURNING: two statements
//     to take the lease, a SELECT of the row, then, when it holds prev
//     and the lease is free, the taking UPDATE, conditioned on the row
//     still holding the lease_epoch, token and grant state the SELECT
//     read; one (the SELECT) when the lease is held or the row holds
//     another token, which is never taken. The Store remembers the row
//     of each key as it last read it (Load, LoadSnapshot, or a
//     TakeLeaseIf that found another token) or wrote it (CommitRelease),
//     for up to 4096 keys. When it remembers the row holding prev, the
//     first try sends the taking UPDATE at once, conditioned on the
//     remembered values: one statement when the row has not changed
//     since. That UPDATE tells, in the LAST_INSERT_ID of its answer,
//     why it did not take the lease: when the lease is held, the try
//     ends there, one statement, and the next reads the row; when the
//     lease is free but the row changed (another process wrote it, or
//     took and released the lease), the try reads the row as above, one
//     statement more.
//
// A key that has no row holds no token: with a non-nil prev that ends
// the call; with a nil prev, one INSERT (as TakeLease's) makes the row,
// and the try is made again at once. A row is never deleted, so that
// INSERT runs once per key.
func (s *Store) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	if err := d.checkKey(key); err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	ttl, err := lease.TTL("sqlstore", s.LeaseTTL)
	if err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	t := &taking{s: s, l: s.newLease(db, d, table, key, ttl), ms: ttl.Milliseconds(), want: oauthrt.Fingerprint(prev), prev: prev}
	if err := lease.WaitOn(ctx, s.board(d, table), key, t.try, t.woken); err != nil {
		if t.uncertain {
			t.l.Release() // so that no one waits for a lease nobody knows it holds
		}
		return nil, oauthrt.Snapshot{}, err
	}
	if !t.taken {
		return nil, t.snap, nil
	}
	return t.l, t.snap, nil
}

// A taking is the state of one TakeLeaseIf between its tries.
type taking struct {
	s    *Store
	l    *fencedLease // the lease, once taken
	ms   int64        // the TTL in milliseconds
	want string       // prev's fingerprint
	// ensured: the INSERT that makes the row ran; uncertain: a statement
	// that takes the lease failed, and may have taken it; tried: a try
	// was made (a remembered row is used in the first only).
	ensured, uncertain, tried bool
	// What the last try found, or the last announcement told: the
	// snapshot, and whether the lease was taken with it.
	snap  oauthrt.Snapshot
	taken bool
	// prev opens the records of announced commits over it, with the AEAD
	// derived from it at the first (see woken).
	prev   *oauth2.Token
	opener cipher.AEAD
	opened bool // opener was derived
}

// A found is what one try of a taking found.
type found int

const (
	noRow   found = iota // the key has no row
	waiting              // the row holds prev, and another holder has the lease
	other                // the row holds another token than prev: t.snap
	took                 // the lease: t.snap was read as it was taken
)

// try is one try of lease.Wait: it reports done when it took the lease
// or found another token.
func (t *taking) try(ctx context.Context) (bool, error) {
	for {
		var f found
		var err error
		if t.l.w.d.takeIf == takeCompareAndSwap {
			f, err = t.compareAndSwap(ctx)
		} else {
			f, err = t.oneStatement(ctx)
		}
		if err != nil {
			return false, err
		}
		switch f {
		case waiting:
			return false, nil
		case other:
			return true, nil
		case took:
			t.taken = true
			return true, nil
		}
		if t.want != "" { // no row, no token: not prev
			t.snap = oauthrt.Snapshot{}
			return true, nil
		}
		if t.ensured {
			return false, nil // cannot be: no row is ever deleted
		}
		w := t.l.w
		if _, err := w.db.ExecContext(ctx, w.d.sql(w.d.ensure, w.table), w.key); err != nil {
			return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		t.ensured = true
	}
}

// woken is handed the record of a commit announced as the lease was
// released (see announce.go): when it opens under prev and holds a token
// other than prev, that is what a try would read now, the commit having
// cleared the grant state, and the wait ends with it. A record that does
// not open (it was sealed under another token, or by a stranger), or
// does not decode, or holds prev, makes the waiter ask again.
func (t *taking) woken(sealed []byte) bool {
	if !t.opened {
		t.opener, t.opened = recordAEAD(t.l.w.key, t.prev), true
	}
	b, ok := openRecord(t.opener, sealed)
	if !ok {
		return false
	}
	tok, err := tokencodec.Decode(b, t.s.AEAD, t.l.w.key)
	if err != nil || oauthrt.Fingerprint(tok) == t.want {
		return false
	}
	t.snap, t.taken = oauthrt.Snapshot{Token: tok}, false
	if t.l.w.d.takeIf != takeCompareAndSwap {
		// The row holds b (the next call's prev), as far as a take
		// over it is concerned; MySQL's memory needs the lease_epoch too,
		// which the announcement does not tell.
		t.l.mem.remember(t.l.w.key, committed(b, 0))
	}
	return true
}

// oneStatement is a try of takeCTE or takeReturning: one statement,
// whether it takes the lease or finds it held. The first try of a call
// whose Store remembers the row of key holding prev takes the lease only
// where the row still holds the very bytes remembered (the Over
// statements): a waiter that asks after the holder committed and
// released then reads the new token, where it would otherwise take a
// lease it cannot use, and release it with one more statement.
func (t *taking) oneStatement(ctx context.Context) (found, error) {
	w := t.l.w
	over := t.remembered()
	for {
		q, args := takeCTESQL, []any{t.l.holder, t.ms, w.key, w.key}
		switch {
		case w.d.takeIf == takeCTE && over != nil:
			q, args = takeCTEOverSQL, []any{t.l.holder, t.ms, w.key, over, w.key}
		case over != nil:
			q, args = takeReturningOverSQL, []any{over, t.l.holder, over, t.ms, over, w.key, t.l.holder}
		case w.d.takeIf == takeReturning:
			q, args = takeReturningSQL, []any{t.l.holder, t.ms, w.key, t.l.holder}
		}
		var r storedRow
		var epoch int64
		var taken, free bool
		dest := append(r.dest(), &epoch, &taken)
		if over != nil {
			dest = append(dest, &free)
		}
		err := w.db.QueryRowContext(ctx, w.d.sql(q, w.table), args...).Scan(dest...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return noRow, nil
		case err != nil:
			t.uncertain = true
			return 0, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		f, err := t.settle(r, taken, epoch)
		if err == nil && f == waiting && free && !bytes.Equal(r.token.V, over) {
			// The row holds prev in other bytes than those remembered
			// (sealed or saved again), and the lease is free: take it
			// over what the row holds now. A free lease over the very
			// bytes remembered was not free when the UPDATE found the
			// row: on PostgreSQL, whose SELECT reads the row as it was
			// when the statement began, another process took the lease
			// meanwhile, and its release is announced.
			over = nil
			continue
		}
		if f == other {
			// The caller takes this token, and the next call's prev is it.
			t.l.mem.remember(w.key, knownRow{storedRow: r, epoch: epoch})
		}
		return f, err
	}
}

// remembered returns, at the first try of a call of a dialect that takes
// the lease in one statement, the token bytes the Store remembers key's
// row holding when they hold prev; nil otherwise.
func (t *taking) remembered() []byte {
	if t.tried {
		return nil
	}
	t.tried = true
	r, ok := t.l.mem.take(t.l.w.key)
	if !ok || !r.token.Valid || t.want == "" {
		return nil
	}
	snap, err := r.snapshot(t.s, t.l.w.key)
	if err != nil || oauthrt.Fingerprint(snap.Token) != t.want {
		return nil
	}
	return r.token.V
}

// compareAndSwap is a try of takeCompareAndSwap. The first try of a
// call whose Store remembers the row of key holding prev swaps over that
// row at once, one statement when the row has not changed since. Any
// other try, or a first one that finds the row changed, reads the row,
// and, when it holds prev and the lease is free, swaps over what it read.
func (t *taking) compareAndSwap(ctx context.Context) (found, error) {
	w := t.l.w
	if !t.tried {
		t.tried = true
		if r, ok := t.l.mem.take(w.key); ok {
			// The row as it was seen: when it still holds it, the lease is
			// taken over it, and it is the snapshot. A remembered token
			// that is not prev (or cannot be decoded) is not swapped over:
			// the row may hold prev by now, and is read.
			snap, err := r.snapshot(t.s, w.key)
			if err == nil && oauthrt.Fingerprint(snap.Token) == t.want {
				seen, err := t.takeOrSee(ctx, r)
				if err != nil {
					return 0, err
				}
				switch seen {
				case seenTook:
					t.snap = snap
					t.keep(r.storedRow, r.epoch+1)
					return took, nil
				case seenHeld:
					// Held: by a holder of prev, or of a token that
					// replaced it; its release, or the fallback pause,
					// makes the next try read the row.
					t.snap = snap
					return waiting, nil
				}
			}
		}
	}
	var r knownRow
	var free bool
	err := w.db.QueryRowContext(ctx, w.d.sql(takeReadSQL, w.table), w.key).Scan(append(r.dest(), &r.epoch, &free)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return noRow, nil
	case err != nil:
		return 0, fmt.Errorf("oauthrt: sqlstore: %w", err)
	}
	f, err := t.settle(r.storedRow, false, 0)
	if f == other {
		// The caller takes this token, and the next call's prev is it.
		t.l.mem.remember(w.key, r)
	}
	if err != nil || f != waiting || !free {
		return f, err
	}
	swapped, err := t.swap(ctx, r)
	if err != nil {
		return 0, err
	}
	if !swapped {
		return waiting, nil // the row changed since it was read: try again
	}
	t.keep(r.storedRow, r.epoch+1)
	return took, nil
}

// takeOrSee runs takeOrSeeSQL over r, and returns what it found:
// seenTook, seenHeld, seenChanged, or 0 when the key has no row.
//
// The code comes from the LAST_INSERT_ID of the answer, never from its
// count of rows: the UPDATE matches the row whatever it holds, and a
// connection with the driver's clientFoundRows counts the rows matched.
// A driver that reports no such code (go-sql-driver/mysql does) leaves
// the try to ask the row whether its lease is now this taking's.
func (t *taking) takeOrSee(ctx context.Context, r knownRow) (int64, error) {
	w := t.l.w
	g := r.grant
	same := []any{r.epoch, r.token, g.deadToken, g.deadCode, g.deadAt, g.next, g.failures, g.failingSince}
	args := make([]any, 0, 3*len(same)+5)
	args = append(append(args, same...), t.l.holder, t.l.holder)
	args = append(append(args, same...), t.ms, t.l.holder)
	args = append(append(args, same...), w.key)
	res, err := w.db.ExecContext(ctx, w.d.sql(takeOrSeeSQL, w.table), args...)
	if err != nil {
		t.uncertain = true
		return 0, fmt.Errorf("oauthrt: sqlstore: %w", err)
	}
	if seen, err := res.LastInsertId(); err == nil && seen >= seenTook && seen <= seenChanged {
		return seen, nil
	}
	// No code, or no row. Whether the lease is this taking's is read
	// back; anything else is for the try's read of the row to find.
	var mine bool
	err = w.db.QueryRowContext(ctx, w.d.sql(heldBySQL, w.table), t.l.holder, w.key).Scan(&mine)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		t.uncertain = true
		return 0, fmt.Errorf("oauthrt: sqlstore: %w", err)
	case mine:
		return seenTook, nil
	}
	return seenChanged, nil
}

// swap runs takeSwapSQL: it takes the lease if it is free and the row
// still holds r's lease_epoch, token bytes and grant state, and reports
// whether it did.
func (t *taking) swap(ctx context.Context, r knownRow) (bool, error) {
	w := t.l.w
	g := r.grant
	res, err := w.db.ExecContext(ctx, w.d.sql(takeSwapSQL, w.table), t.l.holder, t.ms, w.key,
		r.epoch, r.token, g.deadToken, g.deadCode, g.deadAt, g.next, g.failures, g.failingSince)
	if err != nil {
		t.uncertain = true
		return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
	}
	// The UPDATE adds one to lease_epoch, so even MySQL's count of
	// changed rows is the count of matched ones.
	n, err := res.RowsAffected()
	if err != nil {
		t.uncertain = true
		return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
	}
	return n == 1, nil
}

// settle decodes the row a try read, taken or not, into t.snap, and
// tells what the try found. A lease taken over another token than prev,
// or over one that cannot be decoded, is released.
func (t *taking) settle(r storedRow, taken bool, epoch int64) (found, error) {
	snap, err := r.snapshot(t.s, t.l.w.key)
	if err != nil {
		if taken {
			t.l.Release()
		}
		return 0, fmt.Errorf("oauthrt: sqlstore: key %q: %w", t.l.w.key, err)
	}
	t.snap = snap
	switch {
	case oauthrt.Fingerprint(snap.Token) != t.want:
		if taken {
			t.l.Release()
		}
		return other, nil
	case !taken:
		return waiting, nil
	}
	t.keep(r, epoch)
	return took, nil
}

// keep records in the lease what its taking wrote and read: the epoch,
// and the token's bytes, which CommitRelease writes over.
func (t *taking) keep(r storedRow, epoch int64) {
	t.l.epoch = uint64(epoch)
	read := r.token
	t.l.read, t.l.readFP = &read, t.want
}
