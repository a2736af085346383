package webdav

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/accounts"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

const commandUsage = `usage: mycelium webdav <command>

commands:
  adduser NAME   create a local account; the password is read from stdin
  passwd NAME    change an account's password (read from stdin)
  deluser NAME   delete an account (its files stay in trees/users/NAME)
  list           list the accounts and the overlay keys linked to them
`

// RunCommand implements sdk.Commander: local account management.
// Passwords are read from standard input, never from the command line:
// from a terminal without echo and twice, otherwise the first line.
func (a *Adapter) RunCommand(ctx context.Context, env sdk.CommandEnv, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.Stdout, commandUsage)
		return nil
	}
	s, err := ParseSettings(env.Settings)
	if err != nil {
		return err
	}
	if env.DataDir == "" {
		return errors.New("webdav: no data directory")
	}
	db, err := openDB(ctx, env.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	acc, err := accounts.Open(ctx, db)
	if err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	if cmd == "list" {
		return listAccounts(ctx, env, acc, &s)
	}
	if len(rest) != 1 {
		return fmt.Errorf("webdav: %s needs exactly one account name\n\n%s", cmd, commandUsage)
	}
	name := rest[0]
	switch cmd {
	case "adduser", "passwd":
		pw, err := passwd.ReadNew(ctx, env, name)
		if err != nil {
			return fmt.Errorf("webdav: %w", err)
		}
		if cmd == "adduser" {
			err = acc.Add(ctx, name, pw)
		} else {
			err = acc.SetPassword(ctx, name, pw)
		}
		if err != nil {
			return fmt.Errorf("webdav: %s %s: %w", cmd, name, err)
		}
		fmt.Fprintf(env.Stdout, "account %s: password set\n", name)
	case "deluser":
		if err := acc.Delete(ctx, name); err != nil {
			return fmt.Errorf("webdav: deluser %s: %w", name, err)
		}
		fmt.Fprintf(env.Stdout, "account %s deleted; its files remain in trees/users/%s\n", name, name)
	default:
		return fmt.Errorf("webdav: unknown command %q\n\n%s", cmd, commandUsage)
	}
	return nil
}

func listAccounts(ctx context.Context, env sdk.CommandEnv, acc *accounts.DB, s *Settings) error {
	list, err := acc.List(ctx)
	if err != nil {
		return err
	}
	links := map[string][]string{}
	for key, name := range s.Links {
		links[name] = append(links[name], strings.ToLower(key))
	}
	for _, a := range list {
		keys := links[a.Name]
		sort.Strings(keys)
		line := fmt.Sprintf("%-20s created %s", a.Name, a.Created.UTC().Format("2006-01-02 15:04 UTC"))
		if len(keys) > 0 {
			line += "  linked keys: " + strings.Join(keys, ", ")
		}
		fmt.Fprintln(env.Stdout, line)
	}
	return nil
}
