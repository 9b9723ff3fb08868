package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes: 0 when the command did what it was asked, 1 when it failed,
// 2 when it was asked wrongly (an unknown flag, a missing argument, a
// store URL it cannot read).
const (
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks an error in what the command was asked, for exit code
// 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// app holds the global flags and what every command shares.
type app struct {
	storeURL string // --store
	keysFile string // --keys-file
	keysEnv  string // --keys-env
	jsonOut  bool   // --json

	stdout, stderr io.Writer
}

// run runs the command line args, writing to stdout and stderr, and
// returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "oauthrt:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "oauthrt",
		Short: "See, repair, move and re-key oauthrt token stores",
		Long: `oauthrt reads and repairs the token stores of services that use
github.com/oauthrt/oauthrt: which grants are dead and since when, who holds
a key's lease, moving every grant to another store, rotating the key that
encrypts them.

` + storeHelp + keysHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable, so that cobra checks the root's Args (below) rather
		// than printing help for any word it does not know.
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Without a subcommand of that name, the arguments reach the root
	// command, which takes none: an unknown command is a usage error.
	root.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q: see oauthrt help", args[0])
		}
		return nil
	}
	f := root.PersistentFlags()
	f.StringVar(&a.storeURL, "store", os.Getenv("OAUTHRT_STORE"), "the store's URL (default $OAUTHRT_STORE)")
	f.StringVar(&a.keysFile, "keys-file", os.Getenv("OAUTHRT_KEYS_FILE"), "a keyring file for an encrypted store (default $OAUTHRT_KEYS_FILE)")
	f.StringVar(&a.keysEnv, "keys-env", "", "the name of an environment variable holding the keyring")
	f.BoolVar(&a.jsonOut, "json", false, "write JSON instead of text")
	for _, c := range a.commands() {
		root.AddCommand(c)
	}
	return root
}

// commands returns the subcommands, each built in a file of its own.
func (a *app) commands() []*cobra.Command {
	return []*cobra.Command{
		a.statusCommand(),
		a.showCommand(),
		a.refreshCommand(),
		a.revokeCommand(),
		a.exportCommand(),
		a.importCommand(),
		a.migrateCommand(),
		a.rekeyCommand(),
		a.keysCommand(),
		a.keygenCommand(),
	}
}

// noArgs is the Args of a command that takes no argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments", cmd.Name())
	}
	return nil
}

// oneArg returns the Args of a command that takes one argument, what.
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s takes one argument, %s", cmd.Name(), what)
		}
		return nil
	}
}
