package simnet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/kv"
)

// block is one ordered entry of the simulated chain.
type block struct {
	Number   uint64
	Prev     [32]byte
	Batch    uint64 // the client batch it carries
	Proposer uint64 // the consenter that cut it
	Padding  []byte // makes entries large enough to trigger snapshots
}

func (b *block) encode() []byte {
	out := make([]byte, 8+32+8+8, 56+len(b.Padding))
	binary.BigEndian.PutUint64(out[0:], b.Number)
	copy(out[8:], b.Prev[:])
	binary.BigEndian.PutUint64(out[40:], b.Batch)
	binary.BigEndian.PutUint64(out[48:], b.Proposer)
	return append(out, b.Padding...)
}

func decodeBlock(data []byte) (*block, error) {
	if len(data) < 56 {
		return nil, fmt.Errorf("simnet: block of %d bytes", len(data))
	}
	b := &block{
		Number:   binary.BigEndian.Uint64(data[0:]),
		Batch:    binary.BigEndian.Uint64(data[40:]),
		Proposer: binary.BigEndian.Uint64(data[48:]),
		Padding:  bytes.Clone(data[56:]),
	}
	copy(b.Prev[:], data[8:40])
	return b, nil
}

func (b *block) hash() [32]byte { return sha256.Sum256(b.encode()) }

// chain is a node's replicated state machine: its blocks, persisted in the
// node's kv database with the raft index that produced the tip, in one
// synced batch per entry.
type chain struct {
	id      uint64
	db      *kv.DB
	sim     *Sim
	applied uint64
	blocks  []*block // in memory for the checker; mirrors kv
	tip     [32]byte

	// The block cutter's state while this node leads.
	cutNext uint64
	cutPrev [32]byte
	cutting bool
}

var (
	chainApplied = []byte("xa")
	chainBlock   = []byte("xb")
)

func blockKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(chainBlock), n)
}

// loadChain reads a node's chain back from its database after a restart.
func loadChain(id uint64, db *kv.DB, sim *Sim) (*chain, error) {
	c := &chain{id: id, db: db, sim: sim}
	if v, err := db.Get(chainApplied); err == nil {
		c.applied = binary.BigEndian.Uint64(v)
	} else if !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	it, err := db.NewIter(chainBlock, kv.PrefixEnd(chainBlock))
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		b, err := decodeBlock(it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		c.blocks = append(c.blocks, b)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	for i, b := range c.blocks {
		if b.Number != uint64(i) {
			return nil, fmt.Errorf("simnet: node %d stored block %d at position %d", id, b.Number, i)
		}
	}
	if n := len(c.blocks); n > 0 {
		c.tip = c.blocks[n-1].hash()
	}
	return c, nil
}

func (c *chain) height() uint64 { return uint64(len(c.blocks)) }

// Apply appends the entry's block if it extends the tip, and records the
// raft index either way, in one synced batch.
func (c *chain) Apply(e raft.Entry) error {
	b, err := decodeBlock(e.Data)
	if err != nil {
		return err
	}
	extends := b.Number == c.height() && b.Prev == c.tip
	batch := c.db.NewBatch()
	defer batch.Close()
	if extends {
		batch.Set(blockKey(b.Number), e.Data)
	}
	batch.Set(chainApplied, binary.BigEndian.AppendUint64(nil, e.Index))
	if err := batch.Commit(true); err != nil {
		return err
	}
	c.applied = e.Index
	if !extends {
		c.sim.stats.SkippedBlocks++
		return nil
	}
	c.blocks = append(c.blocks, b)
	c.tip = b.hash()
	if b.Proposer == c.id {
		c.sim.acknowledge(b.Batch, c.id)
	}
	return nil
}

func (c *chain) Applied() uint64 { return c.applied }

// SnapshotData is "my chain is at height N with this tip".
func (c *chain) SnapshotData() ([]byte, error) {
	out := binary.BigEndian.AppendUint64(nil, c.height())
	return append(out, c.tip[:]...), nil
}

// Restore fetches the blocks the node lacks from another node, as an
// orderer fetches them through Deliver, then records the snapshot's index.
func (c *chain) Restore(data []byte, index uint64) error {
	if len(data) != 40 {
		return fmt.Errorf("simnet: snapshot data of %d bytes", len(data))
	}
	target := binary.BigEndian.Uint64(data)
	if start := c.height(); start < target {
		src := c.sim.fetchSource(c.id, target)
		if src == nil {
			return fmt.Errorf("simnet: node %d: no reachable node has %d blocks", c.id, target)
		}
		for n := c.height(); n < target; n++ {
			b := src.blocks[n]
			if b.Number != n || b.Prev != c.tip {
				return fmt.Errorf("simnet: node %d: fetched block %d does not extend its chain", c.id, n)
			}
			batch := c.db.NewBatch()
			batch.Set(blockKey(n), b.encode())
			err := batch.Commit(true)
			batch.Close()
			if err != nil {
				return err
			}
			c.blocks = append(c.blocks, b)
			c.tip = b.hash()
		}
		c.sim.stats.BlocksFetched += int(target - start)
	}
	batch := c.db.NewBatch()
	defer batch.Close()
	batch.Set(chainApplied, binary.BigEndian.AppendUint64(nil, index))
	if err := batch.Commit(true); err != nil {
		return err
	}
	if index > c.applied && index > 1 { // index 1 is the bootstrap snapshot every node starts from
		c.sim.stats.SnapshotRestores++
	}
	c.applied = index
	return nil
}

// cut builds the next block for batch while this node leads.
func (c *chain) cut(batch uint64, padding int) *block {
	if !c.cutting {
		c.cutNext, c.cutPrev, c.cutting = c.height(), c.tip, true
	}
	b := &block{Number: c.cutNext, Prev: c.cutPrev, Batch: batch, Proposer: c.id, Padding: make([]byte, padding)}
	return b
}

// proposed advances the cutter past a block raft accepted.
func (c *chain) proposed(b *block) {
	c.cutNext, c.cutPrev = b.Number+1, b.hash()
}

// resetCutter forgets in-flight blocks; called whenever leadership changes.
func (c *chain) resetCutter() { c.cutting = false }
