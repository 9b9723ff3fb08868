package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

const showHelp = `show describes one grant of a store, everything but its secrets: its
health, its token's type, expiry and fingerprints, when it was last
refreshed, the names of the token's extra fields, and its lease. Tokens
appear only as fingerprints: the first 12 hex digits of oauthrt.Fingerprint
of the access token alone and of the refresh token alone, which tell two
tokens apart (before and after a refresh, or in two stores) and reveal
nothing of them.

A key that holds no token, or whose token does not open or decode, exits 1.
With --provider, the refresh time is shown against the provider's idle
lifetime, as status does.

--json writes status's record (see oauthrt status --help) with these more:

  "token_type": "Bearer",
  "access_token_fp": "a1b2c3d4e5f6",
  "refresh_token_fp": "0f9e8d7c6b5a",  absent when there is no refresh token
  "has_refresh_token": true,
  "expires_in": 3600,                  the token answer's expires_in, seconds
  "extra_fields": ["id_token", "scope"]
`

func (a *app) showCommand() *cobra.Command {
	var provider string
	c := &cobra.Command{
		Use:   "show KEY",
		Short: "Describe one grant, with its tokens as fingerprints only",
		Long:  showHelp,
		Args:  oneArg("KEY"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.show(c, args[0], provider)
		},
	}
	c.Flags().StringVar(&provider, "provider", "", "show idleness against the idle lifetime of provider `ID` in the catalog")
	return c
}

// showJSON is show's --json output.
type showJSON struct {
	recordJSON
	TokenType       string   `json:"token_type,omitempty"`
	AccessTokenFP   string   `json:"access_token_fp"`
	RefreshTokenFP  string   `json:"refresh_token_fp,omitempty"`
	HasRefreshToken bool     `json:"has_refresh_token"`
	ExpiresIn       int64    `json:"expires_in,omitempty"`
	ExtraFields     []string `json:"extra_fields"`
}

func (a *app) show(c *cobra.Command, key, provider string) error {
	p, err := lookupProvider(provider)
	if err != nil {
		return err
	}
	ctx := c.Context()
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	ins, err := inspector(s)
	if err != nil {
		return err
	}
	rec, ok, err := inspectKey(ctx, ins, key)
	switch {
	case err != nil:
		return fmt.Errorf("store %s: reading key %q: %w", s.name, key, err)
	case !ok:
		return fmt.Errorf("no token under key %q in store %s", key, s.name)
	}
	g := newGrant(rec)
	keyed := a.keysFile != "" || a.keysEnv != ""
	if rec.Err != nil {
		return fmt.Errorf("key %q: its token cannot be read (%s): %w", key, g.reason(keyed), rec.Err)
	}
	out := showJSON{
		recordJSON:      g.toJSON(p, keyed),
		TokenType:       rec.Token.TokenType,
		AccessTokenFP:   accessPrint(rec.Token),
		RefreshTokenFP:  refreshPrint(rec.Token),
		HasRefreshToken: rec.Token.RefreshToken != "",
		ExpiresIn:       rec.Token.ExpiresIn,
		ExtraFields:     extraNames(rec.Token),
	}
	if a.jsonOut {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	line := func(label, value string) { fmt.Fprintf(tw, "%s\t%s\n", label, value) }
	line("key", displayKey(key))
	line("health", healthText(g, keyed))
	if !g.status.Since.IsZero() {
		line("since", sinceText(g, now))
	}
	if !g.status.NextAttempt.IsZero() {
		line("next attempt", stamp(g.status.NextAttempt)+" ("+relative(g.status.NextAttempt, now)+")")
	}
	line("token type", cmp.Or(out.TokenType, "-"))
	line("access token", out.AccessTokenFP+" (fingerprint)")
	if out.HasRefreshToken {
		line("refresh token", out.RefreshTokenFP+" (fingerprint)")
	} else {
		line("refresh token", "none")
	}
	line("expires", expiryText(rec.Token.Expiry, now))
	if out.ExpiresIn > 0 {
		line("expires in", fmt.Sprintf("%ds (as issued)", out.ExpiresIn))
	}
	refreshed := "unknown"
	if at, ok := g.refreshed(); ok {
		refreshed = stamp(at) + " (" + idleOf(g, p, now).text(p) + ")"
	}
	line("refreshed", refreshed)
	line("extra fields", cmp.Or(strings.Join(out.ExtraFields, ", "), "none"))
	lease := leaseText(rec.Lease, now)
	if rec.Lease.Epoch != 0 {
		lease += fmt.Sprintf(", epoch %d", rec.Lease.Epoch)
	}
	line("lease", lease)
	switch {
	case !rec.Sealed:
		line("sealed", "no")
	case rec.KeyID != "":
		line("sealed", "yes, with key "+rec.KeyID)
	default:
		line("sealed", "yes")
	}
	return tw.Flush()
}

// standardFields are the members of a token answer that oauth2.Token
// holds in fields of its own: extraNames leaves them out.
var standardFields = []string{"access_token", "token_type", "refresh_token", "expires_in"}

// extraNames returns the names of tok's extra fields, sorted, never their
// values.
func extraNames(tok *oauth2.Token) []string {
	var names []string
	switch raw := tokenraw.Of(tok).(type) {
	case map[string]any:
		names = slices.Collect(maps.Keys(raw))
	case url.Values:
		names = slices.Collect(maps.Keys(raw))
	case map[string]string:
		names = slices.Collect(maps.Keys(raw))
	}
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(standardFields, n) })
	slices.Sort(names)
	if names == nil {
		names = []string{}
	}
	return names
}
