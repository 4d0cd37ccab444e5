package raft

import (
	"errors"
	"fmt"
)

// ErrNoLeader means no leader is known: an election is under way or no
// quorum is reachable. Retry later.
var ErrNoLeader = errors.New("raft: no leader is known (election in progress or no quorum reachable); retry")

// ErrProposalDropped means raft dropped the proposal, typically because
// leadership changed while it was being made. Retry.
var ErrProposalDropped = errors.New("raft: proposal dropped (leadership changing); retry")

// ErrNotReady means this node leads but has not yet applied everything
// ordered before its term, so it may not propose yet. Retry shortly.
var ErrNotReady = errors.New("raft: leader is still applying entries of earlier terms; retry")

// ErrStopped is returned by a Chain after Stop or a fatal error.
var ErrStopped = errors.New("raft: consenter stopped")

// NotLeaderError is returned by Propose on a follower. Leader names the
// consenter id to forward to.
type NotLeaderError struct {
	Leader uint64
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("raft: this node is not the leader; consenter %d is", e.Leader)
}

// IsRetryable reports whether err is a transient ordering failure that a
// client should retry (possibly on the leader).
func IsRetryable(err error) bool {
	var nl *NotLeaderError
	return errors.Is(err, ErrNoLeader) || errors.Is(err, ErrProposalDropped) ||
		errors.Is(err, ErrNotReady) || errors.As(err, &nl)
}
