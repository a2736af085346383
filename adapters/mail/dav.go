package mail

import (
	"context"
	"errors"
	"time"

	"github.com/mycelium-go/mycelium/adapters/mail/setup"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Calendars and contacts: when the dav plugin (adapters/dav) runs on the
// same node, Apple profiles gain CalDAV and CardDAV accounts and
// Thunderbird autoconfig an address book and a calendar. The mail plugin
// learns it from the node: Config.Node.Services in a subcommand (the
// node describes every plugin), and the host's node-services callback at
// request time while running (plugins start in parallel and can be
// reloaded, so the Configure snapshot may be stale).

// The dav plugin's services; service names are unique on a node.
const (
	davServiceTLS   = "davs" // HTTPS with the node CA's certificate; preferred
	davServicePlain = "dav"  // plain HTTP (the overlay encrypts)
)

// nodeServicesTimeout bounds the host callback of an autoconfig request.
const nodeServicesTimeout = 2 * time.Second

// davEndpoint finds the node's CalDAV/CardDAV server in services as a
// client reaches it (on loopback, or on the overlay under host): "davs"
// if it listens there, else "dav".
func davEndpoint(services []sdk.NodeService, loopback bool, host string) (setup.DAVEndpoint, bool) {
	for _, name := range []string{davServiceTLS, davServicePlain} {
		s, ok := sdk.FindService(services, name)
		if !ok || s.Protocol != "http" || (s.TLS != sdk.TLSImplicit && s.TLS != sdk.TLSNone) {
			continue
		}
		ap := s.Overlay
		if loopback {
			ap = s.Loopback
		}
		if !ap.IsValid() || ap.Port() == 0 {
			continue
		}
		return setup.DAVEndpoint{Endpoint: setup.Endpoint{Host: host, Port: ap.Port()}, TLS: s.TLS == sdk.TLSImplicit}, true
	}
	return setup.DAVEndpoint{}, false
}

// liveServices asks the node which services run now; nil if it cannot
// tell (an older node, or no answer in time).
func (a *Adapter) liveServices(ctx context.Context) []sdk.NodeService {
	ctx, cancel := context.WithTimeout(ctx, nodeServicesTimeout)
	defer cancel()
	svcs, err := sdk.NodeServicesOf(ctx, a.host)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		a.log.Debug("the node does not list its services: no calendars and contacts in autoconfig", "err", err)
	case err != nil:
		a.log.Warn("list the node's services: no calendars and contacts in autoconfig", "err", err)
	}
	return svcs
}

// davAccounts returns the CalDAV and CardDAV accounts of the mail account
// local on ep. The user name is local: on loopback the dav plugin logs in
// its own accounts (`mycelium dav adduser`), named like the mail account
// by convention; over the overlay the device's node key identifies it and
// any name works. A local part that cannot be a dav account name is left
// out (the device asks). No principal URL: the mail plugin cannot be
// sure of it (a key over the overlay, a linked or differently named
// account on loopback), and a wrong one breaks macOS; clients discover it
// from the root URL.
func davAccounts(ep setup.DAVEndpoint, local string) (caldav, carddav setup.DAVAccount) {
	acc := setup.DAVAccount{Host: ep.Host, Port: ep.Port, UseSSL: ep.TLS}
	if validDAVAccount(local) {
		acc.Username = local
	}
	return acc, acc
}

// validDAVAccount mirrors the dav plugin's account names: 1 to 32 ASCII
// letters, digits, '.', '_' and '-', starting with a letter or digit.
func validDAVAccount(name string) bool {
	if len(name) == 0 || len(name) > 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
