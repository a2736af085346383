package sdk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// socksServer is a minimal RFC 1928 server for tests: no authentication,
// CONNECT only. It records each request, answers with rep and a bound
// address of type bndATYP, and on success connects to target and pipes.
type socksServer struct {
	path     string
	target   string // where every CONNECT goes
	rep      byte
	bndATYP  byte
	method   byte
	silent   bool
	requests chan []byte
}

func startSOCKS(t *testing.T, s *socksServer) *socksServer {
	t.Helper()
	s.path = filepath.Join(shortTempDir(t), "s.sock")
	s.requests = make(chan []byte, 8)
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *socksServer) serve(c net.Conn) {
	defer c.Close()
	if s.silent {
		_, _ = io.Copy(io.Discard, c)
		return
	}
	var g [3]byte
	if _, err := io.ReadFull(c, g[:]); err != nil || g != [3]byte{5, 1, 0} {
		return
	}
	_, _ = c.Write([]byte{5, s.method})
	if s.method != 0 {
		return
	}
	req := make([]byte, 4, 300)
	if _, err := io.ReadFull(c, req); err != nil {
		return
	}
	n := map[byte]int{1: 4, 4: 16}[req[3]]
	if req[3] == 3 {
		var l [1]byte
		_, _ = io.ReadFull(c, l[:])
		req = append(req, l[0])
		n = int(l[0])
	}
	rest := make([]byte, n+2)
	if _, err := io.ReadFull(c, rest); err != nil {
		return
	}
	s.requests <- append(req, rest...)
	reply := []byte{5, s.rep, 0, s.bndATYP}
	switch s.bndATYP {
	case 1:
		reply = append(reply, 10, 0, 0, 1)
	case 3:
		reply = append(reply, 4, 'n', 'o', 'd', 'e')
	case 4:
		reply = append(reply, bytes.Repeat([]byte{0}, 15)...)
		reply = append(reply, 1)
	}
	reply = binary.BigEndian.AppendUint16(reply, 1080)
	if s.rep != 0 {
		_, _ = c.Write(reply)
		return
	}
	up, err := net.Dial("tcp", s.target)
	if err != nil {
		return
	}
	defer up.Close()
	_, _ = c.Write(reply)
	go func() { _, _ = io.Copy(up, c); _ = up.(*net.TCPConn).CloseWrite() }()
	_, _ = io.Copy(c, up)
}

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestDialSOCKS(t *testing.T) {
	echo := echoServer(t)
	for name, tc := range map[string]struct {
		address string
		bnd     byte
		want    []byte
	}{
		"ipv6 literal": {"[4ab:cd::1]:25", 4, append(append([]byte{5, 1, 0, 4, 0x04, 0xab, 0, 0xcd}, make([]byte, 11)...), 1, 0, 25)},
		"domain":       {"relay.mesh:587", 3, append([]byte{5, 1, 0, 3, 10}, append([]byte("relay.mesh"), 2, 0x4b)...)},
		"ipv4 literal": {"192.0.2.1:80", 1, []byte{5, 1, 0, 1, 192, 0, 2, 1, 0, 80}},
	} {
		t.Run(name, func(t *testing.T) {
			s := startSOCKS(t, &socksServer{target: echo, bndATYP: tc.bnd})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := dialSOCKS(ctx, s.path, "tcp", tc.address)
			if err != nil {
				t.Fatalf("dialSOCKS: %v", err)
			}
			defer c.Close()
			if got := <-s.requests; !bytes.Equal(got, tc.want) {
				t.Errorf("CONNECT request = % x, want % x", got, tc.want)
			}
			if c.RemoteAddr().String() != tc.address {
				t.Errorf("RemoteAddr = %s, want %s", c.RemoteAddr(), tc.address)
			}
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(c); err != nil || string(got) != "ping" {
				t.Errorf("echo through socks = %q, %v", got, err)
			}
		})
	}
}

func TestDialSOCKSErrors(t *testing.T) {
	ctx := context.Background()
	refused := startSOCKS(t, &socksServer{rep: 5, bndATYP: 1})
	if _, err := dialSOCKS(ctx, refused.path, "tcp", "[4ab::1]:25"); !errors.Is(err, ErrSOCKS) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused CONNECT error = %v, want ErrSOCKS connection refused", err)
	}
	noMethod := startSOCKS(t, &socksServer{method: 0xFF})
	if _, err := dialSOCKS(ctx, noMethod.path, "tcp", "[4ab::1]:25"); !errors.Is(err, ErrSOCKS) {
		t.Errorf("no acceptable method error = %v, want ErrSOCKS", err)
	}
	silent := startSOCKS(t, &socksServer{silent: true})
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := dialSOCKS(tctx, silent.path, "tcp", "[4ab::1]:25"); err == nil {
		t.Error("dial through a silent server succeeded")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("dial through a silent server took %v; ctx deadline was 100ms", time.Since(start))
	}
	for _, bad := range []string{"nohost", "[4ab::1]:0", "[4ab::1]:x", "[fe80::1%eth0]:1", ":25"} {
		if _, err := dialSOCKS(ctx, refused.path, "tcp", bad); err == nil {
			t.Errorf("dialSOCKS(%q) succeeded", bad)
		}
	}
	if _, err := dialSOCKS(ctx, refused.path, "udp", "[4ab::1]:25"); err == nil {
		t.Error("dialSOCKS(udp) succeeded")
	}
}

func socksReplySeeds() [][]byte {
	return [][]byte{
		{5, 0, 0, 1, 10, 0, 0, 1, 4, 56},
		append(append([]byte{5, 0, 0, 4}, make([]byte, 16)...), 0, 80),
		{5, 0, 0, 3, 4, 'n', 'o', 'd', 'e', 0, 1},
		{5, 5, 0, 1, 0, 0, 0, 0, 0, 0},
		{5, 0, 0, 9},
		{4, 0, 0, 1},
		{5, 0, 0, 3, 255},
	}
}

func TestReadSOCKSReply(t *testing.T) {
	want := []string{"10.0.0.1:1080", "[::]:80", "node:1", "!connection refused", "!address type", "!reply version", "!EOF"}
	for i, in := range socksReplySeeds() {
		got, err := readSOCKSReply(bytes.NewReader(in))
		if strings.HasPrefix(want[i], "!") {
			if err == nil || !strings.Contains(err.Error(), want[i][1:]) {
				t.Errorf("readSOCKSReply(% x) = %q, %v; want error %q", in, got, err, want[i][1:])
			}
			continue
		}
		if err != nil || got != want[i] {
			t.Errorf("readSOCKSReply(% x) = %q, %v; want %q", in, got, err, want[i])
		}
	}
}

// FuzzSOCKSReply checks that reply parsing never panics and never reads
// more than the reply it accepts.
func FuzzSOCKSReply(f *testing.F) {
	for _, s := range socksReplySeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		bnd, err := readSOCKSReply(r)
		if err != nil {
			return
		}
		used := len(b) - r.Len()
		if used > 4+1+255+2 || bnd == "" {
			t.Fatalf("accepted reply used %d bytes, bound %q", used, bnd)
		}
	})
}
