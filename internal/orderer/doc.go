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
package orderer
