// Package worldstate is the versioned world state of a channel and the
// history of its keys, the Simulator that runs a transaction against it and
// records a Fabric read/write set, and the MVCC validation that decides, in
// block order, which transactions of a block still read current state.
//
// The package follows Hyperledger Fabric 2.x (core/ledger/kvledger/txmgmt)
// wherever the result is visible to peers or clients, so that read/write
// sets are byte-identical across endorsers and every peer reaches the same
// validation codes. The few places where it differs are listed at the end.
//
// # Key layout
//
// All of a channel's data lives in the node's one kv database under
// ChannelPrefix(channel) = 'c' ‖ channel ‖ 0x00; channel names (Fabric's
// [a-z][a-z0-9.-]*) contain no 0x00, so no channel's prefix is a prefix of
// another's, and no key starts with the 0x00 that kv reserves. Under it this
// package owns two sub-prefixes; other channel-scoped packages use other
// bytes:
//
//	state:   ChannelPrefix ‖ 's' ‖ ns ‖ 0x00 ‖ key
//	history: ChannelPrefix ‖ 'h' ‖ ns ‖ 0x00 ‖ escape(key) ‖ 0x00 0x01 ‖ block ‖ tx
//
// ns is the namespace (the contract name): 1 to 64 characters from
// A-Z a-z 0-9 _ . + - (so _lifecycle is valid), checked by
// ValidateNamespace. It holds no 0x00, so the first 0x00 ends it and a
// namespace's state keys sort as (ns, key) pairs: a namespace's keys are one
// contiguous kv range in key byte order, which range queries use directly.
// Keys are arbitrary byte strings, including composite keys that begin with
// and contain 0x00. In history keys, escape writes each 0x00 of the key as
// 0x00 0xff and the key ends with 0x00 0x01, which no escaped key contains:
// the encoding is unambiguous and keeps (ns, key, block, tx) order. block
// and tx are 8-byte big-endian numbers, so one key's history records are
// one kv range, oldest first.
//
// Values are records with a leading format byte (1):
//
//	state:   1 ‖ block (8) ‖ tx (8) ‖ value
//	history: 1 ‖ flags (1: bit 0 = delete) ‖ seconds (8) ‖ nanos (4) ‖ len(txID) (4) ‖ txID ‖ value
//
// A record that does not decode yields an error wrapping ErrCorrupt; no
// stored byte sequence makes the package panic.
//
// History records keep the value written (nothing for a delete), so that a
// history query reads one kv range and no block. The cost is space: every
// write is stored twice, once in the block and once in history (plus about
// 100 bytes of key, transaction id and timestamp per write), and history is
// never pruned.
//
// # Versions
//
// A value's Version is (block number, transaction number within the block)
// of the valid transaction that wrote it; the transaction number counts
// every transaction of the block, valid or not, as Fabric's. A deleted key
// is absent: it has no version, and a later write starts it again with the
// writer's version. Reads of absent keys are recorded without a version.
//
// # Simulation
//
// A Simulator (DESIGN §6) runs on a kv.Reader, normally a kv.Snapshot the
// caller opens before and closes after, so every read of the transaction
// sees the same committed state; Fabric gets the same effect by holding its
// commit lock for reading during simulation.
//
//   - GetState returns committed state: a transaction never sees its own
//     writes. The first read of each key is recorded with its committed
//     version, none when absent. (Fabric's builder keeps the last read, which
//     under a consistent view is the same version.) The empty key may be
//     read; it is always absent.
//   - PutState and DelState record writes; the last write to a key wins.
//     The key must be non-empty. PutState with an empty value is a delete,
//     as in Fabric since FAB-18386: the shims send an empty value as no
//     value, and the simulator records is_delete for it.
//   - GetStateByRange returns committed keys in [start, end) in byte order
//     (empty end: to the end of the namespace) and records
//     RangeQueryInfo{start_key, end_key, itr_exhausted, raw_reads} as
//     Fabric's resultsItr does: every key returned is in raw_reads with its
//     version; if the caller iterated to the end, itr_exhausted is true and
//     end_key is the requested end; if it stopped early, itr_exhausted is
//     false and end_key is the last key returned, and validation rechecks
//     [start_key, end_key] inclusive, so keys past where the caller stopped
//     do not matter. Identical records are kept once per namespace; ranges
//     keep the order their iterators were opened.
//   - GetHistoryForKey is served from the same reader and, as in Fabric, is
//     neither recorded nor validated.
//   - Results gives the TxReadWriteSet: namespaces sorted by name, each
//     namespace touched (even if only read) present; reads and writes sorted
//     by key; each NsReadWriteSet.rwset the deterministic encoding of its
//     KVRWSet; and the deterministic encoding of the whole. The same calls,
//     and calls that differ only in the order of independent operations
//     (writes to different keys, reads of different keys), give the same
//     bytes.
//
// Keys and range bounds must be valid UTF-8: read/write sets carry them as
// protobuf strings.
//
// # Validation
//
// The validator handles a block's transactions in order with one
// BlockUpdates. For each transaction, CheckReads compares its read set with
// the state committed up to the previous block plus the writes of the
// block's earlier valid transactions, as Fabric's validator does:
//
//   - a key read must not have been written by an earlier valid transaction
//     of the block, and its recorded version must equal the committed
//     version (both absent counts as equal); otherwise MVCC_READ_CONFLICT,
//     with a reason such as
//     `key "asset1" in namespace "assets" read at version 5:0, now at 7:2`
//     or `... written by transaction 3 of this block`;
//   - a recorded range is run again over committed state merged with the
//     block's earlier writes (a pending write replaces the committed value
//     and version of its key, a pending delete hides the key) over
//     [start_key, end_key) if itr_exhausted, else [start_key, end_key]; the
//     keys and versions must equal raw_reads exactly; otherwise
//     PHANTOM_READ_CONFLICT, with a reason naming the range and the first
//     key that differs (inserted, now absent, or at another version, and
//     which transaction of the block wrote it).
//
// Namespaces are checked in the order of the read/write set, each one's key
// reads before its ranges; the first conflict decides. A valid transaction
// is then added with Add, its writes taking version (block, txNum); a write
// with is_delete or an empty value deletes the key. Finally WriteTo puts the
// new state values, the deletions and the history records into the
// caller's batch in a deterministic order; the ledger commits that batch
// together with the block, synced, so that a crash leaves either both or
// neither.
//
// # History
//
// State.History (and Simulator.GetHistoryForKey) returns every write and
// delete of a key by a valid transaction, newest first, as Fabric 2.x does
// (FAB-16303): the transaction id, the channel header timestamp, the value
// and is_delete, convertible to queryresult.KeyModification.
//
// # Composite keys
//
// A composite key (internal/compositekey builds them as Fabric's shims
// do: 0x00 ‖ objectType ‖ 0x00 ‖ (attr ‖ 0x00)*) is stored like any other
// key; a partial composite key query is a range query over
// [key, key ‖ U+10FFFF).
//
// # Concurrency and ownership
//
// A State holds its channel's prefixes and, when made so, a filter of its
// keys (WithKeyFilter) and a cache of a few namespaces' values
// (WithNamespaceCache, which takes a short lock per read of those
// namespaces): it is safe for concurrent use. Simulators, iterators and
// BlockUpdates belong to one goroutine each. The package starts no
// goroutines; it relies on kv for isolation:
//
//   - To read committed state while a block may be committing (endorsement,
//     queries), open a snapshot (State.NewSnapshot, which the namespace
//     cache can answer, or a kv.Snapshot), read through it (Get, Range,
//     History or a Simulator), and close it when done. A block and its
//     state changes commit in one batch, so a snapshot shows either all of
//     a block or none of it. Reading the live kv.DB is also safe, but
//     successive reads may straddle a commit; each single Get or iterator
//     is consistent on its own.
//   - Validation of block N must read state committed up to block N-1 and
//     nothing of N: run CheckReads after block N-1's batch has committed,
//     and commit block N before validating block N+1. Only one goroutine
//     commits a channel's blocks.
//   - Values returned by Get and by iterators belong to the caller. Add
//     keeps references to the read/write sets it was given until WriteTo.
//
// # Differences from Fabric
//
//   - Range reads are always recorded as raw reads; Fabric replaces them by
//     a Merkle summary past 50 results. CheckReads rejects a summary
//     (BAD_RWSET), which only a Fabric peer would produce.
//   - A range iterator that returned nothing and was not run to its end is
//     not recorded: it observed nothing. Fabric records it with an empty
//     end_key, which its validator treats as an unbounded range.
//   - Key-level endorsement metadata (metadata_writes) is not supported:
//     CheckReads rejects it (INVALID_WRITESET), as it rejects writes to the
//     empty key, which Fabric's LevelDB state would store.
package worldstate
