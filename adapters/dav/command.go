package dav

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mycelium-go/mycelium/adapters/dav/server"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

const usage = `usage: mycelium dav <command>

commands:
  adduser <name>           create a local account; the password is read from stdin
  passwd <name>            change an account's password (read from stdin)
  deluser [--purge] <name> delete an account; --purge also deletes its calendars and contacts
  list                     list accounts, key links and principals
`

// ErrUsage is returned for a command line RunCommand does not understand.
var ErrUsage = errors.New("dav: bad command line")

// RunCommand runs a local-account command (sdk.Commander).
func (a *Adapter) RunCommand(ctx context.Context, env sdk.CommandEnv, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.Stdout, usage)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	s, err := ParseSettings(env.Settings)
	if err != nil {
		return err
	}
	if env.DataDir == "" {
		return errors.New("dav: no data directory")
	}
	st, err := openStore(ctx, env.DataDir, s, a.log)
	if err != nil {
		return err
	}
	defer st.Close()
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "adduser" && len(rest) == 1:
		return addUser(ctx, env, st, rest[0])
	case cmd == "passwd" && len(rest) == 1:
		return changePassword(ctx, env, st, rest[0])
	case cmd == "deluser" && len(rest) == 1:
		return deleteUser(ctx, env, st, rest[0], false)
	case cmd == "deluser" && len(rest) == 2 && rest[0] == "--purge":
		return deleteUser(ctx, env, st, rest[1], true)
	case cmd == "list" && len(rest) == 0:
		return list(ctx, env, st, s)
	}
	fmt.Fprint(env.Stderr, usage)
	return fmt.Errorf("%w: %s", ErrUsage, strings.Join(args, " "))
}

func addUser(ctx context.Context, env sdk.CommandEnv, st *store.Store, name string) error {
	if !server.ValidAccountName(name) {
		return fmt.Errorf("dav: adduser: %q is not a valid name (1-32 letters, digits, '.', '_', '-')", name)
	}
	hash, err := newHash(ctx, env, name)
	if err != nil {
		return err
	}
	if err := st.AddAccount(ctx, name, hash); err != nil {
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("dav: adduser: account %q exists (use passwd to change its password)", name)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "account %s created; principal URL /principals/%s/\n", name, name)
	return nil
}

func changePassword(ctx context.Context, env sdk.CommandEnv, st *store.Store, name string) error {
	if _, err := st.AccountHash(ctx, name); err != nil {
		return fmt.Errorf("dav: passwd: %w", err)
	}
	hash, err := newHash(ctx, env, name)
	if err != nil {
		return err
	}
	if err := st.SetAccountHash(ctx, name, hash); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "password of %s changed\n", name)
	return nil
}

func deleteUser(ctx context.Context, env sdk.CommandEnv, st *store.Store, name string, purge bool) error {
	if err := st.DeleteAccount(ctx, name); err != nil {
		return fmt.Errorf("dav: deluser: %w", err)
	}
	fmt.Fprintf(env.Stdout, "account %s deleted\n", name)
	if !purge {
		return nil
	}
	if err := st.DeletePrincipal(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("dav: deluser: %w", err)
	}
	fmt.Fprintf(env.Stdout, "calendars and address books of %s deleted (restart the plugin to provision it afresh)\n", name)
	return nil
}

func list(ctx context.Context, env sdk.CommandEnv, st *store.Store, s Settings) error {
	accts, err := st.Accounts(ctx)
	if err != nil {
		return err
	}
	princs, err := st.Principals(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "ACCOUNT\tCREATED")
	for _, a := range accts {
		fmt.Fprintf(w, "%s\t%s\n", a.Name, a.Created.UTC().Format("2006-01-02 15:04Z"))
	}
	if len(s.Links) > 0 {
		fmt.Fprintln(w, "\nLINKED KEY\tACCOUNT")
		keys := make([]string, 0, len(s.Links))
		for k := range s.Links {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s\t%s\n", k, s.Links[k])
		}
	}
	fmt.Fprintln(w, "\nPRINCIPAL\tCOLLECTIONS\tOBJECTS")
	for _, p := range princs {
		fmt.Fprintf(w, "%s\t%d\t%d\n", p.ID, p.Collections, p.Objects)
	}
	return w.Flush()
}

// newHash reads a new password for name from stdin and returns its hash.
func newHash(ctx context.Context, env sdk.CommandEnv, name string) (string, error) {
	pw, err := passwd.ReadNew(ctx, env, name)
	if err != nil {
		return "", fmt.Errorf("dav: %w", err)
	}
	return passwd.Hash(pw)
}
