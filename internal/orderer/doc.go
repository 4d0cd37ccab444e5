// Package orderer is the ordering service of a channel: it admits signed
// envelopes (Broadcast), cuts them into blocks on the leader, has the
// channel's Consenter order each block, writes and signs every ordered
// block, and streams blocks to whoever may read them (Deliver).
//
// Consensus sits behind one small interface, Consenter, declared here by
// its consumer: it orders opaque entries (one cut block each) and applies
// them, in order, to the block writer. Block cutting, signing and storage
// stay outside it, so Raft, and later BFT, can be swapped without touching
// the rest.
//
// An orderer that admits an envelope and does not lead forwards it to the
// leader. A leader through whose one follower most of a busy channel's
// envelopes arrive hands leadership to that follower (placementPolicy,
// ADR 0013), so that where clients keep to one orderer, it leads.
package orderer
