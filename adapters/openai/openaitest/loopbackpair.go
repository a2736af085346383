package openaitest

import (
	"fmt"
	"net"
	"time"
)

// loopbackPair returns the two ends of a loopback TCP connection, the
// socket pair of systems without socketpair(2). The accepted end is
// checked to be the one dialed here, so a stray local connection cannot
// take its place.
func loopbackPair() (net.Conn, net.Conn, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("fake mesh: socket pair: listen: %w", err)
	}
	defer ln.Close()
	if err := ln.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, nil, fmt.Errorf("fake mesh: socket pair: %w", err)
	}
	a, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		return nil, nil, fmt.Errorf("fake mesh: socket pair: dial: %w", err)
	}
	for {
		b, err := ln.AcceptTCP()
		if err != nil {
			a.Close()
			return nil, nil, fmt.Errorf("fake mesh: socket pair: accept: %w", err)
		}
		if b.RemoteAddr().String() == a.LocalAddr().String() {
			return a, b, nil
		}
		b.Close()
	}
}
