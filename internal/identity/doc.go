// Package identity is who is who in Chorus: the keys that sign, the X.509
// certificates that say whose keys they are, and the membership service
// providers (MSPs) that decide which certificates belong to an organization
// and in which role.
//
// # Pieces
//
//   - Sign and Verify: signatures as Fabric's clients make them. ECDSA P-256
//     signatures are ASN.1 DER over SHA-256(msg); Ed25519 signatures cover
//     the message itself.
//   - Signer and SigningIdentity: an MSP id, a PEM certificate and its
//     private key, loaded from PEM (PKCS#8 or SEC1).
//   - Serialize and Deserialize: msp.SerializedIdentity, the creator and
//     endorser bytes of proposals, transactions and blocks.
//   - MSP and Identity: one organization's CAs and CRLs, and the identities
//     they validate, each with its role (client, peer, orderer or admin, and
//     member for all).
//   - Manager: the MSPs of a channel, dispatching on the MSP id.
//   - SignatureCache: the bounded memory of signatures already verified.
//   - CA: an in-memory certificate authority for tests and local networks.
//
// # Invariants
//
//  1. Every ECDSA signature made here has S <= N/2 (low S), and Verify
//     rejects any other with ErrHighS, as Fabric does both ways.
//  2. A serialized identity holds the certificate PEM exactly as it was
//     given, byte for byte: transaction ids and signatures cover these bytes.
//     Nothing signed is ever re-marshalled.
//  3. An Identity exists only once its MSP validated it: it names that MSP,
//     its certificate chains to the MSP's CAs through its intermediates, is
//     within its validity period (and so is each CA of its chain), is not
//     revoked by the MSP's CRLs, is not itself a CA, and carries exactly one
//     role OU (client, peer, orderer or admin), as Fabric requires when
//     NodeOUs are on. An admin is an admin and a member, not a client.
//  4. Caches only remember successes, and are keyed by content: identities
//     by their serialized bytes (and re-checked against the clock on every
//     hit), signatures by (SHA-256 of the public key, SHA-256 of the message,
//     signature bytes). Nothing is keyed by a transaction id, which the
//     sender chooses.
//  5. The bytes of serialized identities and signatures are untrusted:
//     decoding and verifying them returns errors, never panics.
//
// # Errors
//
// Errors start with "identity: " and name what was refused and why (the
// certificate's subject, the MSP, the serial number, the dates). Callers
// that branch use errors.Is with the sentinels ErrBadSignature, ErrHighS,
// ErrMalformedIdentity, ErrUnknownMSP, ErrMSPMismatch, ErrExpired,
// ErrNotYetValid, ErrRevoked, ErrUnknownCA, ErrInvalidCertificate and
// ErrUnsupportedKey.
//
// # Concurrency
//
// The package starts no goroutines and has no global mutable state. Every
// type is safe for concurrent use: SigningIdentity, MSP, Identity and
// Manager are immutable once built (a configuration change builds new
// ones); the caches hold a mutex only to update their maps, never while
// verifying. The time an MSP checks validity against comes from the clock in
// its MSPConfig, so tests can move it.
package identity
