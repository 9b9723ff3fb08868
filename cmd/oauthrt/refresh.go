package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

const refreshHelp = `refresh refreshes one grant now, as a service using the store would: under
the store's refresh lease, so that no other process presents the same
refresh token meanwhile, and with the store's conditional commit, so that
the new token replaces only the one the refresh started from. It prints
the new expiry and the tokens' fingerprints before and after.

A dead grant (the provider refused its refresh token for good) is not
presented again: refresh says so and exits 1, and so does a refusal now,
which marks the grant dead for the whole fleet. If another process
refreshed the grant while refresh waited for the lease, its token is kept
and nothing is sent.

--json writes one object:

  {"key": "...", "outcome": "refreshed" | "loaded",
   "expires": RFC 3339,                  absent when the token never expires
   "access_token_fp": {"before": "...", "after": "..."},
   "refresh_token_fp": {"before": "...", "after": "..."}}
` + clientHelp

func (a *app) refreshCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "refresh KEY",
		Short: "Refresh one grant now, through the store's lease and conditional commit",
		Long:  refreshHelp,
		Args:  oneArg("KEY"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.refresh(c.Context(), args[0], &f)
		},
	}
	f.add(c.Flags())
	return c
}

// printsJSON is a pair of fingerprints in refresh's --json output.
type printsJSON struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

// refreshJSON is refresh's --json output.
type refreshJSON struct {
	Key            string     `json:"key"`
	Outcome        string     `json:"outcome"`
	Expires        string     `json:"expires,omitempty"`
	AccessTokenFP  printsJSON `json:"access_token_fp"`
	RefreshTokenFP printsJSON `json:"refresh_token_fp"`
}

func (a *app) refresh(ctx context.Context, key string, f *clientFlags) error {
	r, err := f.refresher()
	if err != nil {
		return err
	}
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	before, err := loadKey(ctx, s, key)
	if err != nil {
		return err
	}
	t := &oauthrt.Transport{Store: s.TokenStore, Refresher: r}
	outcome, err := t.Refresh(ctx, key, before)
	if err != nil {
		if errors.Is(err, oauthrt.ErrReauthRequired) {
			return fmt.Errorf("key %q: the grant is dead, the user must authorize again: %w", key, err)
		}
		return fmt.Errorf("refreshing key %q: %w", key, err)
	}
	after, err := loadKey(ctx, s, key)
	if err != nil {
		return err
	}
	out := refreshJSON{
		Key:            key,
		Outcome:        string(outcome),
		Expires:        rfc3339(after.Expiry),
		AccessTokenFP:  printsJSON{accessPrint(before), accessPrint(after)},
		RefreshTokenFP: printsJSON{refreshPrint(before), refreshPrint(after)},
	}
	if a.jsonOut {
		return json.NewEncoder(a.stdout).Encode(out)
	}
	switch outcome {
	case oauthrt.OutcomeLoaded:
		fmt.Fprintf(a.stdout, "key %s was refreshed meanwhile by another process: its token is kept, nothing was sent\n", displayKey(key))
	default:
		fmt.Fprintf(a.stdout, "refreshed key %s\n", displayKey(key))
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  access token\t%s\n", change(out.AccessTokenFP))
	fmt.Fprintf(tw, "  refresh token\t%s\n", change(out.RefreshTokenFP))
	fmt.Fprintf(tw, "  expires\t%s\n", expiryText(after.Expiry, time.Now()))
	return tw.Flush()
}

// change writes a pair of fingerprints: "a -> b", or "a (unchanged)".
func change(p printsJSON) string {
	switch {
	case p.Before == "" && p.After == "":
		return "none"
	case p.Before == p.After:
		return p.After + " (unchanged)"
	}
	return cmp.Or(p.Before, "none") + " -> " + cmp.Or(p.After, "none")
}

// loadKey loads key's token from s, with the messages of a missing key
// and of a token that does not open.
func loadKey(ctx context.Context, s *store, key string) (*oauth2.Token, error) {
	tok, err := s.Load(ctx, key)
	switch {
	case errors.Is(err, oauthrt.ErrNoToken) || err == nil && tok == nil:
		return nil, fmt.Errorf("no token under key %q in store %s", key, s.name)
	case errors.Is(err, oauthrt.ErrDecrypt):
		return nil, fmt.Errorf("key %q: its token cannot be decrypted (wrong or missing key): %w", key, err)
	case errors.Is(err, oauthrt.ErrCorruptToken):
		return nil, fmt.Errorf("key %q: its token is damaged: %w", key, err)
	case err != nil:
		return nil, fmt.Errorf("store %s: loading key %q: %w", s.name, key, err)
	}
	return tok, nil
}
