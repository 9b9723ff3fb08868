package main

import (
	"fmt"

	"github.com/oauthrt/oauthrt/keyring"
	"github.com/spf13/cobra"
)

const keygenHelp = `keygen prints a new key for a keyring: one line, "ID BASE64-SECRET", the
secret 32 bytes from the system's random source (AES-256-GCM). Put it
first in the keyring file to make it the primary key, keep the old keys
below it, and run oauthrt rekey once every service reads the new file:

  (oauthrt keygen 2026-06; cat tokens.keys) > tokens.keys.new
  chmod 600 tokens.keys.new && mv tokens.keys.new tokens.keys

The ID names the key in every record it seals: 1 to 32 letters, digits,
'.', '_' or '-'. It reads no store.
`

func (a *app) keygenCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen ID",
		Short: "Print a new keyring key",
		Long:  keygenHelp,
		Args:  oneArg("the new key's ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			line, err := keyring.Generate(args[0])
			if err != nil {
				return usageError{err}
			}
			_, err = fmt.Fprintln(a.stdout, line)
			return err
		},
	}
}
