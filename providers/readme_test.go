package providers

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var update = flag.Bool("update", false, "rewrite the README's provider table from the catalog")

const (
	tableBegin = "<!-- providers:begin -->"
	tableEnd   = "<!-- providers:end -->"
)

// The README's provider table is the catalog's, rendered by
// renderTable: run
//
//	go test ./providers -run TestREADMETableIsCurrent -update
//
// after changing the catalog.
func TestREADMETableIsCurrent(t *testing.T) {
	path := filepath.Join("..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := bytes.Index(readme, []byte(tableBegin)), bytes.Index(readme, []byte(tableEnd))
	if begin < 0 || end < begin {
		t.Fatalf("README.md has no %s … %s section", tableBegin, tableEnd)
	}
	begin += len(tableBegin)
	want := "\n" + renderTable(All()) + "\n"
	if string(readme[begin:end]) == want {
		return
	}
	if *update {
		out := slices.Concat(readme[:begin], []byte(want), readme[end:])
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's provider table is not the catalog's; run\n\tgo test ./providers -run TestREADMETableIsCurrent -update\nIt should read:\n%s", want)
}

// The table renders every kind of fact, with a source for each known one.
func TestRenderTable(t *testing.T) {
	got := renderTable([]*Provider{exampleProvider(), unknownProvider()})
	for _, want := range []string{
		"| [Example](https://docs.example/oauth) `example` | yes [[1]], grace 30 s [[1]] | 1 h [[1]] | 90 days [[1]] | none [[1]] | no [[1]] | `invalid_grant`, `BAD_REFRESH_TOKEN` (code in `status`) [[1]] | assume 30 min [[1]] | `instance_url` [[1]] | yes [[1]] |",
		"| Mystery `mystery` | unknown | unknown | unknown | unknown | unknown | unknown | unknown | unknown | unknown |",
		"[1]: https://docs.example/oauth",
		"1. <https://docs.example/oauth>, read 2026-11-30",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks\n%s\nin\n%s", want, got)
		}
	}
	if empty := renderTable(nil); !strings.Contains(empty, "no providers yet") {
		t.Errorf("an empty catalog renders as\n%s", empty)
	}
}

// renderTable renders providers as the README's Markdown table, one row
// each, with a numbered source behind every known fact and the sources
// listed below.
func renderTable(providers []*Provider) string {
	var b strings.Builder
	b.WriteString("| Provider | Rotates (with grace) | Access lifetime | Idle lifetime | Absolute lifetime | Refresh revokes old access token | Dead grant says | No `expires_in` | Keep fields | RFC 7009 revocation |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var sources []Source
	ref := func(s Source) string {
		for i, have := range sources {
			if have == s {
				return fmt.Sprintf("[[%d]]", i+1)
			}
		}
		sources = append(sources, s)
		return fmt.Sprintf("[[%d]]", len(sources))
	}
	for _, p := range providers {
		name := p.Name + " `" + p.ID + "`"
		if p.Docs != "" {
			name = "[" + p.Name + "](" + p.Docs + ") `" + p.ID + "`"
		}
		cells := []string{
			name,
			rotates(p, ref),
			cell(p.AccessLifetime, ref, func(d time.Duration) string { return duration(d, "does not expire") }),
			cell(p.IdleLifetime, ref, func(d time.Duration) string { return duration(d, "none") }),
			cell(p.AbsoluteLifetime, ref, func(d time.Duration) string { return duration(d, "none") }),
			cell(p.RevokesOldAccess, ref, yesNo),
			cell(p.DeadGrant, ref, func(d generic.Dialect) string {
				codes := "`" + strings.Join(append([]string{"invalid_grant"}, d.DeadCodes...), "`, `") + "`"
				if len(d.CodeMembers) > 0 {
					codes += " (code in `" + strings.Join(d.CodeMembers, "` or `") + "`)"
				}
				return codes
			}),
			cell(p.ExpiresIn, ref, func(e ExpiresIn) string {
				switch {
				case e.Sent:
					return "always sent"
				case e.Assume > 0:
					return "assume " + duration(e.Assume, "")
				}
				return "no expiry"
			}),
			cell(p.KeepFields, ref, func(fs []string) string {
				if len(fs) == 0 {
					return "none"
				}
				return "`" + strings.Join(fs, "`, `") + "`"
			}),
			cell(p.Revocation, ref, func(u string) string { return yesNo(u != "") }),
		}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	if len(providers) == 0 {
		b.WriteString("\n(no providers yet)\n")
	}
	if len(sources) > 0 {
		b.WriteString("\nSources, with the day each was read:\n\n")
		for i, s := range sources {
			fmt.Fprintf(&b, "%d. <%s>, read %s\n", i+1, s.URL, s.Read)
		}
		b.WriteString("\n")
		for i, s := range sources {
			fmt.Fprintf(&b, "[%d]: %s\n", i+1, s.URL)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// cell renders a fact: "unknown", or its value in words with its source.
func cell[T any](f Fact[T], ref func(Source) string, words func(T) string) string {
	if !f.Known {
		return "unknown"
	}
	return words(f.Value) + " " + ref(f.Source)
}

// rotates renders Rotates, and ReuseGrace beside it when it rotates.
func rotates(p *Provider, ref func(Source) string) string {
	if !p.Rotates.Known || !p.Rotates.Value {
		return cell(p.Rotates, ref, yesNo)
	}
	grace := cell(p.ReuseGrace, ref, func(d time.Duration) string { return duration(d, "none") })
	return cell(p.Rotates, ref, yesNo) + ", grace " + grace
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// duration writes d for people: in days, hours, minutes or seconds,
// whichever is whole; zero as zero says.
func duration(d time.Duration, zero string) string {
	day := 24 * time.Hour
	switch {
	case d == 0:
		return zero
	case d%day == 0 && d/day == 1:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%g s", d.Seconds())
}
