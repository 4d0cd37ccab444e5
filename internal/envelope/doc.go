// Package envelope parses and builds Fabric's transaction messages: signed
// envelopes, their payloads and headers, endorser transactions, proposals
// and proposal responses.
//
// Parsing keeps every byte string that somebody signed exactly as received
// (the payload, the channel and signature headers, the proposal response
// payload), because a signature is checked over those bytes and a
// re-marshalled message need not be byte-identical. Building marshals
// deterministically so that two endorsers produce the same bytes.
//
// Parsing does not copy: the bytes and string fields of what it returns
// share the memory of its input (package zerocopy, ADR 0011), so the input
// must not change while the result is in use. Inputs are messages received
// or blocks read whole, which nothing modifies.
//
// A parse failure is an *Error carrying the Fabric validation code that a
// committing peer records for such a transaction (BAD_PAYLOAD,
// BAD_CHANNEL_HEADER, BAD_RWSET, ...), so callers can map it without
// inspecting the text.
//
// The package holds no state; everything is safe for concurrent use.
package envelope
