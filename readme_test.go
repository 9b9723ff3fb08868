package oauthrt_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// codeMarker precedes a Go block of the README that is a copy of a region
// of compiled code: "<!-- code: FILE NAME -->", the region lying between
// "// README: NAME" and "// END README" in FILE.
var codeMarker = regexp.MustCompile("(?m)^<!-- code: (\\S+) (\\S+) -->\n```go\n((?s:.*?))```\n")

// The README's code comes from example tests and files that compile (and
// mostly run), so that it cannot rot: each marked block must be the region
// it names, and the sections the ecosystem issue asked for must hold some.
func TestREADMECodeIsCompiledCode(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeMarker.FindAllSubmatchIndex(readme, -1)
	perSection := map[string]int{}
	for _, m := range blocks {
		file, name, code := string(readme[m[2]:m[3]]), string(readme[m[4]:m[5]]), string(readme[m[6]:m[7]])
		want, err := region(filepath.FromSlash(file), name)
		if err != nil {
			t.Errorf("README block %s %s: %v", file, name, err)
			continue
		}
		if code != want {
			t.Errorf("README block %s %s differs from the code; the code has:\n%s", file, name, want)
		}
		perSection[section(readme[:m[0]])]++
	}
	for _, s := range []string{"Using with an SDK", "Migrating from golang.org/x/oauth2", "Azure DevOps → Entra ID"} {
		if perSection[s] == 0 {
			t.Errorf("README section %q has no block of compiled code", s)
		}
	}
}

// region returns the lines between "// README: name" and "// END README"
// in file, without the indentation they share.
func region(file, name string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var lines []string
	in := false
	for l := range strings.Lines(string(b)) {
		switch strings.TrimSpace(l) {
		case "// README: " + name:
			in = true
			continue
		case "// END README":
			if in {
				return dedent(lines), nil
			}
		}
		if in {
			lines = append(lines, l)
		}
	}
	return "", os.ErrNotExist
}

func dedent(lines []string) string {
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			n := len(l) - len(strings.TrimLeft(l, "\t"))
			if indent < 0 || n < indent {
				indent = n
			}
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			l = l[indent:]
		}
		b.WriteString(l)
	}
	return b.String()
}

// section returns the title of the last "## " heading in text.
func section(text []byte) string {
	i := strings.LastIndex("\n"+string(text), "\n## ") // "## " starts at i in text
	if i < 0 {
		return ""
	}
	title, _, _ := strings.Cut(string(text[i+len("## "):]), "\n")
	return title
}
