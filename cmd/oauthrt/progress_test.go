package main

import (
	"bytes"
	"testing"
)

// Off a terminal, progress is a plain line every progressEvery records,
// and nothing else.
func TestProgressLines(t *testing.T) {
	var stderr bytes.Buffer
	a := &app{stderr: &stderr}
	p := a.newProgress("exported", -1)
	for range 5 {
		p.add(progressEvery/2 + 1)
	}
	p.done()
	want := "oauthrt: exported 1000 records\noauthrt: exported 2000 records\n"
	if stderr.String() != want {
		t.Errorf("progress wrote %q; want %q", stderr.String(), want)
	}
}
