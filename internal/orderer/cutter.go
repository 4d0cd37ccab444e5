package orderer

import "time"

// BatchConfig is how the leader cuts blocks (chorus.config.v1.BatchConfig).
type BatchConfig struct {
	MaxMessageCount   int
	AbsoluteMaxBytes  int
	PreferredMaxBytes int
	Timeout           time.Duration
}

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
	pending      [][]byte
	pendingBytes int
}

// NewCutter returns an empty cutter.
func NewCutter(cfg BatchConfig) *Cutter { return &Cutter{cfg: cfg} }

// SetConfig changes the cutting rules; the pending batch is kept.
func (c *Cutter) SetConfig(cfg BatchConfig) { c.cfg = cfg }

// Add adds one envelope and returns the batches that are now complete, in
// order, and whether envelopes remain pending (the owner then arms the
// batch timer if it is not running).
func (c *Cutter) Add(env []byte, isConfig bool) (batches [][][]byte, pending bool) {
	if isConfig {
		if p := c.Cut(); p != nil {
			batches = append(batches, p)
		}
		return append(batches, [][]byte{env}), false
	}
	if len(env) > c.cfg.PreferredMaxBytes {
		if p := c.Cut(); p != nil {
			batches = append(batches, p)
		}
		return append(batches, [][]byte{env}), false
	}
	if c.pendingBytes+len(env) > c.cfg.PreferredMaxBytes {
		if p := c.Cut(); p != nil {
			batches = append(batches, p)
		}
	}
	c.pending = append(c.pending, env)
	c.pendingBytes += len(env)
	if len(c.pending) >= c.cfg.MaxMessageCount {
		batches = append(batches, c.Cut())
	}
	return batches, len(c.pending) > 0
}

// Cut returns the pending envelopes as a batch (nil when none) and empties
// the cutter.
func (c *Cutter) Cut() [][]byte {
	if len(c.pending) == 0 {
		return nil
	}
	b := c.pending
	c.pending, c.pendingBytes = nil, 0
	return b
}

// Pending is the number of envelopes waiting to be cut.
func (c *Cutter) Pending() int { return len(c.pending) }
