package orderer

import "context"

// Consenter orders the blocks of one channel. Implementations apply every
// committed entry, in order and exactly once, to the block writer they were
// built with; the orderer learns that a block is ordered from the writer,
// not from Propose.
type Consenter interface {
	// Start begins taking part in consensus.
	Start()
	// Stop leaves consensus and waits until no more entries are applied.
	Stop()
	// Propose submits one cut block for ordering. Only a leader that may
	// cut blocks accepts; elsewhere it returns a retryable error naming the
	// leader when one is known. A nil error means accepted, not committed.
	Propose(ctx context.Context, block []byte) error
	// Leader returns the current leader's consenter id (0 when none is
	// known) and whether this node leads and may cut blocks now.
	Leader() (id uint64, mayCut bool)
	// Done is closed when the consenter stops, after Stop or on a fatal
	// error.
	Done() <-chan struct{}
}
