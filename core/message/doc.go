// Package message is the node's message bus (spec §7): reliable,
// checksummed delivery of byte messages between overlay nodes, carried
// as kind-1 data packets and byte-compatible with the reference node.
//
// # Transfers
//
// A message goes out as INIT (length and topic), CHUNKs of at most 1300
// bytes and DONE (chunk count and BLAKE3-256 of the data); the receiver
// acknowledges each frame by echoing it with the ACK flag, and later
// sends READ when an application reads the message. Replies reuse the
// message id with the REPLY flag on their INIT.
//
// Unlike the reference, which sends every chunk at once and retransmits on
// a fixed 100 ms timer, the sender here runs an ACK-clocked sliding window
// (slow start, AIMD, fast retransmit after three later chunks are acked)
// with an RFC 6298 retransmission timeout and exponential backoff. The
// frames on the wire are the reference's.
//
// Chunks are 1300 bytes except the last two of a message whose remainder
// is 1..249 bytes: those two share the tail, so every chunk is at least
// 250 bytes and the count stays ceil(len/1300) (errata 2; a reference
// receiver drops a short chunk that is not at its idea of the last index).
// The receiver accepts either layout.
//
// # Bounded memory
//
// Nothing is allocated from a length a peer announces. An INIT longer
// than Config.MaxMessageSize is refused. Every accepted INIT reserves its
// length against the inbox budget (total and per topic, in messages and
// bytes) before any chunk is stored, so a completed message always fits;
// when the budget, or the number of concurrent incoming transfers, is
// exhausted the INIT is refused and an ABORTED frame goes back, which our
// senders report as "aborted" at once (the reference's senders ignore it
// and abort at their deadline). Chunk data is stored as it arrives. An
// incoming transfer idle for Config.PendingTimeout is dropped. Outgoing
// transfers are bounded in count and bytes; Push fails with ErrBusy
// beyond that.
//
// # Network
//
// The bus reaches the network through a Transport (the node's
// SendMessage) and gets received frames through Handle; it looks up a
// sender's public key through a KeyLookup. Frames to the node's own /64
// never reach the Transport: they loop back inside the bus.
package message
