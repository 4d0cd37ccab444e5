// Package ledger is a channel's block store: it appends blocks that
// continue the hash chain, indexes them by hash and their transactions by
// id, serves them to readers and to Deliver, and verifies a stored chain
// end to end. It also holds the block rules the rest of Chorus shares:
// Fabric's header hash and data hash, the orderer's block signature, the
// RFC 6962 Merkle tree of a block's transactions, and the commit hash.
//
// # Block rules
//
// Blocks follow Hyperledger Fabric exactly, so blocks written by Fabric
// verify here and ours verify there:
//
//   - HeaderBytes(h) is the ASN.1 DER encoding of SEQUENCE { number
//     INTEGER, previous_hash OCTET STRING, data_hash OCTET STRING }, the
//     number as a non-negative big integer; HeaderHash is SHA-256 of it,
//     the block hash that the next block's previous_hash holds. Block 0
//     has an empty previous hash.
//   - DataHash is SHA-256 of the block's envelopes concatenated in order.
//   - Metadata slots at Fabric's indexes: 0 SIGNATURES (a marshalled
//     common.Metadata), 1 LAST_CONFIG (left empty, as Fabric 2.x does), 2
//     TRANSACTIONS_FILTER (one validation code byte per transaction, set
//     by the committing peer), 3 empty, 4 COMMIT_HASH (a marshalled
//     common.Metadata whose value is the commit hash).
//   - An orderer signs as Fabric's do (SignBlock, AddSignature): slot 0
//     holds Metadata{value, signatures}, value is a marshalled
//     OrdererBlockMetadata{last_config{index}, consenter_metadata}, and
//     each signature is over value ‖ signature_header ‖ HeaderBytes(header),
//     signature_header being a SignatureHeader{creator = the orderer's
//     serialized identity, nonce = 24 random bytes}. Chorus's
//     consenter_metadata is a marshalled chorus.ledger.v1.ConsenterMetadata
//     {format_version 1, merkle_root, consensus_term, consensus_index}, so
//     the Merkle root is signed with the block. (Fabric puts etcdraft's
//     metadata there; it decodes here with format_version 0 and is treated
//     as "no Merkle root".)
//
// # Merkle tree
//
// MerkleRoot, MerkleProof and VerifyMerkleProof implement RFC 6962 §2.1
// over a block's envelopes: leaf = SHA-256(0x00 ‖ envelope), node =
// SHA-256(0x01 ‖ left ‖ right), a tree of n > 1 leaves split after the
// largest power of two smaller than n, the empty tree = SHA-256 of nothing.
// A client holding a signed block header and metadata can so be shown that
// one transaction is in the block with log2(n) hashes.
//
// # Commit hash
//
// The commit hash chains the state changes of every block, so that two
// peers compare their whole world state by comparing one hash. For block N
// with transaction filter F (metadata slot 2):
//
//	commitHash(N) = SHA-256( commitHash(N-1) ‖ uint64be(N) ‖ F ‖ writesHash(N) )
//	writesHash(N) = SHA-256( for each VALID ENDORSER_TRANSACTION of N, in order,
//	                           for each namespace, in read/write set order,
//	                             for each KV write, in order:
//	                               lp(namespace) ‖ lp(key) ‖ is_delete ‖ lp(value) )
//
// where lp(x) = uint64be(len(x)) ‖ x and is_delete is one byte, 0 or 1.
// commitHash(N-1) is the previous block's stored commit hash, empty for
// the first block that carries one (block 0 on a peer). Configuration
// transactions, invalid transactions, reads, metadata writes and private
// data hashes contribute nothing beyond the filter byte. Peers fill it at
// Append (AppendOptions.FillCommitHash); orderers leave slot 4 empty.
// Fabric's peers define their commit hash differently, so Verify must skip
// commit hashes for blocks written by Fabric (VerifyOptions.SkipCommitHashes).
//
// # Key layout
//
// One kv.DB holds every channel and every other component's data. The
// ledger owns every key that starts with "b"; a channel's keys start with
// P = "b" ‖ channel ‖ 0x00 (channel names cannot hold 0x00), then a kind:
//
//	P ‖ "i"                    → chorus.ledger.v1.ChainInfo{format_version, height,
//	                             current and previous block hash, commit hash}
//	P ‖ "n" ‖ uint64be(number) → the block's locator in its segment file
//	                             (or, as written by earlier builds, the block)
//	P ‖ "h" ‖ block hash       → uint64be(number)
//	P ‖ "t" ‖ transaction id   → chorus.ledger.v1.TxRecord{block, tx number,
//	                             validation code, reason} of the FIRST
//	                             transaction with that id
//
// Neighbours: the world state uses "c" ‖ channel ‖ 0x00 ‖ ..., the Raft
// storage "r" ‖ channel ‖ 0x00 ‖ ...; kv reserves keys starting with 0x00.
// Channels lists the channels present by skipping from one channel's range
// to the next. Transactions whose envelope does not decode as far as a
// transaction id are not indexed. On an orderer, which validates nothing,
// records carry NOT_VALIDATED.
//
// # Block bodies
//
// Block bodies are records in append-only segment files inside the
// database's directory, blocks/<channel>/NNNNNNNN.blk, a new segment
// after 64 MiB (ADR 0007). A record is uint32be(length) ‖ uint32be(CRC-32C)
// ‖ the block; the locator under the block's key is 0xFF ‖ uint32be(segment)
// ‖ uint64be(offset) ‖ uint32be(length). A block is stored exactly as
// given (signed parts are kept as the bytes that were signed; Block
// messages hold them as bytes, so a deterministic marshal reproduces
// them). A value under a block key that does not start with 0xFF (which
// no marshalled block can) is a block stored inline by an earlier build,
// and reads as it is.
//
// # Append, recovery and crashes
//
// Append checks that the block continues the chain (number = height,
// previous hash = hash of the last block, data hash = SHA-256 of the
// envelopes, filter length), computes the commit hash if asked, appends
// the block to its segment and syncs it, and then writes the block's
// locator, its hash index entry, the transaction index entries, the new
// chain info and the writes of AppendOptions.Writers (the world state's
// update for the block) into ONE kv batch committed with sync (unless
// AppendOptions.NoSync: an orderer, whose blocks are durable in its Raft
// log, lets the batch become durable with its next synced write). So a
// node killed at any instant restarts with either the whole block and its
// state changes or none of them: the chain height is exactly the last
// block whose batch reached the write-ahead log, and a locator is never
// durable before the bytes it points at, synced or not. The only repair at Open is
// forgetting segment bytes no block points at (the append position is set
// just past the last block's record, later segments are removed); Open
// also checks the chain info against the last block, read through its
// record's checksum (ErrCorrupt when they disagree, ErrNewerFormat for a
// newer chain info format). The in-memory height and info change only
// after the commit returns; if a write or commit fails the ledger refuses
// further appends (ErrFailed) until reopened, since it cannot know what
// became durable. TestCrashAtEverySyncPoint cuts power before and after
// every sync (segment, directories, Pebble) during appends, segment
// changes included, and checks this.
//
// # Verification
//
// Verify walks a stored chain from a consistent snapshot and checks each
// block in this order: decodes, present and numbered in sequence,
// previous hash, data hash, filter length, Merkle root against the signed
// metadata, commit hash against the previous one and the block's valid
// writes, orderer signatures (with a caller-supplied SignatureVerifier),
// hash and transaction index entries; then the chain info. A Merkle root
// or commit hash is checked where present; once a chain carries one, every
// later block must. The first failure is a *VerifyError naming the block
// and the check ("ledger: channel mychannel: block 7: previous hash does
// not match hash of block 6 ..."). VerifyBlocks checks loose blocks (for
// example Fabric's) the same way, without indexes; VerifyPath opens a
// database read-only and verifies every channel, for `chorus ledger
// verify`.
//
// # Concurrency
//
// A Ledger has one appender and any number of readers. Append and Close
// serialise on a mutex; readers take no lock: the chain's height and info
// are published as one immutable value after each commit, so Height and
// Info are always consistent with each other and with the stored blocks,
// and no read returns a block, hash or transaction above the published
// height. WaitForHeight and Cursor.Next wait for the next publication on a
// channel closed at each append (and at Close), honouring their context.
// Verify reads a snapshot and may run while blocks are appended. The free
// functions hold no state and are safe for concurrent use; a block passed
// to SignBlock, AddSignature, SetTxFilter or Append must not be used
// concurrently by others while they run.
package ledger
