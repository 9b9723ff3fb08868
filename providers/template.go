package providers

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// A urlTemplate is a URL of the catalog with placeholders in braces, such
// as https://{domain}/oauth/token. Each placeholder stands for a host
// name, or a label of one: one or more letters, digits, hyphens and dots,
// neither starting with a dot nor holding two in a row. So a value can
// neither leave the part of the URL it is in (no '/', ':', '@', '#', '?'
// or '%') nor walk up a path ("..").
type urlTemplate struct {
	// parts alternate literal text and placeholder names: literal, name,
	// literal, …, literal.
	parts []string
	// re matches the URLs the template stands for, one group per
	// placeholder; built once, by parseTemplate and fill.
	re *regexp.Regexp
}

// varValue is what a placeholder stands for; validVar adds the rules a
// regular expression would spell badly.
const varValue = `[A-Za-z0-9.-]+`

var varRE = regexp.MustCompile(`^` + varValue + `$`)

// validVar reports whether v may fill a placeholder.
func validVar(v string) bool {
	return varRE.MatchString(v) && !strings.HasPrefix(v, ".") && !strings.Contains(v, "..")
}

// parseTemplate reads s. An unbalanced brace, or a placeholder without a
// name, is an error.
func parseTemplate(s string) (urlTemplate, error) {
	var t urlTemplate
	rest := s
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return urlTemplate{}, fmt.Errorf("providers: URL %q has a } without its {", s)
			}
			t.parts = append(t.parts, rest)
			t.re = t.pattern()
			return t, nil
		}
		lit := rest[:open]
		if strings.IndexByte(lit, '}') >= 0 {
			return urlTemplate{}, fmt.Errorf("providers: URL %q has a } without its {", s)
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return urlTemplate{}, fmt.Errorf("providers: URL %q has a { without its }", s)
		}
		name := rest[open+1 : open+end]
		if name == "" || strings.ContainsAny(name, "{/") {
			return urlTemplate{}, fmt.Errorf("providers: URL %q has a placeholder without a name", s)
		}
		t.parts = append(t.parts, lit, name)
		rest = rest[open+end+1:]
	}
}

// pattern builds the regular expression of the URLs t stands for.
func (t urlTemplate) pattern() *regexp.Regexp {
	var re strings.Builder
	re.WriteString("^")
	for i, p := range t.parts {
		if i%2 == 1 {
			re.WriteString("(" + varValue + ")")
		} else {
			re.WriteString(regexp.QuoteMeta(p))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String())
}

// String writes the template as the catalog does.
func (t urlTemplate) String() string {
	var b strings.Builder
	for i, p := range t.parts {
		if i%2 == 1 {
			b.WriteString("{" + p + "}")
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}

// names returns the template's placeholders, each once, in order.
func (t urlTemplate) names() []string {
	var out []string
	for i := 1; i < len(t.parts); i += 2 {
		if !slices.Contains(out, t.parts[i]) {
			out = append(out, t.parts[i])
		}
	}
	return out
}

// fill returns the template with the placeholders vars names replaced by
// their values; the others stay. A value that may not fill a placeholder
// is an error.
func (t urlTemplate) fill(vars map[string]string) (urlTemplate, error) {
	out := urlTemplate{parts: []string{t.parts[0]}}
	for i := 1; i < len(t.parts); i += 2 {
		name, lit := t.parts[i], t.parts[i+1]
		v, ok := vars[name]
		if !ok {
			out.parts = append(out.parts, name, lit)
			continue
		}
		if !validVar(v) {
			return urlTemplate{}, fmt.Errorf("providers: Vars[%q] = %q: a placeholder takes a host name or one of its labels (letters, digits, '-' and '.')", name, v)
		}
		out.parts[len(out.parts)-1] += v + lit
	}
	out.re = out.pattern()
	return out, nil
}

// url returns the template as a URL, or an error naming the placeholders
// left.
func (t urlTemplate) url() (string, error) {
	if len(t.parts) > 1 {
		return "", fmt.Errorf("providers: URL %s needs Vars %s", t, strings.Join(quoted(t.names()), ", "))
	}
	return t.parts[0], nil
}

// match reports whether u is the template with each placeholder filled
// by a valid value (the same one wherever a name repeats), and returns
// the values.
func (t urlTemplate) match(u string) (map[string]string, bool) {
	m := t.re.FindStringSubmatch(u)
	if m == nil {
		return nil, false
	}
	vars := make(map[string]string)
	for i := 1; i < len(t.parts); i += 2 {
		name, v := t.parts[i], m[(i+1)/2]
		if prev, seen := vars[name]; (seen && prev != v) || !validVar(v) {
			return nil, false
		}
		vars[name] = v
	}
	return vars, true
}

// fillURL fills every placeholder of the catalog's URL s from vars.
func fillURL(s string, vars map[string]string) (string, error) {
	t, err := parseTemplate(s)
	if err != nil {
		return "", err
	}
	if t, err = t.fill(vars); err != nil {
		return "", err
	}
	return t.url()
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// union returns a and b in one map; b's values win.
func union(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = make(map[string]string, len(b))
	}
	maps.Copy(out, b)
	return out
}
