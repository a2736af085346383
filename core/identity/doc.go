// Package identity holds a node's cryptographic identity as the reference
// Mycelium node defines it: an X25519 key pair, the overlay address and /64
// subnet derived from the public key with BLAKE3, the key file, and the
// AES-256-GCM sealing of data packets with the raw X25519 shared secret.
//
// The derivation rule (spec §1.2): take the first 16 bytes of
// BLAKE3(public key), and replace byte 0 with 0x04|parity(popcount(byte 0)).
// Every address therefore lies in 400::/7, and the node owns the /64 that
// contains its address.
package identity
