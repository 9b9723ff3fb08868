package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/oauthrt/oauthrt"
	"github.com/redis/go-redis/v9"
)

// The listings walk the Redis keyspace with SCAN, never KEYS, which
// would block Redis for as long as it takes to go through every key: a
// page is a few SCAN calls, each of which Redis answers in a moment.
// On Redis Cluster each master holds its own keys and answers SCAN for
// them alone, so a walk scans the masters one after another.

// defaultPage is how many keys a page holds when the caller gives no
// limit.
const defaultPage = 1000

// maxCount bounds the COUNT of a SCAN, so that a large limit makes more
// calls rather than calls that hold Redis up longer.
const maxCount = 1000

// maxScans bounds the SCAN calls of one page: a page of a store that
// shares its Redis with many other keys may end before it holds limit
// keys, rather than going through the whole keyspace in one call.
const maxScans = 64

// The cursors: "r1." and the SCAN cursor of a single node; "c1.", the
// fingerprint of the cluster's slot map when the walk began, the SCAN
// cursor and the address of the master being scanned, separated by
// dots. A cursor never holds a SCAN cursor of 0 on a single node, where
// it would start the walk again.
const (
	nodeCursor    = "r1."
	clusterCursor = "c1."
)

// errCursor is the error of a cursor that no page of this package
// returned.
var errCursor = errors.New("the cursor is not one a page of this package returned")

// ListKeys returns keys that start with prefix and hold a token, a page
// at a time: cursor "" for the first page, next "" after the last. A page
// is a few SCAN calls with a MATCH on the token keys under prefix (their
// glob characters escaped) and a COUNT of limit (zero or less: 1000, and
// at most 1000 a call), until it holds about limit keys; it may hold more
// or fewer, even none, before the last. Fingerprint records, grant
// states, leases and epoch counters are never listed. As SCAN does, a
// walk may list a key twice, but lists every key that holds a token
// throughout it. On Redis Cluster it scans every master, one after
// another, and fails if the cluster's slots move before it ends: then
// walk again from the first page. See [oauthrt.KeyLister].
func (s *Store) ListKeys(ctx context.Context, prefix, cursor string, limit int) (keys []string, next string, err error) {
	return s.scanKeys(ctx, "listing keys", prefix, cursor, limit)
}

// scanKeys returns a page of the keys that start with prefix and hold a
// token, as ListKeys describes it. doing names the listing in errors.
func (s *Store) scanKeys(ctx context.Context, doing, prefix, cursor string, limit int) (keys []string, next string, err error) {
	tokens := s.prefix() + "token:"
	seen := map[string]bool{}
	next, err = s.scan(ctx, doing, globEscape(tokens+prefix)+"*", cursor, limit, func(ctx context.Context, names []string) (int, error) {
		n := 0
		for _, name := range names {
			k, ok := strings.CutPrefix(name, tokens)
			if ok && strings.HasPrefix(k, prefix) && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
				n++
			}
		}
		return n, nil
	})
	if err != nil {
		return nil, "", err
	}
	return keys, next, nil
}

// ListGrantStates returns the keys that start with prefix and have a
// grant state, with that state, a page at a time, as ListKeys pages keys:
// SCAN walks the grant state keys, and a pipeline of GETs reads the
// states the SCAN calls found; no token is read. See
// [oauthrt.GrantStateLister].
func (s *Store) ListGrantStates(ctx context.Context, prefix, cursor string, limit int) (states []oauthrt.KeyGrantState, next string, err error) {
	c, err := s.client()
	if err != nil {
		return nil, "", err
	}
	seen := map[string]bool{}
	next, err = s.scan(ctx, "listing grant states", s.companionPattern("state:", prefix), cursor, limit, func(ctx context.Context, names []string) (int, error) {
		var found []string
		var cmds []*redis.StringCmd
		pipe := c.Pipeline()
		for _, name := range names {
			if k, ok := s.companionKey("state:", name); ok && strings.HasPrefix(k, prefix) && !seen[k] {
				seen[k] = true
				found = append(found, k)
				cmds = append(cmds, pipe.Get(ctx, name))
			}
		}
		if len(cmds) == 0 {
			return 0, nil
		}
		_, _ = pipe.Exec(ctx) // each command's error is read below
		n := 0
		for i, cmd := range cmds {
			b, err := cmd.Bytes()
			if errors.Is(err, redis.Nil) { // deleted since the SCAN
				continue
			}
			if err != nil {
				return n, fmt.Errorf("reading the grant state of key %q: %w", found[i], err)
			}
			st, err := parseGrantState(found[i], b)
			if err != nil {
				return n, err
			}
			if !st.IsZero() {
				states = append(states, oauthrt.KeyGrantState{Key: found[i], State: st})
				n++
			}
		}
		return n, nil
	})
	if err != nil {
		return nil, "", err
	}
	return states, next, nil
}

// Delete removes the token stored under key with its fingerprint record
// and grant state, in one DEL (the three share a hash slot, which Redis
// Cluster requires of one command's keys). The key's lease and the epoch counter of
// its leases are left alone, so that epochs go on growing. Deleting a key
// that holds nothing is not an error. See [oauthrt.Deleter].
func (s *Store) Delete(ctx context.Context, key string) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: redisstore: deleting key %q: %w", key, err)
	}
	if err := c.Del(ctx, s.tokenKeys(key)...).Err(); err != nil {
		return fmt.Errorf("oauthrt: redisstore: deleting key %q: %w", key, err)
	}
	return nil
}

// globEscape makes s match only itself in a MATCH pattern: it escapes
// the characters Redis' glob gives a meaning, * ? [ ] and \.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// companionPattern is the MATCH pattern of the names companion gives the
// keys of the given kind whose store key starts with prefix. Its tag is
// tagLen ? each, which match any character: companionKey checks the
// names SCAN returns.
func (s *Store) companionPattern(kind, prefix string) string {
	p := s.prefix()
	if tagAtEnd(p) {
		return globEscape(p+kind+prefix) + "*"
	}
	return globEscape(p) + "{" + strings.Repeat("?", tagLen) + "}" + globEscape(kind+prefix) + "*"
}

// companionKey returns the store key whose companion of the given kind
// is named name, and false when name is no such companion.
func (s *Store) companionKey(kind, name string) (string, bool) {
	p := s.prefix()
	var k string
	if tagAtEnd(p) {
		rest, ok := strings.CutPrefix(name, p+kind)
		if !ok || len(rest) < tagLen {
			return "", false
		}
		k = rest[:len(rest)-tagLen]
	} else {
		head := len(p) + len("{}") + tagLen + len(kind)
		if len(name) < head || !strings.HasPrefix(name, p) || !strings.HasPrefix(name[head-len(kind):], kind) {
			return "", false
		}
		k = name[head:]
	}
	// The tag must be the one companion gives k: the name is then no
	// other store's, whatever its prefix.
	return k, companion(p, kind, k, s.tokenKey(k)) == name
}

// tagAtEnd reports whether companion writes the tag at the end of the
// names for the prefix p: when its first '{' is followed at once by '}'.
func tagAtEnd(p string) bool {
	i := strings.IndexByte(p, '{')
	return i >= 0 && strings.HasPrefix(p[i+1:], "}")
}

// scan walks the keys that match pattern from cursor, and calls take on
// the names each SCAN call returns; take returns how many it took into
// the page. It returns the cursor of the next page, "" after the last.
func (s *Store) scan(ctx context.Context, doing, pattern, cursor string, limit int, take func(context.Context, []string) (int, error)) (string, error) {
	c, err := s.client()
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("oauthrt: redisstore: %s: %w", doing, err)
	}
	if limit <= 0 {
		limit = defaultPage
	}
	w := walk{pattern: pattern, count: int64(min(limit, maxCount)), limit: limit, take: take}
	var next string
	switch c := c.(type) {
	case *redis.ClusterClient:
		next, err = w.cluster(ctx, c, cursor)
	case *redis.Ring:
		err = errors.New("a Ring spreads keys over its shards by its own hash, which the Store's scripts do not allow for: use a single node, a failover client or a Cluster client")
	default:
		next, err = w.node(ctx, c, cursor)
	}
	if err != nil {
		return "", fmt.Errorf("oauthrt: redisstore: %s: %w", doing, err)
	}
	return next, nil
}

// walk is what the SCAN calls of one page share.
type walk struct {
	pattern string
	count   int64
	limit   int
	take    func(context.Context, []string) (int, error)
	got     int // how many keys take took
	scans   int // how many SCAN calls the page made
}

// step makes one SCAN call on n from cur, and returns the cursor it
// answered with, and whether the page is full.
func (w *walk) step(ctx context.Context, n redis.Cmdable, cur uint64) (uint64, bool, error) {
	names, cur, err := n.Scan(ctx, cur, w.pattern, w.count).Result()
	if err != nil {
		return 0, false, err
	}
	took, err := w.take(ctx, names)
	w.got += took
	w.scans++
	return cur, w.got >= w.limit || w.scans >= maxScans, err
}

// node pages through a single node.
func (w *walk) node(ctx context.Context, n redis.Cmdable, cursor string) (string, error) {
	var cur uint64
	if cursor != "" {
		v, err := strconv.ParseUint(strings.TrimPrefix(cursor, nodeCursor), 10, 64)
		if err != nil || v == 0 || !strings.HasPrefix(cursor, nodeCursor) {
			return "", errCursor
		}
		cur = v
	}
	for {
		next, full, err := w.step(ctx, n, cur)
		switch {
		case err != nil:
			return "", err
		case next == 0:
			return "", nil
		case full:
			return nodeCursor + strconv.FormatUint(next, 10), nil
		}
		cur = next
	}
}

// cluster pages through the masters of a cluster, in the order of their
// addresses, each from SCAN cursor 0 to 0.
func (w *walk) cluster(ctx context.Context, c *redis.ClusterClient, cursor string) (string, error) {
	fp, masters, err := topology(ctx, c)
	if err != nil {
		return "", err
	}
	addrs := slices.Sorted(maps.Keys(masters))
	addr, cur := addrs[0], uint64(0)
	if cursor != "" {
		parts := strings.SplitN(strings.TrimPrefix(cursor, clusterCursor), ".", 3)
		if len(parts) != 3 || !strings.HasPrefix(cursor, clusterCursor) {
			return "", errCursor
		}
		v, err := strconv.ParseUint(parts[1], 10, 64)
		if err != nil {
			return "", errCursor
		}
		if parts[0] != fp || masters[parts[2]] == nil {
			return "", errors.New("the cluster's slots moved since the walk began, so it could miss keys: walk again from the first page")
		}
		addr, cur = parts[2], v
	}
	for {
		next, full, err := w.step(ctx, masters[addr], cur)
		if err != nil {
			return "", fmt.Errorf("scanning %s: %w", addr, err)
		}
		if next == 0 {
			i, _ := slices.BinarySearch(addrs, addr)
			if i+1 == len(addrs) {
				return "", nil
			}
			addr = addrs[i+1]
		}
		if full {
			return clusterCursor + fp + "." + strconv.FormatUint(next, 10) + "." + addr, nil
		}
		cur = next
	}
}

// topology returns the fingerprint of the cluster's slot map, as CLUSTER
// SLOTS gives it (each range and the id of its master), and the client of
// each master, by address. It fails when the two disagree on the number
// of masters: the cluster is changing.
func topology(ctx context.Context, c *redis.ClusterClient) (string, map[string]*redis.Client, error) {
	slotMap, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return "", nil, fmt.Errorf("reading the cluster's slots: %w", err)
	}
	slices.SortFunc(slotMap, func(a, b redis.ClusterSlot) int { return a.Start - b.Start })
	h := sha256.New()
	ids := map[string]bool{}
	for _, r := range slotMap {
		id := ""
		if len(r.Nodes) > 0 {
			id = r.Nodes[0].ID
		}
		ids[id] = true
		fmt.Fprintf(h, "%d-%d %s\n", r.Start, r.End, id)
	}
	var mu sync.Mutex
	masters := map[string]*redis.Client{}
	err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		mu.Lock()
		masters[n.Options().Addr] = n
		mu.Unlock()
		return nil
	})
	switch {
	case err != nil:
		return "", nil, fmt.Errorf("finding the cluster's masters: %w", err)
	case len(masters) == 0 || len(masters) != len(ids):
		return "", nil, fmt.Errorf("the cluster's slots name %d masters, and the client knows %d: the cluster is changing, try again", len(ids), len(masters))
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), masters, nil
}
