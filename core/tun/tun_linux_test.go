package tun

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	wgtun "golang.zx2c4.com/wireguard/tun"
)

// netnsEnv marks the re-executed test binary that runs inside a fresh
// network namespace.
const netnsEnv = "MYCELIUM_TUN_TEST_IN_NETNS"

var (
	nodeAddr = netip.MustParseAddr("400:1234:5678::1")
	peerAddr = netip.MustParseAddr("5ff:9:8:7::2")
)

// inNetns runs the calling test again in a child process placed in a new,
// empty network namespace (CLONE_NEWNET), so the TUN, its address and its
// routes never touch the host. It returns true in the child, where the
// caller runs the real test body. Without root it skips.
func inNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == "1" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create a network namespace and a TUN device")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no /dev/net/tun: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	t.Logf("child in new network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("test in network namespace failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("test in network namespace did not pass (skipped?)")
	}
	return false
}

// tunHarness owns a device under test and a goroutine reading from it.
type tunHarness struct {
	dev     wgtun.Device
	packets chan []byte
	done    chan struct{}
	multi   atomic.Int64 // reads that returned more than one packet
}

func newHarness(t *testing.T) *tunHarness {
	t.Helper()
	dev, err := Create(Config{Name: "myc0", Addr: nodeAddr})
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	h := &tunHarness{dev: dev, packets: make(chan []byte, 4096), done: make(chan struct{})}
	go h.readLoop()
	t.Cleanup(func() {
		dev.Close()
		<-h.done
	})
	return h
}

// readLoop reads batches from the device with the node's buffer discipline
// (offset 16, 65535+offset capacity) and forwards copies of every packet.
func (h *tunHarness) readLoop() {
	defer close(h.done)
	bufs := make([][]byte, h.dev.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, 65535+MinOffset)
	}
	sizes := make([]int, len(bufs))
	for {
		n, err := h.dev.Read(bufs, sizes, MinOffset)
		if n > 1 {
			h.multi.Add(1)
		}
		for i := range n {
			h.packets <- bytes.Clone(bufs[i][MinOffset : MinOffset+sizes[i]])
		}
		if err != nil && !errors.Is(err, wgtun.ErrTooManySegments) {
			return
		}
	}
}

// expect returns the first packet from the device that match accepts,
// skipping others (multicast listener reports and the like).
func (h *tunHarness) expect(t *testing.T, what string, match func(ipv6Packet) bool) ipv6Packet {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case b := <-h.packets:
			p, ok := parseIPv6(b)
			if ok && match(p) {
				if len(b) > DefaultMTU {
					t.Fatalf("%s: packet of %d bytes exceeds MTU %d", what, len(b), DefaultMTU)
				}
				return p
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s from the TUN", what)
		}
	}
}

// write writes pkts into the device in one batch.
func (h *tunHarness) write(t *testing.T, pkts ...[]byte) {
	t.Helper()
	bufs := make([][]byte, len(pkts))
	for i, p := range pkts {
		b := make([]byte, MinOffset+len(p), MinOffset+65535)
		copy(b[MinOffset:], p)
		bufs[i] = b
	}
	// wireguard-go's Linux device returns the number of bytes written, not
	// packets (contrary to the interface comment), so only err is checked.
	if _, err := h.dev.Write(bufs, MinOffset); err != nil {
		t.Fatalf("Write(%d packets) = %v", len(pkts), err)
	}
}

func TestKernelTUN(t *testing.T) {
	if !inNetns(t) {
		return
	}
	h := newHarness(t)
	t.Logf("device batch size %d", h.dev.BatchSize())
	t.Run("link", func(t *testing.T) { checkLink(t, h) })
	t.Run("udp out", func(t *testing.T) { checkUDPOut(t, h) })
	t.Run("udp in batch", func(t *testing.T) { checkUDPIn(t, h) })
	t.Run("ping", func(t *testing.T) { checkPing(t, h) })
	t.Run("tcp segmentation", func(t *testing.T) { checkTCPOut(t, h) })
}

// checkLink verifies name, MTU, up state, <addr>/7 and the 400::/7 route.
func checkLink(t *testing.T, h *tunHarness) {
	name, err := h.dev.Name()
	if err != nil || name != "myc0" {
		t.Fatalf("Name() = %q, %v, want myc0", name, err)
	}
	if mtu, err := h.dev.MTU(); err != nil || mtu != DefaultMTU {
		t.Fatalf("MTU() = %d, %v, want %d", mtu, err, DefaultMTU)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("LinkByName(%q) = %v", name, err)
	}
	if a := link.Attrs(); a.MTU != DefaultMTU || a.Flags&net.FlagUp == 0 {
		t.Fatalf("link mtu %d flags %v, want mtu %d and up", a.MTU, a.Flags, DefaultMTU)
	}
	addrs, err := linkAddrs(name)
	if err != nil {
		t.Fatalf("linkAddrs() = %v", err)
	}
	found := false
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		if a.IP.Equal(nodeAddr.AsSlice()) && ones == PrefixLen {
			found = true
		}
	}
	if !found {
		t.Fatalf("addresses %v, want %v/%d", addrs, nodeAddr, PrefixLen)
	}
	routes, err := linkRoutes(name)
	if err != nil {
		t.Fatalf("linkRoutes() = %v", err)
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == overlay.String() {
			return
		}
	}
	t.Fatalf("routes %v, want %v via %s", routes, overlay, name)
}

// checkUDPOut sends from a socket bound to the overlay address to another
// overlay node and reads the datagram out of the TUN.
func checkUDPOut(t *testing.T, h *tunHarness) {
	conn, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(nodeAddr, 0)))
	if err != nil {
		t.Fatalf("ListenUDP(%v) = %v", nodeAddr, err)
	}
	defer conn.Close()
	msg := []byte("hello, overlay")
	dst := netip.AddrPortFrom(peerAddr, 9999)
	if _, err := conn.WriteToUDPAddrPort(msg, dst); err != nil {
		t.Fatalf("WriteTo(%v) = %v", dst, err)
	}
	p := h.expect(t, "udp datagram", func(p ipv6Packet) bool {
		return p.next == protoUDP && p.dst == peerAddr && len(p.payload) >= 8 &&
			p.payload[2] == 0x27 && p.payload[3] == 0x0f
	})
	if p.src != nodeAddr || !bytes.Equal(p.payload[8:], msg) || !checksumOK(p) {
		t.Fatalf("got udp from %v payload %q checksum ok %v, want from %v payload %q valid",
			p.src, p.payload[8:], checksumOK(p), nodeAddr, msg)
	}
}

// checkUDPIn writes a batch of datagrams into the TUN and receives them on
// a socket bound to the overlay address.
func checkUDPIn(t *testing.T, h *tunHarness) {
	conn, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(nodeAddr, 0)))
	if err != nil {
		t.Fatalf("ListenUDP(%v) = %v", nodeAddr, err)
	}
	defer conn.Close()
	port := uint16(conn.LocalAddr().(*net.UDPAddr).Port)
	const n = 8
	var pkts [][]byte
	for i := range n {
		data := bytes.Repeat([]byte{byte('a' + i)}, 1000)
		pkts = append(pkts, buildIPv6(peerAddr, nodeAddr, protoUDP, udpDatagram(5555, port, data), 6))
	}
	h.write(t, pkts...)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2000)
	seen := map[byte]bool{}
	for range n {
		m, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("ReadFrom() = %v after %d datagrams", err, len(seen))
		}
		if from != netip.AddrPortFrom(peerAddr, 5555) || m != 1000 {
			t.Fatalf("datagram of %d bytes from %v, want 1000 from [%v]:5555", m, from, peerAddr)
		}
		seen[buf[0]] = true
	}
	if len(seen) != n {
		t.Fatalf("received %d distinct datagrams, want %d", len(seen), n)
	}
}

// checkPing writes an ICMPv6 echo request for the node address into the TUN
// and expects the kernel's echo reply to come out of it.
func checkPing(t *testing.T, h *tunHarness) {
	data := []byte("ping through the tun")
	h.write(t, buildIPv6(peerAddr, nodeAddr, protoICMPv6, echoRequest(0x4242, 7, data), 2))
	p := h.expect(t, "echo reply", func(p ipv6Packet) bool {
		return p.next == protoICMPv6 && len(p.payload) >= 8 && p.payload[0] == 129
	})
	if p.src != nodeAddr || p.dst != peerAddr || !bytes.Equal(p.payload[4:8], []byte{0x42, 0x42, 0, 7}) ||
		!bytes.Equal(p.payload[8:], data) || !checksumOK(p) {
		t.Fatalf("echo reply %v -> %v body %x, want %v -> %v id 0x4242 seq 7 with our data",
			p.src, p.dst, p.payload, nodeAddr, peerAddr)
	}
}

// checkTCPOut completes a handshake with a kernel listener by hand, lets
// the server write a burst larger than one segment and checks that what
// comes out of the TUN is MTU-sized, contiguous and correctly checksummed:
// with offloads the kernel hands wireguard-go one TSO super-packet, which
// Read must split.
func checkTCPOut(t *testing.T, h *tunHarness) {
	ln, err := net.ListenTCP("tcp6", net.TCPAddrFromAddrPort(netip.AddrPortFrom(nodeAddr, 0)))
	if err != nil {
		t.Fatalf("ListenTCP() = %v", err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	const peerPort, iss = 40000, 1000
	isTCP := func(flags uint8) func(ipv6Packet) bool {
		return func(p ipv6Packet) bool {
			s, ok := parseTCP(p.payload)
			return p.next == protoTCP && ok && s.dstPort == peerPort && s.flags&flags == flags
		}
	}
	mss := []byte{2, 4, 0x05, 0x3c} // MSS 1340
	syn := tcpSegment{srcPort: peerPort, dstPort: port, seq: iss, flags: tcpSYN, window: 65535, opts: mss}
	h.write(t, buildIPv6(peerAddr, nodeAddr, protoTCP, syn.marshal(), 16))
	sa, _ := parseTCP(h.expect(t, "syn-ack", isTCP(tcpSYN|tcpACK)).payload)
	ack := tcpSegment{srcPort: peerPort, dstPort: port, seq: iss + 1, ack: sa.seq + 1, flags: tcpACK, window: 65535}
	h.write(t, buildIPv6(peerAddr, nodeAddr, protoTCP, ack.marshal(), 16))

	conn, err := ln.AcceptTCP()
	if err != nil {
		t.Fatalf("Accept() = %v", err)
	}
	defer conn.Close()
	const total = 8 * 1340
	want := make([]byte, total)
	for i := range want {
		want[i] = byte(i % 251)
	}
	if _, err := conn.Write(want); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	got := make([]byte, 0, total)
	for len(got) < total {
		p := h.expect(t, "data segment", isTCP(tcpACK))
		s, _ := parseTCP(p.payload)
		if len(s.data) == 0 {
			continue
		}
		if !checksumOK(p) || s.seq != sa.seq+1+uint32(len(got)) || len(s.data) > 1340 {
			t.Fatalf("segment seq %d len %d checksum ok %v, want seq %d len <= 1340 valid",
				s.seq, len(s.data), checksumOK(p), sa.seq+1+uint32(len(got)))
		}
		got = append(got, s.data...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("TCP payload out of the TUN differs from what the server wrote")
	}
	t.Logf("reads returning several packets (TSO super-packets split by Read): %d", h.multi.Load())
	rst := tcpSegment{srcPort: peerPort, dstPort: port, seq: iss + 1, flags: tcpRST, window: 0}
	h.write(t, buildIPv6(peerAddr, nodeAddr, protoTCP, rst.marshal(), 16))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("Read() after RST = %v, want connection reset", err)
	}
}

// linkAddrs returns the IPv6 addresses configured on the interface name.
func linkAddrs(name string) ([]netlink.Addr, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, err
	}
	return retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_V6) })
}

// linkRoutes returns the IPv6 routes through the interface name.
func linkRoutes(name string) ([]netlink.Route, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, err
	}
	return retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(link, netlink.FAMILY_V6) })
}
