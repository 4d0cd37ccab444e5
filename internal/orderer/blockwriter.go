package orderer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/protobuf/proto"
)

// BlockFetcher brings blocks this orderer lacks from the other orderers of
// the channel (through their Deliver service).
type BlockFetcher interface {
	// Fetch calls each, in order, for blocks from..to (inclusive) of the
	// channel. Blocks handed to each are verified by the fetcher: hash
	// chain and orderer signatures.
	Fetch(ctx context.Context, channel string, from, to uint64, each func(*commonpb.Block) error) error
}

// appliedRecord is the consensus position the block writer has reached,
// kept in the same batch as each block: the raft index of the last applied
// entry and the number of the last configuration block.
type appliedRecord struct {
	index      uint64
	lastConfig uint64
}

// statePrefix begins every key of the orderer's own state for channel.
func statePrefix(channel string) []byte { return append([]byte("o"+channel), 0) }

func appliedKey(channel string) []byte { return append(statePrefix(channel), 'a') }

func (a appliedRecord) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, a.index)
	return binary.BigEndian.AppendUint64(b, a.lastConfig)
}

// WriteTo makes the record part of a block's batch (ledger.BatchWriter).
type appliedWriter struct {
	key []byte
	rec appliedRecord
}

func (w appliedWriter) WriteTo(b *kv.Batch) error {
	b.Set(w.key, w.rec.encode())
	return nil
}

// blockWriter is the raft.StateMachine of an orderer: each committed entry
// is a cut block (header and data). If it extends the local chain, the
// writer signs it with this orderer's identity (carrying the Merkle root
// and the raft position) and appends it, with the entry's index, in one
// synced batch. An entry that no longer extends the chain (proposed by a
// leader that lost its place) is skipped identically by every orderer.
type blockWriter struct {
	channel string
	db      *kv.DB
	ledger  *ledger.Ledger
	signer  ledger.Signer
	fetcher BlockFetcher
	log     *slog.Logger
	key     []byte
	rec     appliedRecord

	// onBlock is told about every block appended (ordered or fetched);
	// onSkip about every entry skipped. Both run on the consenter's
	// goroutine and must be quick.
	onBlock func(*commonpb.Block)
	onSkip  func(*commonpb.Block)
	// isConfig reports whether a block holds a configuration transaction.
	isConfig func(*commonpb.Block) bool

	// fetchCtx ends a catch-up fetch when the channel stops
	// (stopFetching). While startCtx is set, a catch-up runs under it
	// instead: the catch-up a restarting orderer finishes before its
	// channel starts ends with the start (its time limit, a SIGTERM).
	fetchCtx     context.Context
	stopFetching context.CancelFunc
	startCtx     context.Context
}

var _ raft.StateMachine = (*blockWriter)(nil)

func newBlockWriter(channel string, db *kv.DB, l *ledger.Ledger, signer ledger.Signer, fetcher BlockFetcher, log *slog.Logger) (*blockWriter, error) {
	w := &blockWriter{channel: channel, db: db, ledger: l, signer: signer, fetcher: fetcher, log: log, key: appliedKey(channel)}
	v, err := db.Get(w.key)
	switch {
	case errors.Is(err, kv.ErrNotFound):
	case err != nil:
		return nil, err
	case len(v) != 16:
		return nil, fmt.Errorf("orderer: channel %s: consensus position record of %d bytes", channel, len(v))
	default:
		w.rec = appliedRecord{index: binary.BigEndian.Uint64(v), lastConfig: binary.BigEndian.Uint64(v[8:])}
	}
	w.onBlock, w.onSkip = func(*commonpb.Block) {}, func(*commonpb.Block) {}
	w.isConfig = func(*commonpb.Block) bool { return false }
	w.fetchCtx, w.stopFetching = context.WithCancel(context.Background())
	return w, nil
}

// encodeEntry is what a leader proposes: the block's header and data.
func encodeEntry(b *commonpb.Block) ([]byte, error) {
	return proto.Marshal(&commonpb.Block{Header: b.Header, Data: b.Data})
}

func (w *blockWriter) Apply(e raft.Entry) error {
	b := &commonpb.Block{}
	if err := proto.Unmarshal(e.Data, b); err != nil || b.Header == nil || b.Data == nil {
		return fmt.Errorf("orderer: channel %s: entry %d is not a block: %v", w.channel, e.Index, err)
	}
	info := w.ledger.Info()
	if b.Header.Number != info.Height || !bytes.Equal(b.Header.PreviousHash, info.CurrentBlockHash) {
		w.log.Debug("skipping stale block", "channel", w.channel, "number", b.Header.Number, "height", info.Height, "index", e.Index)
		return w.skip(b, e)
	}
	rec := appliedRecord{index: e.Index, lastConfig: w.rec.lastConfig}
	if w.isConfig(b) {
		rec.lastConfig = b.Header.Number
	}
	b.Metadata = &commonpb.BlockMetadata{Metadata: make([][]byte, 5)}
	// SignBlock checks the data hash (so Append need not): an entry whose
	// header does not match its transactions, which only a faulty leader
	// could propose, is skipped by every orderer alike.
	if err := ledger.SignBlock(b, w.signer, rec.lastConfig, e.Term, e.Index); errors.Is(err, ledger.ErrDataHash) {
		w.log.Warn("skipping a block whose data hash does not match its transactions", "channel", w.channel, "number", b.Header.Number, "index", e.Index)
		return w.skip(b, e)
	} else if err != nil {
		return fmt.Errorf("orderer: channel %s: sign block %d: %w", w.channel, b.Header.Number, err)
	}
	// The batch need not be synced: the block is an entry of the Raft
	// log, already durable on a quorum, and the next synced Raft write
	// makes this batch durable too. A crash before that loses the block's
	// index and its applied index together, and raft delivers the entry
	// again. (The ledger syncs the block's segment record itself, so an
	// index never outlives the bytes it points at.)
	if err := w.ledger.Append(b, ledger.AppendOptions{NoSync: true, DataHashChecked: true, Writers: []ledger.BatchWriter{appliedWriter{w.key, rec}}}); err != nil {
		return fmt.Errorf("orderer: channel %s: %w", w.channel, err)
	}
	w.rec = rec
	w.onBlock(b)
	return nil
}

// skip records that entry e was applied without appending its block.
func (w *blockWriter) skip(b *commonpb.Block, e raft.Entry) error {
	if err := w.writeRecord(appliedRecord{index: e.Index, lastConfig: w.rec.lastConfig}); err != nil {
		return err
	}
	w.onSkip(b)
	return nil
}

func (w *blockWriter) writeRecord(rec appliedRecord) error {
	b := w.db.NewBatch()
	defer b.Close()
	if err := (appliedWriter{w.key, rec}).WriteTo(b); err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("orderer: channel %s: persist consensus position: %w", w.channel, err)
	}
	w.rec = rec
	return nil
}

func (w *blockWriter) Applied() uint64 { return w.rec.index }

// SnapshotData is "my chain is at height N with this tip hash".
func (w *blockWriter) SnapshotData() ([]byte, error) {
	info := w.ledger.Info()
	return encodeSnapshot(info.Height, info.CurrentBlockHash), nil
}

func encodeSnapshot(height uint64, tip []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, height), tip...)
}

func decodeSnapshot(data []byte) (uint64, []byte, error) {
	if len(data) < 8 {
		return 0, nil, fmt.Errorf("snapshot data of %d bytes", len(data))
	}
	return binary.BigEndian.Uint64(data), data[8:], nil
}

// Restore fetches the blocks up to the snapshot's height from the other
// orderers, then records the snapshot's index. It keeps trying until the
// blocks arrive or the channel stops (or, while it starts, startCtx
// ends): an error here stops the channel's consenter.
func (w *blockWriter) Restore(data []byte, index uint64) error {
	height, tip, err := decodeSnapshot(data)
	if err != nil {
		return fmt.Errorf("orderer: channel %s: %w", w.channel, err)
	}
	if start := w.ledger.Height(); start < height {
		w.log.Info("catching up from a consensus snapshot", "channel", w.channel, "from", start, "to", height-1)
		if w.fetcher == nil {
			return fmt.Errorf("orderer: channel %s: behind a snapshot at height %d and no block fetcher", w.channel, height)
		}
		ctx := w.fetchCtx
		if w.startCtx != nil {
			ctx = w.startCtx
		}
		rec := w.rec
		err := w.fetcher.Fetch(ctx, w.channel, start, height-1, func(b *commonpb.Block) error {
			if w.isConfig(b) {
				rec.lastConfig = b.Header.Number
			}
			if err := w.ledger.Append(b, ledger.AppendOptions{Writers: []ledger.BatchWriter{appliedWriter{w.key, appliedRecord{index: w.rec.index, lastConfig: rec.lastConfig}}}}); err != nil {
				return err
			}
			w.rec.lastConfig = rec.lastConfig
			w.onBlock(b)
			return nil
		})
		if err != nil {
			return fmt.Errorf("orderer: channel %s: catch up to height %d: %w", w.channel, height, err)
		}
	}
	if info := w.ledger.Info(); info.Height >= height && len(tip) > 0 && info.Height == height && !bytes.Equal(info.CurrentBlockHash, tip) {
		return fmt.Errorf("orderer: channel %s: after catching up, block %d hash %x differs from the snapshot's %x", w.channel, height-1, info.CurrentBlockHash, tip)
	}
	return w.writeRecord(appliedRecord{index: index, lastConfig: w.rec.lastConfig})
}
