package orderer

import "time"

// BatchConfig is how the leader cuts blocks (chorus.config.v1.BatchConfig).
type BatchConfig struct {
	MaxMessageCount   int
	AbsoluteMaxBytes  int
	PreferredMaxBytes int
	Timeout           time.Duration
}

// Batch is a block's worth of envelopes, each with the SHA-256 hash its
// submission carried, so that the leader need not hash them again to
// track them in flight and to wake their waiters.
type Batch struct {
	Envelopes [][]byte
	Hashes    [][32]byte
}

// Len is the number of envelopes in the batch.
func (b Batch) Len() int { return len(b.Envelopes) }

// Cutter batches envelopes into blocks the way Fabric's block cutter does:
//
//   - a block never holds more than MaxMessageCount envelopes;
//   - an envelope that would take the pending batch past PreferredMaxBytes
//     cuts the pending batch first;
//   - an envelope larger than PreferredMaxBytes is cut alone;
//   - a configuration envelope is always cut alone;
//   - the owner cuts whatever is pending when BatchConfig.Timeout has
//     passed since the first pending envelope arrived (Cut).
//
// A Cutter is used by one goroutine, the leader's cutting loop.
type Cutter struct {
	cfg          BatchConfig
	pending      Batch
	pendingBytes int
}

// NewCutter returns an empty cutter.
func NewCutter(cfg BatchConfig) *Cutter { return &Cutter{cfg: cfg} }

// SetConfig changes the cutting rules; the pending batch is kept.
func (c *Cutter) SetConfig(cfg BatchConfig) { c.cfg = cfg }

// Add adds one envelope with its hash and returns the batches that are now
// complete, in order, and whether envelopes remain pending (the owner then
// arms the batch timer if it is not running).
func (c *Cutter) Add(env []byte, hash [32]byte, isConfig bool) (batches []Batch, pending bool) {
	alone := isConfig || len(env) > c.cfg.PreferredMaxBytes
	if alone || c.pendingBytes+len(env) > c.cfg.PreferredMaxBytes {
		if p := c.Cut(); p.Len() > 0 {
			batches = append(batches, p)
		}
	}
	if alone {
		return append(batches, Batch{Envelopes: [][]byte{env}, Hashes: [][32]byte{hash}}), false
	}
	c.pending.Envelopes = append(c.pending.Envelopes, env)
	c.pending.Hashes = append(c.pending.Hashes, hash)
	c.pendingBytes += len(env)
	if c.pending.Len() >= c.cfg.MaxMessageCount {
		batches = append(batches, c.Cut())
	}
	return batches, c.pending.Len() > 0
}

// Cut returns the pending envelopes as a batch (empty when none) and
// empties the cutter.
func (c *Cutter) Cut() Batch {
	b := c.pending
	c.pending, c.pendingBytes = Batch{}, 0
	return b
}

// Pending is the number of envelopes waiting to be cut.
func (c *Cutter) Pending() int { return c.pending.Len() }
