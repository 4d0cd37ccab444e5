package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chorusledger/chorus/internal/bloom"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	ledgerpb "github.com/chorusledger/chorus/proto/chorus/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
)

// ChainInfoVersion is the ledgerpb.ChainInfo format this build writes. It
// only moves forward; Open refuses a newer one.
const ChainInfoVersion = 1

// Info summarises a channel's chain.
type Info struct {
	Height            uint64 // number of blocks; the next block's number
	CurrentBlockHash  []byte // hash of block Height-1; empty when Height is 0
	PreviousBlockHash []byte // hash of block Height-2; empty when Height < 2
	CommitHash        []byte // commit hash of block Height-1; empty on an orderer
}

func (i Info) clone() Info {
	return Info{
		Height:            i.Height,
		CurrentBlockHash:  slices.Clone(i.CurrentBlockHash),
		PreviousBlockHash: slices.Clone(i.PreviousBlockHash),
		CommitHash:        slices.Clone(i.CommitHash),
	}
}

// BatchWriter adds writes to the batch that commits a block, so that they
// become durable with it or not at all. The world state's update for a
// block is one.
type BatchWriter interface {
	WriteTo(b *kv.Batch) error
}

// BatchDoneWriter is a BatchWriter that must learn when the batch it wrote
// into is finished with. Append calls BatchDone once for each writer whose
// WriteTo it called, after the batch has committed or failed to, whatever
// the outcome: the world state's updates keep a cache stopped meanwhile.
type BatchDoneWriter interface {
	BatchWriter
	BatchDone()
}

// AppendOptions says what a block's append carries beside the block.
type AppendOptions struct {
	// FillCommitHash computes the block's commit hash from the previous
	// one and stores it in metadata slot 4. Peers set it, after writing
	// the transaction filter; orderers leave it false. When false, a
	// commit hash already in the block is stored as it is (and Verify
	// checks it).
	FillCommitHash bool
	// WritesHash, with FillCommitHash, is the block's writes hash as the
	// caller computed it while validating (WritesHash.Sum); nil makes
	// Append decode the block's valid transactions to compute it.
	WritesHash []byte
	// Reasons[i], when non-empty, says why transaction i is invalid; it is
	// kept in the transaction's record. Nil, or one entry per
	// transaction; a reason for a VALID transaction is refused.
	Reasons []string
	// Writers add their writes to the block's batch, in order.
	Writers []BatchWriter
	// NoSync commits the batch without waiting for it to reach the disk.
	// Only for a caller whose block is already durable elsewhere: an
	// orderer, whose block is an entry of a Raft log synced on a quorum.
	// The batch becomes durable with the next synced write to the same
	// database (Pebble has one sequential WAL); a crash before that loses
	// the block and whatever its Writers wrote, all together, never part.
	NoSync bool
	// DataHashChecked skips the check that the header's data hash is the
	// hash of the block's transactions, for a caller that has just made it
	// on this block in memory: an orderer's SignBlock, a peer's check of
	// a delivered block. A block's data is then hashed once, not twice
	// (2 µs a transaction for each pass). Every other check still runs.
	DataHashChecked bool
}

// Ledger is one channel's block store over a kv.DB that it shares with the
// rest of the node. One goroutine appends; any number read concurrently.
type Ledger struct {
	db      *kv.DB
	channel string
	keys    keys

	appendMu sync.Mutex // serialises Append and Close
	failed   error      // set when a commit failed; guarded by appendMu
	// blockBuf is the buffer Append encodes a block into before writing
	// it to its segment, kept for the next block (a block of 500
	// transactions is about 2 MB); guarded by appendMu.
	blockBuf []byte

	files *segments // the block bodies

	tip atomic.Pointer[tip]

	// txIDs, once FilterTxIDs is called, holds every id of the
	// transaction index.
	txIDs atomic.Pointer[bloom.Filter]
}

// tip is the published state of the chain. It is immutable; Append and
// Close replace it and then close next, waking whoever waits on it.
type tip struct {
	info   Info
	closed bool
	next   chan struct{}
}

// Open loads a channel's ledger from db; a channel never seen has height 0.
// It checks that the chain info agrees with the last stored block, and
// refuses a ledger written by a newer format. The Ledger does not own db:
// close the Ledger, then db.
func Open(db *kv.DB, channel string) (*Ledger, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	l := &Ledger{db: db, channel: channel, keys: newKeys(channel), files: newSegments(db, channel)}
	info, err := l.load()
	if err != nil {
		l.files.close()
		return nil, fmt.Errorf("ledger: open channel %s: %w", channel, err)
	}
	l.tip.Store(&tip{info: info, next: make(chan struct{})})
	return l, nil
}

func (l *Ledger) load() (Info, error) {
	ci, err := readChainInfo(l.db, l.keys)
	if err != nil {
		return Info{}, err
	}
	info := Info{
		Height:            ci.Height,
		CurrentBlockHash:  ci.CurrentBlockHash,
		PreviousBlockHash: ci.PreviousBlockHash,
		CommitHash:        ci.CommitHash,
	}
	// Everything of a block in the database commits in one batch, after
	// its segment record is synced, so the only repair after a crash is
	// forgetting segment bytes that no block points at (position); the
	// other checks catch damage, not crashes.
	if _, err := l.db.Get(l.keys.block(info.Height)); err == nil {
		if info.Height == 0 {
			return Info{}, fmt.Errorf("%w: the chain info is missing, yet block 0 is stored", ErrCorrupt)
		}
		return Info{}, fmt.Errorf("%w: block %d is stored beyond the chain height %d", ErrCorrupt, info.Height, info.Height)
	} else if !errors.Is(err, kv.ErrNotFound) {
		return Info{}, err
	}
	if info.Height == 0 {
		return info, l.files.position(nil)
	}
	v, err := l.db.Get(l.keys.block(info.Height - 1))
	if errors.Is(err, kv.ErrNotFound) {
		return Info{}, fmt.Errorf("%w: chain info says height %d but block %d is missing", ErrCorrupt, info.Height, info.Height-1)
	} else if err != nil {
		return Info{}, err
	}
	var last *locator // nil when the last block is inline
	raw := v
	if isLocator(v) {
		loc, err := decodeLocator(v)
		if err == nil {
			raw, err = l.files.readRecord(loc)
		}
		if err != nil {
			return Info{}, fmt.Errorf("last block %d: %w", info.Height-1, err)
		}
		raw, last = raw[BlockHeadroom:], &loc
	}
	b, err := UnmarshalBlock(raw)
	if err != nil {
		return Info{}, fmt.Errorf("%w: last block %d: %v", ErrCorrupt, info.Height-1, err)
	}
	if h := HeaderHash(b.Header); !bytes.Equal(h, info.CurrentBlockHash) {
		return Info{}, fmt.Errorf("%w: chain info says block %d hashes to %x, it hashes to %x", ErrCorrupt, info.Height-1, info.CurrentBlockHash, h)
	}
	return info, l.files.position(last)
}

// readChainInfo returns the stored chain info, or the empty chain's.
func readChainInfo(r kv.Reader, k keys) (*ledgerpb.ChainInfo, error) {
	raw, err := r.Get(k.info())
	if errors.Is(err, kv.ErrNotFound) {
		return &ledgerpb.ChainInfo{FormatVersion: ChainInfoVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	ci := &ledgerpb.ChainInfo{}
	if err := proto.Unmarshal(raw, ci); err != nil {
		return nil, fmt.Errorf("%w: decode chain info: %v", ErrCorrupt, err)
	}
	if ci.FormatVersion > ChainInfoVersion {
		return nil, fmt.Errorf("%w: chain info format version %d, this build understands up to %d; run a newer chorus", ErrNewerFormat, ci.FormatVersion, ChainInfoVersion)
	}
	if ci.FormatVersion == 0 {
		return nil, fmt.Errorf("%w: chain info has no format version", ErrCorrupt)
	}
	return ci, nil
}

// Channel is the channel this ledger holds.
func (l *Ledger) Channel() string { return l.channel }

// Height is the number of blocks, which is the next block's number.
func (l *Ledger) Height() uint64 { return l.tip.Load().info.Height }

// Info returns the chain's height, last two block hashes and last commit
// hash, all as of the same append.
func (l *Ledger) Info() Info { return l.tip.Load().info.clone() }

// maxKeptBlockBuffer is the largest block encoding buffer Append keeps for
// the next block; a larger one is left to the garbage collector.
const maxKeptBlockBuffer = 16 << 20

// Append checks that block continues the chain (its number is the height,
// its previous hash is the last block's hash, its data hash matches its
// transactions, a transaction filter if present has one entry per
// transaction), fills its commit hash if opts asks, appends the block as
// given to its segment file and syncs it, and commits in one kv batch
// (synced unless opts.NoSync): the block's locator, its hash index, an
// index entry for every transaction id not indexed before (the first
// occurrence wins), the chain info, and the writes of opts.Writers.
// Height and Info change only once the batch is committed (durable,
// unless NoSync). With FillCommitHash, the caller's block receives the
// commit hash too, once the commit succeeded.
//
// Append must not be called concurrently with itself; the ledger
// serialises such calls. If writing the segment or committing fails, the
// ledger refuses further appends (ErrFailed) until reopened, because it
// cannot know what became durable.
func (l *Ledger) Append(block *commonpb.Block, opts AppendOptions) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	t := l.tip.Load()
	if t.closed {
		return fmt.Errorf("ledger: append to channel %s: %w", l.channel, ErrClosed)
	}
	if l.failed != nil {
		return fmt.Errorf("ledger: append to channel %s: %w: %v", l.channel, ErrFailed, l.failed)
	}
	stored, info, err := l.prepare(block, t.info, opts)
	if err != nil {
		return err
	}
	raw, err := envelope.MarshalAppend(l.blockBuf[:0], stored)
	if err != nil {
		return fmt.Errorf("ledger: append block %d to channel %s: %w", info.Height-1, l.channel, err)
	}
	// The segment writes raw and keeps nothing of it.
	if cap(raw) <= maxKeptBlockBuffer {
		l.blockBuf = raw[:0]
	}
	loc, err := l.files.append(raw)
	if err != nil {
		l.failed = err
		return fmt.Errorf("ledger: append block %d to channel %s: %w", info.Height-1, l.channel, err)
	}
	if err := l.commit(stored, loc.encode(), info, opts); err != nil {
		return err
	}
	if opts.FillCommitHash {
		block.Metadata = stored.Metadata
	}
	next := &tip{info: info, next: make(chan struct{})}
	l.tip.Store(next)
	close(t.next)
	return nil
}

// prepare checks block against the chain and returns what to store (the
// block itself, or a copy with a fresh metadata slice when the commit hash
// is filled) and the chain info after it.
func (l *Ledger) prepare(block *commonpb.Block, cur Info, opts AppendOptions) (*commonpb.Block, Info, error) {
	h := block.GetHeader()
	if h == nil {
		return nil, Info{}, fmt.Errorf("ledger: append to channel %s: %w: no header", l.channel, ErrInvalidBlock)
	}
	fail := func(sentinel error, format string, args ...any) (*commonpb.Block, Info, error) {
		return nil, Info{}, fmt.Errorf("ledger: append block %d to channel %s: %w: "+format,
			append([]any{h.Number, l.channel, sentinel}, args...)...)
	}
	if h.Number != cur.Height {
		return fail(ErrBlockNumber, "the ledger's height is %d", cur.Height)
	}
	if !bytes.Equal(h.PreviousHash, cur.CurrentBlockHash) {
		if cur.Height == 0 {
			return fail(ErrPreviousHash, "a genesis block's previous hash must be empty, it is %x", h.PreviousHash)
		}
		return fail(ErrPreviousHash, "previous hash is %x, block %d hashes to %x", h.PreviousHash, cur.Height-1, cur.CurrentBlockHash)
	}
	data := block.GetData().GetData()
	if !opts.DataHashChecked {
		if dh := DataHash(data); !bytes.Equal(h.DataHash, dh) {
			return fail(ErrDataHash, "header says %x, the %d transactions hash to %x", h.DataHash, len(data), dh)
		}
	}
	filter := TxFilter(block)
	if len(filter) != 0 && len(filter) != len(data) {
		return fail(ErrInvalidBlock, "transaction filter has %d entries for %d transactions", len(filter), len(data))
	}
	if len(opts.Reasons) != 0 {
		if len(opts.Reasons) != len(data) {
			return fail(ErrInvalidBlock, "%d reasons for %d transactions", len(opts.Reasons), len(data))
		}
		for i, r := range opts.Reasons {
			if r != "" && (len(filter) == 0 || filter[i] == byte(peerpb.TxValidationCode_VALID)) {
				return fail(ErrInvalidBlock, "a reason is given for transaction %d, which is not marked invalid", i)
			}
		}
	}
	stored := block
	if opts.FillCommitHash {
		if len(filter) != len(data) {
			return fail(ErrInvalidBlock, "a commit hash needs the transaction filter, and the block has none")
		}
		ch, err := commitHash(cur.CommitHash, block, opts.WritesHash)
		if err != nil {
			return fail(ErrInvalidBlock, "%v", err)
		}
		stored = &commonpb.Block{
			Header:   block.Header,
			Data:     block.Data,
			Metadata: &commonpb.BlockMetadata{Metadata: slices.Clone(block.GetMetadata().GetMetadata())},
		}
		if err := setCommitHash(stored, ch); err != nil {
			return nil, Info{}, err
		}
	}
	ch, err := BlockCommitHash(stored)
	if err != nil {
		return fail(ErrInvalidBlock, "%v", err)
	}
	return stored, Info{
		Height:            cur.Height + 1,
		CurrentBlockHash:  HeaderHash(h),
		PreviousBlockHash: cur.CurrentBlockHash,
		CommitHash:        slices.Clone(ch),
	}, nil
}

// commit writes the block's locator, indexes, chain info and the writers'
// writes in one batch.
func (l *Ledger) commit(block *commonpb.Block, loc []byte, info Info, opts AppendOptions) error {
	num := block.Header.Number
	wrap := func(err error) error {
		return fmt.Errorf("ledger: append block %d to channel %s: %w", num, l.channel, err)
	}
	b := l.db.NewBatch()
	defer b.Close()
	b.Set(l.keys.block(num), loc)
	b.Set(l.keys.hash(info.CurrentBlockHash), binary.BigEndian.AppendUint64(nil, num))
	if err := l.indexTxs(b, block, opts.Reasons); err != nil {
		return wrap(err)
	}
	ci, err := envelope.Marshal(&ledgerpb.ChainInfo{
		FormatVersion:     ChainInfoVersion,
		Height:            info.Height,
		CurrentBlockHash:  info.CurrentBlockHash,
		PreviousBlockHash: info.PreviousBlockHash,
		CommitHash:        info.CommitHash,
	})
	if err != nil {
		return wrap(err)
	}
	b.Set(l.keys.info(), ci)
	written := 0
	defer func() {
		for _, w := range opts.Writers[:written] {
			if d, ok := w.(BatchDoneWriter); ok {
				d.BatchDone()
			}
		}
	}()
	for i, w := range opts.Writers {
		written = i + 1
		if err := w.WriteTo(b); err != nil {
			return wrap(fmt.Errorf("writer %d: %w", i, err))
		}
	}
	if err := b.Commit(!opts.NoSync); err != nil {
		l.failed = err
		return wrap(err)
	}
	return nil
}

// indexTxs adds a record for every transaction id seen for the first
// time. Envelopes that do not decode as far as a transaction id are not
// indexed. Ids already indexed by earlier blocks are found with one
// iterator seeking through the sorted ids, which is several times cheaper
// than a point lookup per transaction.
func (l *Ledger) indexTxs(b *kv.Batch, block *commonpb.Block, reasons []string) error {
	filter := TxFilter(block)
	data := block.GetData().GetData()
	first := make(map[string]int, len(data)) // id → its first position in the block
	ids := make([]string, 0, len(data))
	for i, env := range data {
		id := txIDOf(env)
		if _, dup := first[id]; id == "" || dup {
			continue
		}
		first[id] = i
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	lower := l.keys.tx(ids[0])
	it, err := l.db.NewIter(lower, kv.PrefixEnd(l.keys.kind(kindTx, 0)))
	if err != nil {
		return err
	}
	defer it.Close()
	// Before the batch that indexes them commits: a lookup that can see
	// an id in the index must find it in the filter.
	if f := l.txIDs.Load(); f != nil {
		for _, id := range ids {
			f.Add(id)
		}
	}
	for _, id := range ids {
		key := l.keys.tx(id)
		if it.SeekGE(key) && bytes.Equal(it.Key(), key) {
			continue // an earlier block holds the first occurrence
		}
		i := first[id]
		rec := &ledgerpb.TxRecord{
			BlockNumber:    block.Header.Number,
			TxNumber:       uint32(i),
			ValidationCode: int32(peerpb.TxValidationCode_NOT_VALIDATED),
		}
		if len(filter) > 0 {
			rec.ValidationCode = int32(filter[i])
		}
		if len(reasons) > 0 {
			rec.Reason = reasons[i]
		}
		v, err := envelope.Marshal(rec)
		if err != nil {
			return err
		}
		b.Set(key, v)
	}
	return it.Error()
}

// BlockBytes returns block num exactly as stored, or an error wrapping
// ErrNotFound when num is not below Height.
func (l *Ledger) BlockBytes(num uint64) ([]byte, error) {
	buf, err := l.BlockBytesWithHeadroom(num)
	if err != nil {
		return nil, err
	}
	return buf[BlockHeadroom:], nil
}

// BlockBytesWithHeadroom is BlockBytes in a buffer that holds BlockHeadroom
// bytes before the block, free for the caller to overwrite: the block is
// buf[BlockHeadroom:]. Deliver writes a message header there, so that a
// block goes out without being copied.
func (l *Ledger) BlockBytesWithHeadroom(num uint64) ([]byte, error) {
	if h := l.Height(); num >= h {
		return nil, fmt.Errorf("ledger: channel %s: block %d: %w (height %d)", l.channel, num, ErrNotFound, h)
	}
	v, err := l.db.Get(l.keys.block(num))
	if err != nil {
		return nil, fmt.Errorf("ledger: channel %s: read block %d: %w", l.channel, num, err)
	}
	if !isLocator(v) { // inline, as earlier builds stored blocks
		return append(make([]byte, BlockHeadroom, BlockHeadroom+len(v)), v...), nil
	}
	buf, err := l.files.record(v)
	if err != nil {
		return nil, fmt.Errorf("ledger: channel %s: read block %d: %w", l.channel, num, err)
	}
	return buf, nil
}

// Block returns block num, or an error wrapping ErrNotFound when num is
// not below Height.
func (l *Ledger) Block(num uint64) (*commonpb.Block, error) {
	raw, err := l.BlockBytes(num)
	if err != nil {
		return nil, err
	}
	b, err := UnmarshalBlock(raw)
	if err != nil {
		return nil, fmt.Errorf("ledger: channel %s: block %d: %w", l.channel, num, err)
	}
	return b, nil
}

// BlockByHash returns the block whose header hashes to hash.
func (l *Ledger) BlockByHash(hash []byte) (*commonpb.Block, error) {
	v, err := l.db.Get(l.keys.hash(hash))
	if errors.Is(err, kv.ErrNotFound) || (err == nil && len(v) != 8) {
		return nil, fmt.Errorf("ledger: channel %s: block with hash %x: %w", l.channel, hash, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: channel %s: block with hash %x: %w", l.channel, hash, err)
	}
	num := binary.BigEndian.Uint64(v)
	if num >= l.Height() {
		return nil, fmt.Errorf("ledger: channel %s: block with hash %x: %w", l.channel, hash, ErrNotFound)
	}
	return l.Block(num)
}

// TxByID returns where the first transaction with id sits and its
// validation code (NOT_VALIDATED on an orderer, which validates nothing)
// and reason.
func (l *Ledger) TxByID(id string) (*ledgerpb.TxRecord, error) {
	// Most lookups under load are of new transactions, which are absent:
	// the filter answers most of them, and the error's message is
	// formatted only if someone reads it.
	notFound := func() error { return &txNotFoundError{channel: l.channel, id: id} }
	if id == "" {
		return nil, notFound()
	}
	if f := l.txIDs.Load(); f != nil && !f.MayContain(id) {
		return nil, notFound()
	}
	v, err := l.db.Get(l.keys.tx(id))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: channel %s: transaction %q: %w", l.channel, id, err)
	}
	rec := &ledgerpb.TxRecord{}
	if err := proto.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("ledger: channel %s: transaction %q: decode record: %w", l.channel, id, err)
	}
	if rec.BlockNumber >= l.Height() {
		return nil, notFound() // committed, not yet published
	}
	return rec, nil
}

// txNotFoundError is TxByID's ErrNotFound.
type txNotFoundError struct{ channel, id string }

func (e *txNotFoundError) Error() string {
	return fmt.Sprintf("ledger: channel %s: transaction %q: %v", e.channel, e.id, ErrNotFound)
}

func (e *txNotFoundError) Unwrap() error { return ErrNotFound }

// FilterTxIDs keeps, from now on, the ids of the channel's transaction
// index in a filter in memory (2 to 4 bytes an id; building it from a
// million ids took 0.1 s in a test), built here from the index, so that
// TxByID answers most lookups of absent ids, the bulk of the lookups
// under load, without reading the database. Only appends
// through this Ledger add to the filter: call it on the Ledger that
// appends the channel's blocks, before it appends, and never append
// through another Ledger of the same channel meanwhile.
func (l *Ledger) FilterTxIDs() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.txIDs.Load() != nil {
		return nil
	}
	f, err := bloom.FromPrefix(l.db, l.keys.kind(kindTx, 0))
	if err != nil {
		return fmt.Errorf("ledger: channel %s: transaction id filter: %w", l.channel, err)
	}
	l.txIDs.Store(f)
	return nil
}

// Blocks iterates over the blocks from from up to the height at the time
// of the call. It stops at the first error, which it yields.
func (l *Ledger) Blocks(from uint64) iter.Seq2[*commonpb.Block, error] {
	return func(yield func(*commonpb.Block, error) bool) {
		to := l.Height()
		if from >= to {
			return
		}
		it, err := l.db.NewIter(l.keys.block(from), l.keys.block(to))
		if err != nil {
			yield(nil, fmt.Errorf("ledger: channel %s: %w", l.channel, err))
			return
		}
		defer it.Close()
		next := from
		for ok := it.First(); ok; ok = it.Next() {
			num, _ := l.keys.blockNum(it.Key())
			if num != next {
				yield(nil, fmt.Errorf("ledger: channel %s: %w: block %d is missing", l.channel, ErrCorrupt, next))
				return
			}
			raw, err := l.files.resolve(it.Value())
			if err != nil {
				yield(nil, fmt.Errorf("ledger: channel %s: block %d: %w", l.channel, num, err))
				return
			}
			b, err := UnmarshalBlock(raw)
			if err != nil {
				yield(nil, fmt.Errorf("ledger: channel %s: block %d: %w", l.channel, num, err))
				return
			}
			if !yield(b, nil) {
				return
			}
			next++
		}
		if err := it.Error(); err != nil {
			yield(nil, fmt.Errorf("ledger: channel %s: %w", l.channel, err))
			return
		}
		if next != to {
			yield(nil, fmt.Errorf("ledger: channel %s: %w: block %d is missing", l.channel, ErrCorrupt, next))
		}
	}
}

// WaitForHeight returns once the ledger's height is at least h, or with an
// error when ctx ends first or the ledger is closed.
func (l *Ledger) WaitForHeight(ctx context.Context, h uint64) error {
	for {
		t := l.tip.Load()
		if t.info.Height >= h {
			return nil
		}
		if t.closed {
			return fmt.Errorf("ledger: channel %s: wait for height %d: %w", l.channel, h, ErrClosed)
		}
		select {
		case <-t.next:
		case <-ctx.Done():
			return fmt.Errorf("ledger: channel %s: wait for height %d (at %d): %w", l.channel, h, t.info.Height, ctx.Err())
		}
	}
}

// Cursor reads blocks in order from a starting number and waits at the
// tip for the next, as Deliver streams them. A Cursor belongs to one
// goroutine.
type Cursor struct {
	l    *Ledger
	next uint64
}

// Cursor returns a cursor whose first block is from.
func (l *Ledger) Cursor(from uint64) *Cursor { return &Cursor{l: l, next: from} }

// Next returns the next block, waiting for it to be appended if needed.
func (c *Cursor) Next(ctx context.Context) (*commonpb.Block, error) {
	if err := c.l.WaitForHeight(ctx, c.next+1); err != nil {
		return nil, err
	}
	b, err := c.l.Block(c.next)
	if err != nil {
		return nil, err
	}
	c.next++
	return b, nil
}

// Close stops the ledger: appends fail with ErrClosed and waiters wake
// with it, and the segment files are closed. Reads keep working while the
// kv.DB stays open, each opening the segment it needs and closing it
// again. Close does not close the kv.DB, which the ledger does not own.
func (l *Ledger) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	t := l.tip.Load()
	if t.closed {
		return nil
	}
	l.tip.Store(&tip{info: t.info, closed: true, next: make(chan struct{})})
	close(t.next)
	l.blockBuf = nil
	if err := l.files.close(); err != nil {
		return fmt.Errorf("ledger: close channel %s: %w", l.channel, err)
	}
	return nil
}

// Verify checks the whole stored chain from a consistent snapshot; see the
// package function Verify.
func (l *Ledger) Verify(opts VerifyOptions) (*Report, error) {
	snap := l.db.NewSnapshot()
	defer snap.Close()
	return verify(snap, l.files, l.channel, opts)
}
