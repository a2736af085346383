// Package wire encodes and decodes everything a Mycelium node puts on a peer
// link, byte-exact with the reference node (spec §2.3, §3, §7):
//
//   - the 4-byte outer header that starts every packet on a link;
//   - data packets: a 36-byte header (length, hop limit, source and
//     destination overlay addresses) and a sealed body;
//   - control packets: the Babel-style header and its TLVs (Hello, IHU,
//     Update with the router id, RouteRequest, SeqnoRequest), including the
//     places where the reference differs from RFC 8966;
//   - the user header inside a sealed body, and message-bus frames.
//
// The package is pure: no I/O and no state. Decoders never panic, return
// errors that say what is wrong, and allocate nothing on the hot path.
// Encoders emit only what the reference can parse: exactly one TLV per
// control packet, AE 2 for prefixes and AE 0 for wildcards.
package wire
