// Package describe prints the module's types that hold a secret (a
// client secret, a key, tokens) by the description their String method
// gives, whatever the verb or the encoder: fmt's %x or %d would otherwise
// walk their fields, and encoding/json (which slog's JSONHandler uses for
// a struct) would write their exported ones.
package describe

import (
	"encoding/json"
	"fmt"
)

// Format writes desc for any verb, with the directive's flags and width:
// quoted for %q, as a string for every other verb.
func Format(f fmt.State, verb rune, desc string) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), desc)
}

// JSON returns desc as a JSON string.
func JSON(desc string) ([]byte, error) { return json.Marshal(desc) }
