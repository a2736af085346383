package link

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/ipv6"

	"github.com/mycelium-go/mycelium/core/wire"
)

// Link-local discovery (spec §2.10): a 50-byte beacon to ff02::cafe on
// every eligible interface, at start and then every DiscoveryInterval.
const (
	beaconSize  = 8 + 2 + wire.RouterIDSize
	beaconMagic = "mycelium"
)

var (
	discoveryGroup = netip.MustParseAddr("ff02::cafe")
	linkLocal64    = netip.MustParsePrefix("fe80::/64")
)

// ErrBeacon is returned for a datagram that is not a discovery beacon.
var ErrBeacon = errors.New("link: bad discovery beacon")

// AppendBeacon appends the beacon announcing a TCP listener on port.
func AppendBeacon(dst []byte, port uint16, id wire.RouterID) []byte {
	dst = append(dst, beaconMagic...)
	dst = binary.BigEndian.AppendUint16(dst, port)
	return append(dst, id[:]...)
}

// ParseBeacon decodes a beacon: exactly 50 bytes starting with the magic.
func ParseBeacon(b []byte) (port uint16, id wire.RouterID, err error) {
	if len(b) != beaconSize {
		return 0, id, fmt.Errorf("%w: %d bytes, want %d", ErrBeacon, len(b), beaconSize)
	}
	if string(b[:8]) != beaconMagic {
		return 0, id, fmt.Errorf("%w: magic %q", ErrBeacon, b[:8])
	}
	return binary.BigEndian.Uint16(b[8:10]), wire.RouterID(b[10:]), nil
}

// discovery owns the UDP socket for beacons.
type discovery struct {
	m      *Manager
	conn   *net.UDPConn
	pc     *ipv6.PacketConn
	joined map[int]bool // interface index -> group joined; beaconLoop only
}

func newDiscovery(ctx context.Context, m *Manager) (*discovery, error) {
	lc := net.ListenConfig{Control: socketControl(m.cfg.FirewallMark)}
	addr := netip.AddrPortFrom(netip.IPv6Unspecified(), m.cfg.DiscoveryPort)
	c, err := lc.ListenPacket(ctx, "udp6", addr.String())
	if err != nil {
		return nil, fmt.Errorf("listen discovery %s: %w", addr, err)
	}
	d := &discovery{m: m, conn: c.(*net.UDPConn), joined: make(map[int]bool)}
	d.pc = ipv6.NewPacketConn(d.conn)
	if err := d.pc.SetMulticastLoopback(false); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("listen discovery: disable multicast loop: %w", err)
	}
	return d, nil
}

func (d *discovery) close() { _ = d.conn.Close() }

// receiveLoop reads beacons and adds their senders as discovered peers.
func (d *discovery) receiveLoop(ctx context.Context) {
	buf := make([]byte, 512)
	for {
		n, src, err := d.conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			d.m.log.Warn("read discovery beacon", "err", err)
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		if ep, ok := d.accept(buf[:n], src.AddrPort()); ok {
			d.m.addDiscovered(ep)
		}
	}
}

// accept applies the reference's rules to a received beacon and returns
// the endpoint to connect to.
func (d *discovery) accept(b []byte, src netip.AddrPort) (Endpoint, bool) {
	port, id, err := ParseBeacon(b)
	a := src.Addr()
	switch {
	case err != nil, port == 0, id == d.m.cfg.RouterID:
		return Endpoint{}, false
	case !linkLocal64.Contains(a.WithZone("")), a.Zone() == "":
		return Endpoint{}, false
	case len(d.m.cfg.DiscoveryInterfaces) > 0 && !slices.Contains(d.m.cfg.DiscoveryInterfaces, a.Zone()):
		return Endpoint{}, false
	}
	return Endpoint{Proto: ProtoTCP, Addr: netip.AddrPortFrom(a, port)}, true
}

// addDiscovered adds ep as a link-local peer unless it is already known.
func (m *Manager) addDiscovered(ep Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.state != stateRunning {
		return
	}
	if _, ok := m.mu.peers[ep]; ok {
		return
	}
	if _, ok := m.mu.inbound[ep]; ok {
		return
	}
	m.log.Info("discovered link-local peer", "peer", ep.String())
	m.startPeerLocked(ep, KindDiscovered)
}

// beaconLoop re-scans the interfaces and sends a beacon on each eligible
// one, immediately and then every DiscoveryInterval.
func (d *discovery) beaconLoop(ctx context.Context) {
	t := time.NewTicker(d.m.cfg.DiscoveryInterval)
	defer t.Stop()
	for {
		d.beacon()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *discovery) beacon() {
	ifs, err := net.Interfaces()
	if err != nil {
		d.m.log.Warn("list interfaces for discovery", "err", err)
		return
	}
	port := d.m.TCPAddr().Port()
	msg := AppendBeacon(make([]byte, 0, beaconSize), port, d.m.cfg.RouterID)
	seen := make(map[int]bool, len(ifs))
	for i := range ifs {
		ifi := &ifs[i]
		if !d.eligible(ifi) {
			continue
		}
		seen[ifi.Index] = true
		if !d.joined[ifi.Index] {
			group := &net.UDPAddr{IP: discoveryGroup.AsSlice()}
			if err := d.pc.JoinGroup(ifi, group); err != nil {
				d.m.log.Debug("join discovery group", "interface", ifi.Name, "err", err)
				continue
			}
			d.joined[ifi.Index] = true
		}
		if port == 0 {
			continue // no TCP listener to announce
		}
		dst := netip.AddrPortFrom(discoveryGroup.WithZone(ifi.Name), d.m.cfg.DiscoveryPort)
		if _, err := d.conn.WriteToUDPAddrPort(msg, dst); err != nil {
			d.m.log.Debug("send discovery beacon", "interface", ifi.Name, "err", err)
		}
	}
	for idx := range d.joined {
		if !seen[idx] {
			delete(d.joined, idx)
		}
	}
}

// eligible: up, multicast, not loopback, not point-to-point (which also
// excludes TUN devices), with an fe80::/64 address, and in the allow-list
// if there is one.
func (d *discovery) eligible(ifi *net.Interface) bool {
	const need = net.FlagUp | net.FlagMulticast
	if ifi.Flags&need != need || ifi.Flags&(net.FlagLoopback|net.FlagPointToPoint) != 0 {
		return false
	}
	if allow := d.m.cfg.DiscoveryInterfaces; len(allow) > 0 && !slices.Contains(allow, ifi.Name) {
		return false
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && linkLocal64.Contains(ip) {
				return true
			}
		}
	}
	return false
}
