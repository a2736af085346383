package sdk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// NodeService is one service of a plugin on the node (the asking plugin's
// own services included), as clients reach it. A plugin uses it to tell
// clients about other plugins' services, e.g. the mail plugin adds the dav
// plugin's CalDAV and CardDAV to the profiles it generates. Service names
// are unique on the node, so Name alone identifies a service.
type NodeService struct {
	Plugin   string  // the plugin offering it, e.g. "dav"
	Name     string  // the service name, e.g. "davs"
	Protocol string  // as described by the plugin, e.g. "http"
	TLS      TLSMode // how the service uses TLS
	// Overlay is the service's address on the node's overlay address;
	// zero if it is not on the overlay.
	Overlay netip.AddrPort
	// Loopback is its first loopback address (127.0.0.1 before ::1 by
	// default); zero if it has no loopback listener.
	Loopback netip.AddrPort
}

// NodeServiceLister is an optional part of a Host: a host that implements
// it says which services the node runs now. Inside a plugin the SDK's
// Host always implements it; the call fails with errors.ErrUnsupported
// when the node is older than this method or offers no callbacks. The
// gateway implements it on the host side.
type NodeServiceLister interface {
	// NodeServices returns the services the node listens for now, of
	// every plugin, sorted by plugin and service name. A plugin that is
	// restarting keeps its services (the node keeps listening for it);
	// a stopped or never-started plugin has none.
	NodeServices(ctx context.Context) ([]NodeService, error)
}

// NodeServicesOf asks h for the node's services now (see
// NodeServiceLister). A host without that method gives an error wrapping
// errors.ErrUnsupported.
//
// Plugins start in parallel and the node's configuration can change, so
// a plugin that tells clients about other services asks when a client
// asks it, instead of relying on Config.Node.Services from Configure.
func NodeServicesOf(ctx context.Context, h HostServer) ([]NodeService, error) {
	l, ok := h.(NodeServiceLister)
	if !ok {
		return nil, fmt.Errorf("sdk: node services: %w", errors.ErrUnsupported)
	}
	return l.NodeServices(ctx)
}

// FindService returns the service called name, if services has it.
func FindService(services []NodeService, name string) (NodeService, bool) {
	for _, s := range services {
		if s.Name == name {
			return s, true
		}
	}
	return NodeService{}, false
}

// SortNodeServices sorts services by plugin, then service name: the order
// in which the node reports them.
func SortNodeServices(services []NodeService) {
	slices.SortFunc(services, func(a, b NodeService) int {
		return cmp.Or(cmp.Compare(a.Plugin, b.Plugin), cmp.Compare(a.Name, b.Name))
	})
}
