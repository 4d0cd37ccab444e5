// Package raft is Chorus's Raft consenter: it orders opaque entries (on an
// orderer, each entry is one cut block) for one channel with etcd's raft
// library, and applies them, in order and exactly once, to a StateMachine
// that the orderer provides (its block writer).
//
// # Structure
//
// Node is the whole protocol as a deterministic state machine: the host
// calls Tick, Step and Propose, then Ready, which persists what etcd raft
// asks to persist (one synced kv batch), applies committed entries and
// snapshots to the StateMachine, and returns the messages to send. Node owns
// no goroutine and reads no clock, so internal/simnet drives it with logical
// ticks through thousands of seeded fault schedules. Chain is the thin
// production driver around a Node: one goroutine, a ticker, a Transport.
//
// # The Ready contract (DESIGN §12)
//
// For each Ready: hard state, entries and snapshot are made durable before
// any message of that Ready is handed to the transport; then the snapshot
// (if any) and the committed entries are applied; then Advance. CheckQuorum
// and PreVote are on; proposals are accepted only on the leader
// (DisableProposalForwarding): followers forward envelopes, not entries.
//
// # Snapshots
//
// A snapshot's data is whatever the StateMachine says summarises it: for an
// orderer, "my chain is at height N". Every SnapshotIntervalBytes of applied
// entries the node snapshots at its applied index and compacts its log,
// keeping SnapshotCatchUpEntries entries for slightly lagging followers. A
// follower that receives a snapshot calls StateMachine.Restore, which
// fetches the missing blocks from another orderer.
//
// # Exactly once across restarts
//
// The StateMachine reports the index of the last entry whose effects are
// durable (the orderer stores it inside each block); a restarted node asks
// raft only for entries after it. Leadership is usable for cutting blocks
// only once the leader has applied the empty entry of its own term, which
// means it has applied everything ordered before it (LeaderReady).
package raft
