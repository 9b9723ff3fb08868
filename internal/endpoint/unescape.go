package endpoint

import (
	"bytes"
	"iter"
	"unicode/utf16"
	"unicode/utf8"
)

// readings returns the ways text can be read, for the redactor: as it
// is, JSON-unescaped, percent-decoded with + as itself or as a space (a
// URL or a form), and JSON-unescaped then percent-decoded (a form echoed
// in a JSON string). A reading that would decode nothing is left out.
func readings(text []byte) []reading {
	raw := reading{text: text}
	bases := []reading{raw}
	if bytes.IndexByte(text, '\\') >= 0 {
		bases = append(bases, unescape(text, jsonEscape))
	}
	out := bases
	for _, b := range bases {
		if bytes.IndexByte(b.text, '%') >= 0 {
			out = append(out, b.then(unescape(b.text, percentEscape)))
		}
		if bytes.IndexByte(b.text, '+') >= 0 {
			out = append(out, b.then(unescape(b.text, formEscape)))
		}
	}
	return out
}

// A reading is a text as decoded by one of the ways of reading it.
type reading struct {
	text []byte
	// at[i] is the offset in the original text of the escape or character
	// that text[i] comes from, and at[len(text)] the original's length;
	// nil when text is the original.
	at []int
}

// pos returns the offset in the original text that text[i] comes from.
func (d reading) pos(i int) int {
	if d.at == nil {
		return i
	}
	return d.at[i]
}

// origin returns the span of the original text that text[i:j] comes
// from, whole escapes included.
func (d reading) origin(i, j int) span {
	k := j
	for k < len(d.text) && d.pos(k) == d.pos(j-1) {
		k++
	}
	return span{d.pos(i), d.pos(k)}
}

// then returns next, a reading of d.text, as a reading of d's original.
func (d reading) then(next reading) reading {
	at := make([]int, len(next.at))
	for i, p := range next.at {
		at[i] = d.pos(p)
	}
	return reading{text: next.text, at: at}
}

// An unescaper decodes the escape that s starts with, if it knows it: it
// returns the bytes the escape stands for and its length, or n == 0.
type unescaper func(s []byte) (b []byte, n int)

// unescape reads s with un, keeping every other byte as it is.
func unescape(s []byte, un unescaper) reading {
	d := reading{text: make([]byte, 0, len(s)), at: make([]int, 0, len(s)+1)}
	for i := 0; i < len(s); {
		b, n := un(s[i:])
		if n == 0 {
			b, n = s[i:i+1], 1
		}
		for _, c := range b {
			d.text = append(d.text, c)
			d.at = append(d.at, i)
		}
		i += n
	}
	d.at = append(d.at, len(s))
	return d
}

// percentEscape decodes %XX, in either case; a % without two hex digits
// is itself.
func percentEscape(s []byte) ([]byte, int) {
	if len(s) >= 3 && s[0] == '%' && isHex(s[1]) && isHex(s[2]) {
		return []byte{unhex(s[1])<<4 | unhex(s[2])}, 3
	}
	return nil, 0
}

// formEscape decodes as a form does: %XX, and + for a space.
func formEscape(s []byte) ([]byte, int) {
	if s[0] == '+' {
		return []byte{' '}, 1
	}
	return percentEscape(s)
}

// jsonEscape decodes a backslash escape as a JSON string holds it: \uXXXX
// in either case (a UTF-16 surrogate pair as one character, a lone
// surrogate as U+FFFD, as encoding/json writes it), the short escapes,
// and any other character after a backslash as itself, as lenient JSON
// and JavaScript readers take it. A \u without four hex digits is u.
func jsonEscape(s []byte) ([]byte, int) {
	if len(s) < 2 || s[0] != '\\' {
		return nil, 0
	}
	switch c := s[1]; c {
	case 'b':
		return []byte{'\b'}, 2
	case 'f':
		return []byte{'\f'}, 2
	case 'n':
		return []byte{'\n'}, 2
	case 'r':
		return []byte{'\r'}, 2
	case 't':
		return []byte{'\t'}, 2
	case 'u':
		r, ok := hex4(s[2:])
		if !ok {
			return []byte{'u'}, 2
		}
		if !utf16.IsSurrogate(r) {
			return utf8.AppendRune(nil, r), 6
		}
		if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if r2, ok := hex4(s[8:]); ok {
				if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
					return utf8.AppendRune(nil, pair), 12
				}
			}
		}
		return utf8.AppendRune(nil, utf8.RuneError), 6
	default:
		return []byte{c}, 2 // \" \\ \/, and the unknown ones
	}
}

// hex4 parses the four hex digits s starts with.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// base64Runs yields the runs of text that may be base64: characters of
// the standard or the URL alphabet, then up to two '=', at least as long
// as the encoding of the shortest secret.
func base64Runs(text []byte) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i := 0; i < len(text); {
			if b64value[text[i]] < 0 {
				i++
				continue
			}
			j := i
			for j < len(text) && b64value[text[j]] >= 0 {
				j++
			}
			for k := 0; k < 2 && j < len(text) && text[j] == '='; k++ {
				j++
			}
			if j-i >= (minSecret*4+2)/3 && !yield(i, j) {
				return
			}
			i = j
		}
	}
}

// b64value maps a character of either base64 alphabet to its value, and
// any other byte to -1.
var b64value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(std) {
		t[std[i]] = int8(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// decodeBase64 decodes run in either alphabet, padded or not, leniently:
// it stops at the first byte that is not base64, and decodes a final
// group of two or three characters into the bytes they hold.
func decodeBase64(run []byte) []byte {
	out := make([]byte, 0, len(run)*3/4+2)
	var acc uint32
	n := 0
	for _, c := range run {
		v := b64value[c]
		if v < 0 {
			break
		}
		acc = acc<<6 | uint32(v)
		if n++; n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out
}
