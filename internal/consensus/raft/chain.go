package raft

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// Transport carries raft messages to other consenters of the channel.
type Transport interface {
	// Send queues messages for delivery and returns without waiting for
	// the network. When a message cannot be delivered, the transport calls
	// Chain.ReportUnreachable (and, for a MsgSnap, Chain.ReportSnapshot).
	Send(msgs []raftpb.Message)
}

// Chain runs a Node in production: one goroutine owns it, advances it on a
// wall-clock ticker, feeds it proposals and messages, and hands the
// messages of each Ready to the transport.
type Chain struct {
	node         *Node
	transport    Transport
	tickInterval time.Duration
	log          *slog.Logger

	proposeC chan proposal
	stepC    chan raftpb.Message
	reportC  chan func(*Node)
	stopC    chan struct{}
	doneC    chan struct{}

	mu       sync.Mutex
	status   Status
	err      error                    // the fatal error that stopped the chain
	watchers map[chan Status]struct{} // notified on leadership changes
}

type proposal struct {
	data []byte
	errc chan error
}

// NewChain wraps node; Start runs it.
func NewChain(node *Node, transport Transport, tickInterval time.Duration, logger *slog.Logger) *Chain {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Chain{
		node:         node,
		transport:    transport,
		tickInterval: tickInterval,
		log:          logger,
		proposeC:     make(chan proposal),
		stepC:        make(chan raftpb.Message, 1024),
		reportC:      make(chan func(*Node), 64),
		stopC:        make(chan struct{}),
		doneC:        make(chan struct{}),
		status:       node.Status(),
		watchers:     map[chan Status]struct{}{},
	}
}

// Start runs the chain's goroutine.
func (c *Chain) Start() { go c.run() }

// Stop halts the chain and waits for its goroutine to end.
func (c *Chain) Stop() {
	select {
	case <-c.stopC:
	default:
		close(c.stopC)
	}
	<-c.doneC
}

// Done is closed when the chain has stopped; Err tells why.
func (c *Chain) Done() <-chan struct{} { return c.doneC }

// Err returns the fatal error that stopped the chain, if any.
func (c *Chain) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Propose submits data for ordering and returns once raft accepted it (not
// once it is committed: the state machine learns that). Errors are
// retryable (IsRetryable) unless the chain stopped.
func (c *Chain) Propose(ctx context.Context, data []byte) error {
	p := proposal{data: data, errc: make(chan error, 1)}
	select {
	case c.proposeC <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.doneC:
		return ErrStopped
	}
	select {
	case err := <-p.errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.doneC:
		return ErrStopped
	}
}

// Step delivers a message received from another consenter. It drops the
// message if the chain is overloaded: raft recovers from lost messages.
func (c *Chain) Step(m raftpb.Message) {
	select {
	case c.stepC <- m:
	case <-c.doneC:
	default:
		c.log.Warn("raft inbound queue full; dropping message", "type", m.Type.String(), "from", m.From)
	}
}

// ReportUnreachable tells raft that consenter id could not be reached.
func (c *Chain) ReportUnreachable(id uint64) {
	c.report(func(n *Node) { n.ReportUnreachable(id) })
}

// ReportSnapshot tells raft whether a snapshot sent to id arrived.
func (c *Chain) ReportSnapshot(id uint64, ok bool) {
	c.report(func(n *Node) { n.ReportSnapshot(id, ok) })
}

func (c *Chain) report(f func(*Node)) {
	select {
	case c.reportC <- f:
	case <-c.doneC:
	default: // raft tolerates a lost report
	}
}

// Status returns the chain's latest status.
func (c *Chain) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Watch returns a channel that receives the status after every leadership
// change, and a function to stop watching. Slow watchers miss updates but
// always get the latest eventually.
func (c *Chain) Watch() (<-chan Status, func()) {
	ch := make(chan Status, 1)
	c.mu.Lock()
	c.watchers[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.watchers, ch)
		c.mu.Unlock()
	}
}

func (c *Chain) run() {
	defer close(c.doneC)
	ticker := time.NewTicker(c.tickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			c.node.Tick()
		case m := <-c.stepC:
			if err := c.node.Step(m); err != nil {
				c.log.Debug("raft step", "err", err)
			}
		case p := <-c.proposeC:
			p.errc <- c.node.Propose(p.data)
		case f := <-c.reportC:
			f(c.node)
		case <-c.stopC:
			return
		}
		for c.node.HasReady() {
			out, err := c.node.Ready()
			if err != nil {
				select {
				case <-c.stopC:
					// Stopping cut short what Ready was doing (a catch-up
					// the state machine was fetching): not a failure. A
					// restart finishes it.
					c.log.Info("raft consenter stopped during its work", "err", err)
				default:
					c.fail(err)
				}
				return
			}
			if len(out.Messages) > 0 {
				c.transport.Send(out.Messages)
			}
			c.publish(out.LeaderChanged)
		}
	}
}

func (c *Chain) publish(changed bool) {
	st := c.node.Status()
	c.mu.Lock()
	defer c.mu.Unlock()
	readyChanged := st.LeaderReady != c.status.LeaderReady
	c.status = st
	if !changed && !readyChanged {
		return
	}
	for ch := range c.watchers {
		select {
		case <-ch: // drop the stale one
		default:
		}
		ch <- st
	}
}

func (c *Chain) fail(err error) {
	c.log.Error("raft consenter stopped on a fatal error", "err", err)
	c.mu.Lock()
	c.err = fmt.Errorf("raft: consenter %d stopped: %w", c.node.cfg.ID, err)
	c.mu.Unlock()
}

// Leader returns the current leader's id (0 when unknown) and whether this
// node leads and may propose: it satisfies orderer.Consenter.
func (c *Chain) Leader() (id uint64, mayPropose bool) {
	st := c.Status()
	return st.Leader, st.LeaderReady
}

// TransferLeadership asks the node, on its goroutine, to hand leadership
// to consenter id (Node.TransferLeadership, which refuses unless this node
// leads and id is ready). Meanwhile, for at most an election timeout, the
// leader refuses proposals (a retryable error).
func (c *Chain) TransferLeadership(id uint64) {
	c.report(func(n *Node) { n.TransferLeadership(id) })
}
