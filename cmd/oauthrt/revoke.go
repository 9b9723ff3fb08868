package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/spf13/cobra"
)

const revokeHelp = `revoke ends one grant: it revokes the stored token at the provider's
revocation endpoint (RFC 7009), under the store's refresh lease so that no
refresh runs meanwhile, then deletes the key from the store. A provider
without a revocation endpoint (and no --revocation-url) exits 1 before
anything is sent, and the key stays; so does a revocation the provider
fails, to be tried again.

--json writes {"key": "...", "revoked": true}.
` + clientHelp

func (a *app) revokeCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "revoke KEY",
		Short: "Revoke one grant at the provider and delete it from the store",
		Long:  revokeHelp,
		Args:  oneArg("KEY"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.revoke(c.Context(), args[0], &f)
		},
	}
	f.add(c.Flags())
	return c
}

func (a *app) revoke(ctx context.Context, key string, f *clientFlags) error {
	r, err := f.refresher()
	if err != nil {
		return err
	}
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := loadKey(ctx, s, key); err != nil {
		return err
	}
	t := &oauthrt.Transport{Store: s.TokenStore, Refresher: r}
	switch err := t.Revoke(ctx, key); {
	case errors.Is(err, oauthrt.ErrRevokeUnsupported):
		return fmt.Errorf("key %q: the provider has no revocation endpoint (give --revocation-url if it has one); nothing was revoked or deleted: %w", key, err)
	case errors.Is(err, oauthrt.ErrNoToken):
		return fmt.Errorf("no token under key %q in store %s", key, s.name)
	case err != nil:
		return fmt.Errorf("revoking key %q: %w", key, err)
	}
	if a.jsonOut {
		return json.NewEncoder(a.stdout).Encode(struct {
			Key     string `json:"key"`
			Revoked bool   `json:"revoked"`
		}{key, true})
	}
	fmt.Fprintf(a.stdout, "revoked key %s at the provider and deleted it from store %s\n", displayKey(key), s.name)
	return nil
}
