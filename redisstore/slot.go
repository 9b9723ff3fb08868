package redisstore

import (
	"strings"
	"sync"
)

// Redis Cluster keeps every key in one of 16384 hash slots, and a script
// may touch keys of one slot only. The Store's scripts touch a key's token
// with its fingerprint and grant state, and its lease with its epoch
// counter, so those keys must share a slot. The token and lease keys keep
// the names the previous release gave them (<p>token:<k>, <p>lease:<k>),
// which carry no hash tag of their own, so that no stored token is
// orphaned and processes of both releases exclude each other through the
// same lease. The keys added beside them carry a hash tag, {t}, whose
// content t is chosen so that they hash to the slot of the name they
// accompany. The rules below are those of the cluster specification
// (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/,
// "Hash tags", read 2026-12).

// slots is the number of hash slots of a Redis Cluster.
const slots = 16384

// crcTable drives CRC-16/XMODEM (polynomial 0x1021, initial value 0, no
// reflection, no final XOR), the checksum Redis Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crcByte continues the checksum crc over the byte b.
func crcByte(crc uint16, b byte) uint16 { return crc<<8 ^ crcTable[byte(crc>>8)^b] }

// crc16 continues the checksum crc over s.
func crc16(crc uint16, s string) uint16 {
	for i := 0; i < len(s); i++ {
		crc = crcByte(crc, s[i])
	}
	return crc
}

// hashed returns the part of name that Redis Cluster hashes: what lies
// between the first '{' and the first '}' after it, when that is not
// empty, and otherwise the whole name.
func hashed(name string) string {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		if j := strings.IndexByte(name[i+1:], '}'); j > 0 {
			return name[i+1 : i+1+j]
		}
	}
	return name
}

// slot returns the hash slot of the Redis key name, as CLUSTER KEYSLOT
// does.
func slot(name string) uint16 { return crc16(0, hashed(name)) % slots }

// tagChars are the characters of a tag, and tagLen its length. Neither
// brace is among them, so a tag never closes or opens another.
const (
	tagChars = "0123456789abcdefghijklmnopqrstuvwxyz"
	tagLen   = 4
)

// unpair inverts the checksum of two bytes: unpair()[c] is the 16-bit
// value u whose big-endian bytes have the checksum c from 0. The checksum
// of two bytes is a bijection of their value, so every c has one u.
var unpair = sync.OnceValue(func() *[1 << 16]uint16 {
	var inv [1 << 16]uint16
	for u := range 1 << 16 {
		inv[crcByte(crcByte(0, byte(u>>8)), byte(u))] = uint16(u)
	}
	return &inv
})

// tag returns the first tagLen characters t of tagChars (in the order of
// tagChars, the first ones varying slowest) such that before+t hashes
// whole to slot want: crc16(0, before+t) % slots == want.
//
// It tries the first two characters in order and solves for the last two:
// the checksum is linear, so continuing from the state s over the bytes
// c, d gives the checksum of the two bytes (s XOR cd) from 0, and
// unpair gives those bytes for each of the 4 checksums that are want
// modulo slots. By the same linearity, the checksums of before+t for all
// t are those of t alone, each XORed with one constant (the checksum of
// before followed by tagLen zero bytes): so a t exists for every want and
// every before exactly when one exists for every want and before = "",
// which TestTagEverySlot checks for all 16384 slots. The panic below is
// therefore unreachable.
func tag(before string, want uint16) string {
	inv := unpair()
	s0 := crc16(0, before)
	for i := 0; i < len(tagChars); i++ {
		s1 := crcByte(s0, tagChars[i])
		for j := 0; j < len(tagChars); j++ {
			s2 := crcByte(s1, tagChars[j])
			for high := uint16(0); high < 1<<16/slots; high++ {
				u := inv[want|high*slots] ^ s2
				c, d := byte(u>>8), byte(u)
				if strings.IndexByte(tagChars, c) >= 0 && strings.IndexByte(tagChars, d) >= 0 {
					return string([]byte{tagChars[i], tagChars[j], c, d})
				}
			}
		}
	}
	panic("oauthrt: redisstore: no hash tag for a slot") // see above: unreachable
}

// companion returns the name of the key of the given kind ("fp:",
// "state:", "epoch:") that accompanies the key named main, which the
// Store with prefix p keeps for the store key k: a name starting with p
// and ending with kind+k, in main's hash slot.
//
// In the usual case the name is p{t}kind k, and Redis Cluster hashes the
// tag t alone, whatever braces k holds, as the prefix holds none. A
// prefix with braces of its own changes what Redis hashes:
//
//   - A prefix with a hash tag ("{app}:") puts all its names in that
//     tag's slot, main included; the name is p{t}kind k as usual, and t
//     does not matter.
//   - A prefix with a '{' it does not close ("app{") makes Redis hash from
//     that '{' to the first '}' of the name, the one after t; t is chosen
//     for that span.
//   - A prefix whose first '{' is followed at once by '}' ("a{}b") makes
//     Redis hash every name whole; the name is then p kind k t, and t is
//     chosen for the whole of it.
//
// The names of different keys, and of different kinds, never collide: t
// has a fixed length and holds no brace, the kinds are none a prefix of
// another, and none is "token:" or "lease:".
func companion(p, kind, k, main string) string {
	want := slot(main)
	i := strings.IndexByte(p, '{')
	if i < 0 {
		return p + "{" + tag("", want) + "}" + kind + k
	}
	switch j := strings.IndexByte(p[i+1:], '}'); {
	case j == 0:
		name := p + kind + k
		return name + tag(name, want)
	case j > 0:
		return p + "{" + tag("", want) + "}" + kind + k
	default:
		return p + "{" + tag(p[i+1:]+"{", want) + "}" + kind + k
	}
}
