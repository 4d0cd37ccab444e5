package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/chorusledger/chorus/internal/kv"
	ledgerpb "github.com/chorusledger/chorus/proto/chorus/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
)

// The checks Verify runs on each block, in this order; VerifyError.Check
// names the one that failed.
const (
	CheckDecode       = "decode"             // the stored bytes or a metadata slot do not decode
	CheckMissing      = "missing block"      // a block below the height is absent
	CheckNumber       = "number"             // the header's number is not the block's place in the chain
	CheckPreviousHash = "previous hash"      // previous_hash is not the hash of the block before
	CheckDataHash     = "data hash"          // data_hash is not SHA-256 of the transactions
	CheckTxFilter     = "transaction filter" // the filter has the wrong length
	CheckMerkleRoot   = "Merkle root"        // the signed Merkle root does not match the transactions
	CheckCommitHash   = "commit hash"        // the commit hash does not match the valid writes
	CheckSignature    = "signature"          // an orderer signature does not verify, or too few
	CheckHashIndex    = "hash index"         // the block hash is not indexed to the block
	CheckTxIndex      = "tx index"           // a transaction id's record is absent or wrong
	CheckChainInfo    = "chain info"         // the chain info disagrees with the blocks
)

// VerifyError is the first failure Verify meets.
type VerifyError struct {
	Channel string // empty for loose blocks
	// Block is the block that failed; for CheckChainInfo, the chain
	// height the stored info records.
	Block uint64
	Check string // one of the Check constants
	Err   error
}

func (e *VerifyError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "ledger: ")
	where := fmt.Sprintf("block %d", e.Block)
	if e.Check == CheckChainInfo {
		where = fmt.Sprintf("chain info (height %d)", e.Block)
	}
	if e.Channel != "" {
		return fmt.Sprintf("ledger: channel %s: %s: %s", e.Channel, where, msg)
	}
	return fmt.Sprintf("ledger: %s: %s", where, msg)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// VerifyOptions says what Verify checks beyond the hash chain, data hashes,
// Merkle roots, indexes and chain info, which it always checks.
type VerifyOptions struct {
	// Verifier checks orderer signatures; nil leaves them unchecked.
	Verifier SignatureVerifier
	// MinSignatures is how many valid signatures by distinct signers each
	// block after the genesis block must carry when Verifier is set; 0
	// means 1. Every signature present must verify regardless.
	MinSignatures int
	// SkipCommitHashes leaves commit hashes unchecked. Blocks written by
	// Hyperledger Fabric peers need it: their metadata slot 4 holds
	// Fabric's commit hash, which is defined differently from Chorus's.
	SkipCommitHashes bool
}

// Report summarises a verification. On failure it counts what was checked
// before the failure.
type Report struct {
	Channel string // empty for loose blocks
	Height  uint64 // the chain height the stored info records, or one past the last loose block
	Blocks  uint64 // blocks checked
	// Transactions = Valid + Invalid + NotValidated; NotValidated counts
	// transactions of blocks without a transaction filter (an orderer's).
	Transactions, Valid, Invalid, NotValidated uint64
	// Blocks whose Merkle root, commit hash and orderer signatures were
	// checked; zero means that check did not run (absent, or not asked).
	MerkleRootsChecked  uint64
	CommitHashesChecked uint64
	SignaturesChecked   uint64
	// IndexesChecked: the hash and transaction indexes were checked (not
	// for loose blocks).
	IndexesChecked bool
	LastBlockHash  []byte // hash of the last block checked
	LastCommitHash []byte // commit hash of the last block checked, if any
}

// checker walks a chain block by block, carrying what each block's checks
// need from the one before.
type checker struct {
	opts    VerifyOptions
	channel string
	idx     kv.Reader // nil for loose blocks
	files   *segments // the stored chain's block bodies; nil for loose blocks
	keys    keys
	rep     *Report

	started        bool // a block was checked
	prevNum        uint64
	prevHash       []byte
	prevPrevHash   []byte // hash of the block before the previous one
	prevCommitHash []byte // as stored in the previous block
	prevHasMerkle  bool
}

func (c *checker) fail(num uint64, check, format string, args ...any) error {
	return &VerifyError{Channel: c.channel, Block: num, Check: check, Err: fmt.Errorf(format, args...)}
}

func (c *checker) failErr(num uint64, check string, err error) error {
	return &VerifyError{Channel: c.channel, Block: num, Check: check, Err: err}
}

// block checks b, which must be block num of the chain.
func (c *checker) block(num uint64, b *commonpb.Block) error {
	h := b.GetHeader()
	if h == nil {
		return c.fail(num, CheckDecode, "block has no header")
	}
	if h.Number != num {
		return c.fail(num, CheckNumber, "header says number %d", h.Number)
	}
	switch {
	case num == 0 && len(h.PreviousHash) != 0:
		return c.fail(num, CheckPreviousHash, "genesis block has previous hash %x, want none", h.PreviousHash)
	case c.started && !bytes.Equal(h.PreviousHash, c.prevHash):
		return c.fail(num, CheckPreviousHash, "previous hash does not match hash of block %d (header has %s, block %d hashes to %x)", c.prevNum, hx(h.PreviousHash), c.prevNum, c.prevHash)
	}
	data := b.GetData().GetData()
	if dh := DataHash(data); !bytes.Equal(h.DataHash, dh) {
		return c.fail(num, CheckDataHash, "data hash mismatch (header has %x, the %d transactions hash to %x)", h.DataHash, len(data), dh)
	}
	filter := TxFilter(b)
	if len(filter) != 0 && len(filter) != len(data) {
		return c.fail(num, CheckTxFilter, "transaction filter has %d entries for %d transactions", len(filter), len(data))
	}
	sigs, err := signaturesMetadata(b)
	if err != nil {
		return c.failErr(num, CheckDecode, err)
	}
	if err := c.merkle(num, b, data); err != nil {
		return err
	}
	commitHash, err := BlockCommitHash(b)
	if err != nil {
		return c.failErr(num, CheckDecode, err)
	}
	if err := c.commitHash(num, b, commitHash); err != nil {
		return err
	}
	if err := c.signatures(num, b, sigs); err != nil {
		return err
	}
	hash := HeaderHash(h)
	if c.idx != nil {
		if err := c.indexes(num, hash, data, filter); err != nil {
			return err
		}
	}

	c.rep.Blocks++
	c.rep.Transactions += uint64(len(data))
	if len(filter) == 0 {
		c.rep.NotValidated += uint64(len(data))
	}
	for _, code := range filter {
		if peerpb.TxValidationCode(code) == peerpb.TxValidationCode_VALID {
			c.rep.Valid++
		} else {
			c.rep.Invalid++
		}
	}
	c.started = true
	c.prevPrevHash = c.prevHash
	c.prevNum, c.prevHash, c.prevCommitHash = num, hash, commitHash
	c.rep.LastBlockHash, c.rep.LastCommitHash = hash, commitHash
	return nil
}

func (c *checker) merkle(num uint64, b *commonpb.Block, data [][]byte) error {
	if _, err := OrdererMetadata(b); err != nil {
		return c.failErr(num, CheckDecode, err)
	}
	cm, err := ConsenterMetadata(b)
	if err != nil {
		return c.failErr(num, CheckMerkleRoot, err)
	}
	if cm == nil {
		if c.prevHasMerkle {
			return c.fail(num, CheckMerkleRoot, "signed metadata carries no Merkle root although block %d does", c.prevNum)
		}
		return nil
	}
	if root := MerkleRoot(data); !bytes.Equal(cm.MerkleRoot, root) {
		return c.fail(num, CheckMerkleRoot, "Merkle root in signed metadata does not match transactions (metadata has %x, the transactions give %x)", cm.MerkleRoot, root)
	}
	c.prevHasMerkle = true
	c.rep.MerkleRootsChecked++
	return nil
}

func (c *checker) commitHash(num uint64, b *commonpb.Block, stored []byte) error {
	if c.opts.SkipCommitHashes {
		return nil
	}
	if stored == nil {
		if c.started && c.prevCommitHash != nil {
			return c.fail(num, CheckCommitHash, "commit hash missing although block %d carries one", c.prevNum)
		}
		return nil
	}
	if !c.started && num != 0 {
		return nil // loose blocks from mid-chain: the previous commit hash is unknown
	}
	want, err := CommitHash(c.prevCommitHash, b)
	if err != nil {
		return c.fail(num, CheckCommitHash, "commit hash cannot be recomputed: %v", strings.TrimPrefix(err.Error(), "ledger: "))
	}
	if !bytes.Equal(stored, want) {
		return c.fail(num, CheckCommitHash, "commit hash mismatch (block has %x, its valid writes give %x)", stored, want)
	}
	c.rep.CommitHashesChecked++
	return nil
}

func (c *checker) signatures(num uint64, b *commonpb.Block, md *commonpb.Metadata) error {
	if c.opts.Verifier == nil {
		return nil
	}
	min := c.opts.MinSignatures
	if min <= 0 {
		min = 1
	}
	if num == 0 {
		// Orderers do not sign the genesis block; verify what is there.
		if len(md.GetSignatures()) == 0 {
			return nil
		}
		min = 0
	}
	if err := VerifyBlockSignatures(b, c.opts.Verifier, min); err != nil {
		return c.failErr(num, CheckSignature, err)
	}
	c.rep.SignaturesChecked++
	return nil
}

func (c *checker) indexes(num uint64, hash []byte, data [][]byte, filter []byte) error {
	v, err := c.idx.Get(c.keys.hash(hash))
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return c.fail(num, CheckHashIndex, "block hash %x is not indexed", hash)
	case err != nil:
		return c.failErr(num, CheckHashIndex, err)
	case len(v) != 8 || binary.BigEndian.Uint64(v) != num:
		return c.fail(num, CheckHashIndex, "block hash %x is indexed to %x, not to this block", hash, v)
	}
	for i, env := range data {
		id := txIDOf(env)
		if id == "" {
			continue
		}
		v, err := c.idx.Get(c.keys.tx(id))
		if errors.Is(err, kv.ErrNotFound) {
			return c.fail(num, CheckTxIndex, "transaction %d (%s) is not indexed", i, id)
		} else if err != nil {
			return c.failErr(num, CheckTxIndex, err)
		}
		rec := &ledgerpb.TxRecord{}
		if err := proto.Unmarshal(v, rec); err != nil {
			return c.fail(num, CheckTxIndex, "record of transaction %d (%s) does not decode: %v", i, id, err)
		}
		switch {
		case rec.BlockNumber == num && int(rec.TxNumber) == i:
			want := int32(peerpb.TxValidationCode_NOT_VALIDATED)
			if len(filter) > 0 {
				want = int32(filter[i])
			}
			if rec.ValidationCode != want {
				return c.fail(num, CheckTxIndex, "transaction %d (%s) is indexed with code %s, the block says %s", i, id, codeName(rec.ValidationCode), codeName(want))
			}
		case rec.BlockNumber > num || (rec.BlockNumber == num && int(rec.TxNumber) > i):
			return c.fail(num, CheckTxIndex, "transaction %d (%s) occurs here but is indexed at block %d transaction %d, later", i, id, rec.BlockNumber, rec.TxNumber)
		default:
			// A duplicate: the record must point at an earlier
			// transaction with the same id. Duplicates are rare, so
			// reading the earlier block is affordable.
			if err := c.checkEarlier(num, i, id, rec, data); err != nil {
				return err
			}
		}
	}
	c.rep.IndexesChecked = true
	return nil
}

func (c *checker) checkEarlier(num uint64, i int, id string, rec *ledgerpb.TxRecord, data [][]byte) error {
	earlier := data
	if rec.BlockNumber != num {
		v, err := c.idx.Get(c.keys.block(rec.BlockNumber))
		var raw []byte
		if err == nil {
			raw, err = c.files.resolve(v)
		}
		if err != nil {
			return c.fail(num, CheckTxIndex, "transaction %d (%s) is indexed at block %d, which cannot be read: %v", i, id, rec.BlockNumber, err)
		}
		b, err := UnmarshalBlock(raw)
		if err != nil {
			return c.fail(num, CheckTxIndex, "transaction %d (%s) is indexed at block %d, which does not decode", i, id, rec.BlockNumber)
		}
		earlier = b.GetData().GetData()
	}
	if int(rec.TxNumber) >= len(earlier) || txIDOf(earlier[rec.TxNumber]) != id {
		return c.fail(num, CheckTxIndex, "transaction %d (%s) is indexed at block %d transaction %d, which has another id", i, id, rec.BlockNumber, rec.TxNumber)
	}
	return nil
}

// hx renders a hash for a message, saying so when there is none.
func hx(b []byte) string {
	if len(b) == 0 {
		return "(none)"
	}
	return hex.EncodeToString(b)
}

func codeName(c int32) string {
	if n, ok := peerpb.TxValidationCode_name[c]; ok {
		return n
	}
	return fmt.Sprint(c)
}

// Verify walks every block of a channel stored in r and checks, block by
// block in this order: that it decodes, is present and numbered in
// sequence, links to the previous block's hash (block 0 links to nothing),
// has the right data hash and a transaction filter of the right length,
// that the Merkle root in its signed metadata matches its transactions,
// that its commit hash follows from the previous one and its valid writes,
// that its orderer signatures verify, and that its hash and transaction
// ids are indexed; then that the chain info names the last block. A
// Merkle root or commit hash that a block lacks is not checked, unless an
// earlier block of the chain carried one. The first failure is returned as
// a *VerifyError naming the block and the check; the Report counts what
// was checked until then.
//
// Verify reads the chain from a snapshot of db, so it may run while
// blocks are appended; Ledger.Verify does the same for an open ledger.
// A block whose segment record is missing, truncated or fails its
// checksum fails the decode check.
func Verify(db *kv.DB, channel string, opts VerifyOptions) (*Report, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	snap := db.NewSnapshot()
	defer snap.Close()
	files := newSegments(db, channel)
	defer files.close()
	return verify(snap, files, channel, opts)
}

// verify walks the chain of a valid channel name in r (a snapshot),
// reading block bodies through files. Segments are append-only, so what a
// snapshot's locators point at does not change under it.
func verify(r kv.Reader, files *segments, channel string, opts VerifyOptions) (*Report, error) {
	k := newKeys(channel)
	rep := &Report{Channel: channel}
	c := &checker{opts: opts, channel: channel, idx: r, files: files, keys: k, rep: rep}
	ci, err := readChainInfo(r, k)
	if err != nil {
		return rep, c.failErr(0, CheckChainInfo, err)
	}
	rep.Height = ci.Height
	lower, upper := k.blocks()
	it, err := r.NewIter(lower, upper)
	if err != nil {
		return rep, fmt.Errorf("ledger: verify channel %s: %w", channel, err)
	}
	defer it.Close()
	next := uint64(0)
	for ok := it.First(); ok; ok = it.Next() {
		num, ok := k.blockNum(it.Key())
		switch {
		case !ok:
			return rep, c.fail(next, CheckDecode, "stray key %x among the block keys", it.Key())
		case num >= ci.Height:
			return rep, c.fail(ci.Height, CheckChainInfo, "block %d is stored beyond the chain height", num)
		case num != next:
			return rep, c.fail(next, CheckMissing, "block is missing (the next stored is block %d)", num)
		}
		raw, err := files.resolve(it.Value())
		if err != nil {
			return rep, c.failErr(num, CheckDecode, err)
		}
		b, err := UnmarshalBlock(raw)
		if err != nil {
			return rep, c.failErr(num, CheckDecode, err)
		}
		if err := c.block(num, b); err != nil {
			return rep, err
		}
		next++
	}
	if err := it.Error(); err != nil {
		return rep, fmt.Errorf("ledger: verify channel %s: %w", channel, err)
	}
	if next < ci.Height {
		return rep, c.fail(next, CheckMissing, "block is missing (the chain height is %d)", ci.Height)
	}
	switch {
	case !bytes.Equal(ci.CurrentBlockHash, c.prevHash):
		return rep, c.fail(ci.Height, CheckChainInfo, "current block hash %s is not the last block's hash %s", hx(ci.CurrentBlockHash), hx(c.prevHash))
	case !bytes.Equal(ci.PreviousBlockHash, c.prevPrevHash):
		return rep, c.fail(ci.Height, CheckChainInfo, "previous block hash %s is not the hash of the block before the last, %s", hx(ci.PreviousBlockHash), hx(c.prevPrevHash))
	case !bytes.Equal(ci.CommitHash, c.prevCommitHash):
		return rep, c.fail(ci.Height, CheckChainInfo, "commit hash %s is not the last block's commit hash %s", hx(ci.CommitHash), hx(c.prevCommitHash))
	}
	return rep, nil
}

// VerifyBlocks checks loose blocks, in order, as Verify checks a stored
// chain, without the indexes and chain info: numbers in sequence, the hash
// chain between them (the first block's previous hash is checked only when
// it is block 0, which must have none), data hashes, filters, Merkle roots
// and commit hashes where present (the first block's commit hash only when
// it is block 0), and signatures when opts has a Verifier.
func VerifyBlocks(blocks []*commonpb.Block, opts VerifyOptions) (*Report, error) {
	rep := &Report{}
	c := &checker{opts: opts, rep: rep}
	for i, b := range blocks {
		num := b.GetHeader().GetNumber()
		if i > 0 {
			num = c.prevNum + 1
		}
		if err := c.block(num, b); err != nil {
			return rep, err
		}
		rep.Height = num + 1
	}
	return rep, nil
}
