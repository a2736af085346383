package openaitest

import "net"

// socketPair returns two connected sockets: Windows has no
// socketpair(2), so a loopback TCP connection.
func socketPair() (net.Conn, net.Conn, error) { return loopbackPair() }
