// Package peer is a Chorus peer: it joins channels from their genesis
// blocks, pulls every block from the ordering service, checks it, validates
// and commits it, and endorses proposals by running contracts against its
// world state.
//
// # The commit pipeline (DESIGN §6)
//
// One puller goroutine per channel streams blocks from an orderer's Deliver
// service, failing over to another orderer when one dies and resuming from
// the peer's own height. Before anything else it checks each block: its
// number, its link to the previous block, its data hash, and that its
// orderer signatures satisfy the channel's BlockValidation policy; a block
// that fails is refused, logged, and fetched from another orderer.
//
// The committer then validates in two phases. Prepare checks what does not
// depend on state, for all transactions of a block in parallel: structure,
// transaction id, creator signature, endorsement signatures. Finish, in
// block order, checks duplicate ids, endorsement policies (from the
// contracts' definitions in the _lifecycle namespace) and MVCC read
// versions and phantoms. Prepare of block N+1 overlaps Finish and commit of
// block N. Block, validation codes with their reasons, world state, key
// history and commit hash are written in one synced batch.
//
// # Endorsement
//
// ProcessProposal checks the proposal (structure, signature, the creator
// may write to the channel, the transaction id is new), runs the contract
// against a snapshot of the world state, and signs the proposal response
// payload exactly as Fabric's endorsers do, so that every endorser of the
// same proposal produces the same bytes.
//
// # Concurrency
//
// A Peer is safe for concurrent use. Each channel owns two goroutines (the
// puller and the committer); endorsements run on the caller's goroutine and
// read consistent state through kv snapshots.
package peer
