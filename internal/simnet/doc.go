// Package simnet is a deterministic simulated network for consensus tests.
// It drives the production Raft consenter (internal/consensus/raft.Node),
// each node with its real storage on its own Pebble database over a
// crash-simulating in-memory filesystem, through a schedule of faults drawn
// from a seed: message loss, delay, duplication and reordering, network
// partitions, crashes (unsynced writes lost) and restarts, and followers
// that fall so far behind that they must catch up from a snapshot.
//
// Everything runs on the test's goroutine with logical time: a tick is a
// fixed number of steps, messages take a random number of steps to arrive,
// and every random choice comes from one seeded generator. etcd raft draws
// its randomized election timeouts from crypto/rand, so Run installs a
// seeded global source (testing/cryptotest.SetGlobalRandom) for the
// duration of the schedule: one seed, one history.
//
// Each node applies committed entries to a small replicated chain that
// follows the orderer's rules: an entry is a block (number, previous hash,
// one client batch); a block is appended only if it extends the node's
// tip, otherwise it is skipped, on every node alike. A batch is
// acknowledged when the node that proposed it has appended its block,
// which is when an orderer answers Broadcast with SUCCESS. The history
// checker then demands that every node's chain is a prefix of one common
// chain, that no batch appears twice, that every acknowledged batch is in
// it exactly once, and that once the network heals every node catches up
// and new batches are acknowledged again.
package simnet
