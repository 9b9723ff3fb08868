package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressEvery is how many records pass between two progress lines
// when stderr is not a terminal.
const progressEvery = 1000

// progress shows how far a long command has gone, on stderr: a bar on a
// terminal, a plain line every progressEvery records otherwise. It never
// shows a token or a key.
type progress struct {
	bar  *progressbar.ProgressBar // nil when stderr is no terminal
	w    io.Writer
	verb string
	n    int
	next int // the count at which the next plain line is written
}

// newProgress starts showing progress of verb ("exported", …) over
// total records; total -1 when unknown, for a counting spinner.
func (a *app) newProgress(verb string, total int) *progress {
	p := &progress{w: a.stderr, verb: verb, next: progressEvery}
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(f),
			progressbar.OptionSetDescription(verb),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionFullWidth(),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// add counts n more records.
func (p *progress) add(n int) {
	p.n += n
	if p.bar != nil {
		p.bar.Add(n)
		return
	}
	for p.n >= p.next {
		fmt.Fprintf(p.w, "oauthrt: %s %d records\n", p.verb, p.next)
		p.next += progressEvery
	}
}

// done stops the bar; the command then prints its summary.
func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
