package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/oauthrt/oauthrt/keyring"
	"github.com/spf13/cobra"
)

const keysCmdHelp = `Keys counts the store's records by the key of the keyring that seals
them: a key that seals none can leave the ring (see oauthrt help rekey).
Give the keyring with --keys-file or --keys-env. Every key of the ring
has a row, the primary first, 0 included; "(clear)" counts the records
stored unencrypted, "(unreadable)" those no key of the ring opens.

Output with --json:
  {"keys":[{"id":…,"primary":true,"records":N},…],"clear":N,"unreadable":N,"total":N}
`

func (a *app) keysCommand() *cobra.Command {
	var prefix string
	c := &cobra.Command{
		Use:   "keys",
		Short: "Count the records each key of the keyring seals",
		Long:  keysCmdHelp,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ring, err := a.needRing("keys")
			if err != nil {
				return err
			}
			s, err := openStore(ctx, a.storeURL, ring)
			if err != nil {
				return err
			}
			defer s.Close()
			ins, err := inspector(s)
			if err != nil {
				return err
			}
			c, err := keyring.Count(ctx, ins, prefix)
			if err != nil {
				return err
			}
			return a.printCounts(ring, c)
		},
	}
	c.Flags().StringVar(&prefix, "prefix", "", "count only the keys that start with `P`")
	return c
}

// keyCount is one key's row of keys --json.
type keyCount struct {
	ID      string `json:"id"`
	Primary bool   `json:"primary"`
	Records int    `json:"records"`
}

func (a *app) printCounts(ring *keyring.Ring, c keyring.Counts) error {
	rows := make([]keyCount, 0, len(ring.IDs()))
	for i, id := range ring.IDs() {
		rows = append(rows, keyCount{ID: id, Primary: i == 0, Records: c.ByKey[id]})
	}
	if a.jsonOut {
		return json.NewEncoder(a.stdout).Encode(struct {
			Keys       []keyCount `json:"keys"`
			Clear      int        `json:"clear"`
			Unreadable int        `json:"unreadable"`
			Total      int        `json:"total"`
		}{rows, c.Clear, c.Unreadable, c.Total()})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tRECORDS")
	for _, r := range rows {
		id := r.ID
		if r.Primary {
			id += " (primary)"
		}
		fmt.Fprintf(tw, "%s\t%s\n", id, strconv.Itoa(r.Records))
	}
	fmt.Fprintf(tw, "(clear)\t%d\n", c.Clear)
	fmt.Fprintf(tw, "(unreadable)\t%d\n", c.Unreadable)
	return tw.Flush()
}
