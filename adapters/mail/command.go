package mail

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/setup"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

const usage = `usage: mycelium mail COMMAND
  adduser USER      create an account (password read from stdin)
  passwd USER       change an account's password (from stdin)
  deluser USER      delete an account and all its mail
  list              list accounts with their addresses
  profile [flags] USER
                    write an Apple configuration profile (.mobileconfig) to stdout,
                    with calendars and contacts when the node runs the dav plugin
      --loopback    use localhost and the loopback ports (same machine, or a port forward)
      --host HOST   host name clients use (default: settings hostname, node name or overlay address)
      --smtp-port N SMTP port in the profile: 465 (TLS, default) or 587 (STARTTLS)
      --name NAME   display name for From:
USER is a local part ("alice") or a full address under one of the node's domains.`

// noHost answers alias lookups for CLI commands, which do not route mail.
type noHost struct{}

func (noHost) AddressOf(context.Context, sdk.PublicKey) (netip.Addr, error) {
	return netip.Addr{}, errors.New("not available in a command")
}

// RunCommand implements sdk.Commander.
func (a *Adapter) RunCommand(ctx context.Context, env sdk.CommandEnv, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, usage)
		return errors.New("mail: missing command")
	}
	set, err := ParseSettings(env.Settings)
	if err != nil {
		return err
	}
	res, err := addr.NewResolver(env.Node.PublicKey, env.Node.Address, set.aliases, noHost{})
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	a.set, a.res, a.cfg = set, res, env.Config
	st, err := store.Open(ctx, env.DataDir, a.log)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	defer st.Close()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "adduser", "passwd", "deluser":
		if len(rest) != 1 {
			return fmt.Errorf("mail %s: need exactly one USER\n%s", cmd, usage)
		}
		local, err := a.accountOf(rest[0])
		if err != nil {
			return fmt.Errorf("mail %s: %w", cmd, err)
		}
		return a.account(ctx, env, st, cmd, local)
	case "list":
		return a.list(ctx, env, st)
	case "profile":
		return a.profile(ctx, env, st, rest)
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, usage)
		return nil
	}
	return fmt.Errorf("mail: unknown command %q\n%s", cmd, usage)
}

func (a *Adapter) account(ctx context.Context, env sdk.CommandEnv, st *store.Store, cmd, local string) error {
	switch cmd {
	case "deluser":
		if err := st.DeleteUser(ctx, local); err != nil {
			return fmt.Errorf("mail deluser: %w", err)
		}
		fmt.Fprintf(env.Stdout, "deleted %s\n", local)
		return nil
	}
	pw, err := passwd.ReadNew(ctx, env, local)
	if err != nil {
		return fmt.Errorf("mail %s: %w", cmd, err)
	}
	if cmd == "adduser" {
		err = st.AddUser(ctx, local, pw)
	} else {
		err = st.SetPassword(ctx, local, pw)
	}
	if err != nil {
		return fmt.Errorf("mail %s: %w", cmd, err)
	}
	fmt.Fprintf(env.Stdout, "%s: login %s@%s\n", cmd, local, a.res.Canonical())
	return nil
}

func (a *Adapter) list(ctx context.Context, env sdk.CommandEnv, st *store.Store) error {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("mail list: %w", err)
	}
	for _, u := range users {
		var addrs []string
		for _, d := range a.res.LocalDomains() {
			addrs = append(addrs, u+"@"+d)
		}
		fmt.Fprintf(env.Stdout, "%s\t%s\n", u, strings.Join(addrs, " "))
	}
	return nil
}

func (a *Adapter) profile(ctx context.Context, env sdk.CommandEnv, st *store.Store, args []string) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	loopback := fs.Bool("loopback", false, "use localhost and the loopback ports")
	host := fs.String("host", "", "host name clients use")
	smtpPort := fs.Int("smtp-port", 465, "465 (TLS) or 587 (STARTTLS)")
	name := fs.String("name", "", "display name")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("mail profile: %w", err)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("mail profile: need exactly one USER\n%s", usage)
	}
	local, err := a.accountOf(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("mail profile: %w", err)
	}
	if _, err := st.UserByLocal(ctx, local); err != nil {
		return fmt.Errorf("mail profile: %w (create it with: mycelium mail adduser %s)", err, local)
	}
	p, err := a.buildProfile(local, *loopback, *host, *smtpPort, *name)
	if err != nil {
		return err
	}
	out, err := setup.BuildProfile(p)
	if err != nil {
		return fmt.Errorf("mail profile: %w", err)
	}
	if _, err = env.Stdout.Write(out); err != nil {
		return err
	}
	if p.CalDAV != nil && *loopback {
		davHint(env, p.CalDAV.Username, local)
	}
	return nil
}

// davHint tells how the profile's calendar and contacts accounts log in
// on loopback: with a dav account, which is not the mail account.
func davHint(env sdk.CommandEnv, user, local string) {
	if user == "" {
		fmt.Fprintf(env.Stderr, "calendars and contacts: %q cannot be a dav account name; the device asks for the dav account to use\n", local)
		return
	}
	fmt.Fprintf(env.Stderr, "calendars and contacts log in with the dav account %q (create it with: mycelium dav adduser %s)\n", user, user)
}

// buildProfile assembles the profile description. It has CalDAV and
// CardDAV payloads when the node runs the dav plugin's services
// (Config.Node.Services); ProfileOptions can set them too.
func (a *Adapter) buildProfile(local string, loopback bool, host string, smtpPort int, name string, opts ...ProfileOption) (setup.Profile, error) {
	h := host
	if h == "" {
		if loopback {
			h = "localhost"
		} else {
			h = a.overlayHost()
		}
	}
	ep := a.endpoints(loopback, h)
	p := setup.Profile{
		Address:     local + "@" + a.res.Canonical(),
		DisplayName: name,
		IMAP:        setup.MailServer{Host: ep.IMAPS.Host, Port: ep.IMAPS.Port, TLS: true},
	}
	switch smtpPort {
	case 465:
		p.SMTP = setup.MailServer{Host: ep.Submissions.Host, Port: ep.Submissions.Port, TLS: true}
	case 587:
		p.SMTP = setup.MailServer{Host: ep.Submission.Host, Port: ep.Submission.Port, TLS: true}
	default:
		return setup.Profile{}, fmt.Errorf("mail profile: --smtp-port must be 465 or 587, not %d", smtpPort)
	}
	if a.cfg.TLS != nil {
		p.CAPEM = a.cfg.TLS.CAPEM
	}
	if dav, ok := davEndpoint(a.cfg.Node.Services, loopback, h); ok {
		cal, card := davAccounts(dav, local)
		p.CalDAV, p.CardDAV = &cal, &card
	}
	for _, o := range opts {
		o(&p)
	}
	return p, nil
}

// ProfileOption adjusts a generated profile, e.g. to add DAV accounts.
type ProfileOption func(*setup.Profile)

// WithCalDAV adds a CalDAV account payload.
func WithCalDAV(acc setup.DAVAccount) ProfileOption {
	return func(p *setup.Profile) { p.CalDAV = &acc }
}

// WithCardDAV adds a CardDAV account payload.
func WithCardDAV(acc setup.DAVAccount) ProfileOption {
	return func(p *setup.Profile) { p.CardDAV = &acc }
}
