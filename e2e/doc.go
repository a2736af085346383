// Package e2e is the real-network end-to-end suite: it builds the node
// binary, runs nodes in Linux network namespaces joined by veth pairs, and
// drives them with ping, iperf3, curl and python3 over kernel TUN devices,
// the userspace netstack device and SOCKS5, and runs the gateway's plugins
// (mail, webdav, dav, openai, whoami) across nodes with real clients.
//
// The package holds only tests (`go test -v ./e2e/...`, or `make e2e`).
// Tests that need root, `ip netns` or a third-party program skip with a
// message naming what is missing; in -short mode the whole suite skips.
// README.md lists what is covered and what the suite needs.
package e2e
