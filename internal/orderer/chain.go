package orderer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/ledger"
	clusterpb "github.com/chorusledger/chorus/proto/chorus/cluster"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"go.etcd.io/raft/v3/raftpb"
)

// ErrDuplicateTxID is returned by Order for an envelope whose transaction
// id was already ordered with different content.
var ErrDuplicateTxID = errors.New("orderer: transaction id already ordered")

// ErrNotOrdered is returned by Order when the envelope was not ordered in
// time (no leader, or leadership kept changing). The client may retry;
// peers mark a transaction ordered twice DUPLICATE_TXID.
var ErrNotOrdered = errors.New("orderer: envelope not ordered in time (no stable leader); retry")

// chainSettings are the parts of the channel configuration the cutting
// loop needs; they change with configuration blocks.
type chainSettings struct {
	sequence uint64
	batch    BatchConfig
}

// submission is an admitted envelope on its way to the leader's cutter.
type submission struct {
	env      []byte
	hash     [32]byte
	txID     string
	isConfig bool
	// from is the consenter through which the envelope arrived: this
	// node's id when it admitted the envelope itself.
	from uint64
	// reject tells the origin the leader could not take the envelope, so
	// it re-routes at once instead of waiting.
	reject func(reason string)
}

// proposedBlock is a block this leader proposed: its data hash, and its
// envelopes with their hashes.
type proposedBlock struct {
	dataHash []byte
	batch    Batch
}

// chain orders one channel on this orderer: it routes admitted envelopes
// to the leader (itself or, through the cluster, another consenter), cuts
// blocks while it leads, proposes them to the consenter, and wakes the
// callers of Order when the block holding their envelope is written here.
type chain struct {
	channel   string
	selfID    uint64
	log       *slog.Logger
	ledger    *ledger.Ledger
	writer    *blockWriter
	consenter chainConsenter
	cluster   *Cluster
	settings  atomic.Pointer[chainSettings]

	submitC chan submission
	kickC   chan struct{} // wakes the cutter: skipped blocks to resubmit
	stopC   chan struct{}
	doneC   chan struct{}

	mu       sync.Mutex
	waiters  map[[32]byte][]chan struct{}
	inflight map[[32]byte]bool // proposed by this leader, not yet applied
	// proposed holds, by block number, the blocks this leader proposed
	// and has not yet seen written, with their envelopes' hashes, which
	// blockWritten then need not compute again.
	proposed   map[uint64]proposedBlock
	resubmit   [][]byte // envelopes of skipped blocks
	forwarded  map[uint64]chan struct{}
	nextReqID  uint64
	resubmitIn time.Duration

	// placement says when this node, leading, hands leadership to the
	// follower through which most envelopes arrive; set before start.
	placement placementPolicy
}

func newChain(channel string, selfID uint64, l *ledger.Ledger, w *blockWriter, cluster *Cluster, settings chainSettings, log *slog.Logger) *chain {
	c := &chain{
		channel: channel, selfID: selfID, log: log, ledger: l, writer: w, cluster: cluster,
		submitC:   make(chan submission, 1024),
		kickC:     make(chan struct{}, 1),
		stopC:     make(chan struct{}),
		doneC:     make(chan struct{}),
		waiters:   map[[32]byte][]chan struct{}{},
		inflight:  map[[32]byte]bool{},
		proposed:  map[uint64]proposedBlock{},
		forwarded: map[uint64]chan struct{}{},
		placement: defaultPlacement,
	}
	c.settings.Store(&settings)
	c.resubmitIn = resubmitInterval(settings.batch)
	w.onBlock = c.blockWritten
	w.onSkip = c.blockSkipped
	return c
}

// resubmitInterval is how long Order waits before routing an envelope
// again: long enough for a healthy cluster to order it (a batch timeout
// and a few round trips), short enough to ride through a leader change.
func resubmitInterval(b BatchConfig) time.Duration {
	d := 4*b.Timeout + 2*time.Second
	return d
}

// chainConsenter is what a chain needs of its consenter: a Consenter that
// also reports leadership changes, takes the messages of the other
// consenters, and hands leadership over. *raft.Chain is one.
type chainConsenter interface {
	Consenter
	// Watch returns a channel that receives the status after every
	// leadership change, and a function to stop watching.
	Watch() (<-chan raft.Status, func())
	// Step delivers a consensus message from another consenter.
	Step(m raftpb.Message)
	// TransferLeadership asks the consenter, if it leads, to hand
	// leadership to consenter id.
	TransferLeadership(id uint64)
}

var _ chainConsenter = (*raft.Chain)(nil)

func (c *chain) start(consenter chainConsenter) {
	c.consenter = consenter
	consenter.Start()
	go c.cutLoop()
}

func (c *chain) stop() {
	// A catch-up in progress holds the consenter's goroutine, which the
	// cut loop may be waiting on to propose.
	c.writer.stopFetching()
	close(c.stopC)
	<-c.doneC
	c.consenter.Stop()
}

// Order routes an admitted envelope to the leader and returns once the
// block holding it is durable on this orderer, or ErrNotOrdered at ctx's
// deadline. It re-routes when the leader rejects it or nothing happens for
// a while, so a leader change costs a delay, not the envelope.
func (c *chain) Order(ctx context.Context, env []byte, txID string, isConfig bool) error {
	h := sha256.Sum256(env)
	done := make(chan struct{})
	c.mu.Lock()
	c.waiters[h] = append(c.waiters[h], done)
	c.mu.Unlock()
	defer c.forget(h, done)

	retry := make(chan struct{}, 1)
	signal := func(string) {
		select {
		case retry <- struct{}{}:
		default:
		}
	}
	for {
		// Ordering is idempotent: an envelope already in the ledger (a
		// client's retry, or a re-forward that raced a leader change) is
		// acknowledged without being ordered again.
		if ordered, err := c.ordered(txID, h); ordered || err != nil {
			return err
		}
		if err := c.route(env, h, txID, isConfig, signal, retry); err != nil {
			return err
		}
		wait := time.NewTimer(c.resubmitIn)
		select {
		case <-done:
			wait.Stop()
			return nil
		case <-ctx.Done():
			wait.Stop()
			return fmt.Errorf("%w: %v", ErrNotOrdered, ctx.Err())
		case <-c.doneC:
			wait.Stop()
			return fmt.Errorf("orderer: channel %s is stopping", c.channel)
		case <-retry:
			wait.Stop()
			// Give an election a moment before trying again.
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("%w: %v", ErrNotOrdered, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		case <-wait.C:
		}
	}
}

// ordered reports whether the transaction is already in this orderer's
// ledger: true with a nil error when it is this very envelope, an
// ErrDuplicateTxID error when another envelope took the id.
func (c *chain) ordered(txID string, h [32]byte) (bool, error) {
	if txID == "" {
		return false, nil
	}
	rec, err := c.ledger.TxByID(txID)
	if err != nil {
		return false, nil
	}
	b, err := c.ledger.Block(rec.BlockNumber)
	if err != nil || int(rec.TxNumber) >= len(b.Data.Data) {
		return false, nil
	}
	if sha256.Sum256(b.Data.Data[rec.TxNumber]) == h {
		return true, nil
	}
	return false, fmt.Errorf("%w: %s is in block %d with other content", ErrDuplicateTxID, txID, rec.BlockNumber)
}

// route hands the envelope to the leader's cutter: locally when this node
// may cut, otherwise forwarded over the cluster.
func (c *chain) route(env []byte, h [32]byte, txID string, isConfig bool, reject func(string), retry chan struct{}) error {
	leader, mayCut := c.consenter.Leader()
	switch {
	case mayCut:
		select {
		case c.submitC <- submission{env: env, hash: h, txID: txID, isConfig: isConfig, from: c.selfID, reject: reject}:
		case <-c.doneC:
		}
	case leader == 0 || leader == c.selfID:
		// No usable leader yet: wait for the next attempt.
		reject("no leader")
	default:
		c.mu.Lock()
		c.nextReqID++
		id := c.nextReqID
		c.forwarded[id] = retry
		c.mu.Unlock()
		// The envelope travels as the bytes this node would order, with
		// what admitting it read; the link batches it with others queued
		// for the leader (or sends it as a message to an older orderer).
		req := &clusterpb.StepRequest{Payload: &clusterpb.StepRequest_Submit{Submit: &clusterpb.SubmitRequest{
			Channel: c.channel, ConfigSequence: c.settings.Load().sequence, RequestId: id,
			EnvelopeBytes: env, TxId: txID, IsConfig: isConfig,
		}}}
		if err := c.cluster.Send(c.channel, leader, req, nil); err != nil {
			reject(err.Error())
		}
	}
	return nil
}

func (c *chain) forget(h [32]byte, done chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.waiters[h]
	for i, w := range ws {
		if w == done {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(c.waiters, h)
	} else {
		c.waiters[h] = ws
	}
}

// blockWritten runs on the consenter's goroutine for every block written:
// it wakes the envelopes' waiters.
func (c *chain) blockWritten(b *commonpb.Block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hashes := c.takeProposed(b)
	if len(c.inflight) == 0 && len(c.waiters) == 0 {
		return // nothing in flight or waited for (a follower nobody sends to, an idle leader)
	}
	for i, env := range b.Data.Data {
		var h [32]byte
		if hashes != nil {
			h = hashes[i]
		} else {
			h = sha256.Sum256(env)
		}
		delete(c.inflight, h)
		for _, w := range c.waiters[h] {
			close(w)
		}
		delete(c.waiters, h)
	}
}

// takeProposed forgets the blocks this leader proposed up to b's number
// and returns the envelopes' hashes of b if this leader proposed it: the
// written block has the proposal's data hash, which SignBlock checked
// against its data, and envelopes of the same sizes. The data hash covers
// the envelopes' bytes end to end, so the sizes are what tell where each
// begins. It returns nil for a block another leader cut. c.mu must be
// held.
func (c *chain) takeProposed(b *commonpb.Block) [][32]byte {
	if len(c.proposed) == 0 {
		return nil
	}
	number := b.GetHeader().GetNumber()
	p, ok := c.proposed[number]
	for n := range c.proposed {
		if n <= number {
			delete(c.proposed, n)
		}
	}
	data := b.GetData().GetData()
	if !ok || p.batch.Len() != len(data) || !bytes.Equal(p.dataHash, b.GetHeader().GetDataHash()) {
		return nil
	}
	for i, env := range data {
		if len(env) != len(p.batch.Envelopes[i]) {
			return nil
		}
	}
	return p.batch.Hashes
}

// blockSkipped runs on the consenter's goroutine for an entry that no
// longer extended the chain: its envelopes go back to the cutter.
func (c *chain) blockSkipped(b *commonpb.Block) {
	c.mu.Lock()
	for _, env := range b.Data.Data {
		h := sha256.Sum256(env)
		if c.inflight[h] {
			delete(c.inflight, h)
			c.resubmit = append(c.resubmit, env)
		}
	}
	c.mu.Unlock()
	select {
	case c.kickC <- struct{}{}:
	default:
	}
}

// cutLoop cuts blocks while this node may cut, and proposes them.
func (c *chain) cutLoop() {
	defer close(c.doneC)
	leaderC, unwatch := c.consenter.Watch()
	defer unwatch()
	cutter := NewCutter(c.settings.Load().batch)
	var timer *time.Timer
	var timerC <-chan time.Time
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
		}
		timer, timerC = nil, nil
	}
	// The chain position the next cut block extends: the ledger tip plus
	// the blocks this leader proposed that are not yet applied.
	var next uint64
	var prev []byte
	positioned := false
	// The origins of the pending envelopes that asked to hear of a
	// rejection.
	var pendingRejects []func(string)
	// ledTerm is the Raft term in which this node last became ready to
	// lead.
	var ledTerm uint64
	place := newPlacement(c.placement, c.selfID, time.Now())
	var placeC <-chan time.Time
	if c.placement.Windows > 0 {
		// A window ends at the first tick after it has lasted Window.
		placeTicker := time.NewTicker(c.placement.Window / 10)
		defer placeTicker.Stop()
		placeC = placeTicker.C
	}

	dropPending := func(reason string) {
		cutter.Cut()
		stopTimer()
		for _, r := range pendingRejects {
			r(reason)
		}
		pendingRejects = nil
		positioned = false
		c.mu.Lock()
		c.inflight = map[[32]byte]bool{}
		clear(c.proposed)
		c.mu.Unlock()
	}
	// propose proposes a cut batch; if consensus refuses it (leadership
	// lost or being handed over), rejects tells the origins of its
	// envelopes, which re-route them at once.
	propose := func(batch Batch, rejects []func(string)) {
		if !positioned {
			info := c.ledger.Info()
			next, prev, positioned = info.Height, info.CurrentBlockHash, true
		}
		blk := ledger.NewBlock(next, prev, batch.Envelopes)
		// Marked in flight before consensus sees the block, which may be
		// written before Propose returns.
		c.mu.Lock()
		for _, h := range batch.Hashes {
			c.inflight[h] = true
		}
		c.proposed[next] = proposedBlock{dataHash: blk.Header.DataHash, batch: batch}
		c.mu.Unlock()
		data, err := encodeEntry(blk)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = c.consenter.Propose(ctx, data)
			cancel()
		}
		if err != nil {
			c.mu.Lock()
			for _, h := range batch.Hashes {
				delete(c.inflight, h)
			}
			delete(c.proposed, next)
			c.mu.Unlock()
			c.log.Info("block proposal refused; envelopes will be re-routed", "block", next, "err", err)
			positioned = false
			for _, r := range rejects {
				r("block proposal refused: " + err.Error())
			}
			return
		}
		next, prev = next+1, ledger.HeaderHash(blk.Header)
	}
	add := func(s submission) {
		c.mu.Lock()
		dup := c.inflight[s.hash]
		c.mu.Unlock()
		if dup {
			return // already on its way; its waiters will be woken
		}
		if _, err := c.ledger.TxByID(s.txID); s.txID != "" && err == nil {
			// Already ordered: the origin finds it in its own ledger.
			if s.reject != nil {
				s.reject("already ordered")
			}
			return
		}
		if s.from != 0 {
			// Only envelopes new to the cutter: an origin re-sending one
			// it has not seen ordered yet must not count again.
			place.record(s.from)
		}
		batches, pending := cutter.Add(s.env, s.hash, s.isConfig)
		// When Add cuts, the envelopes pending before are the first
		// batch, and s is in the last one unless it is now pending.
		rejects := make([][]func(string), len(batches))
		if len(batches) > 0 {
			rejects[0], pendingRejects = pendingRejects, nil
		}
		if s.reject != nil {
			if pending {
				pendingRejects = append(pendingRejects, s.reject)
			} else {
				last := len(batches) - 1
				rejects[last] = append(rejects[last], s.reject)
			}
		}
		for i, b := range batches {
			propose(b, rejects[i])
		}
		if pending && timerC == nil {
			timer = time.NewTimer(c.settings.Load().batch.Timeout)
			timerC = timer.C
		}
		if !pending {
			stopTimer()
		}
	}
	for {
		select {
		case <-c.stopC:
			dropPending("orderer stopping")
			return
		case st := <-leaderC:
			switch {
			case !st.LeaderReady:
				dropPending("leadership changed")
			case st.Term != ledTerm:
				// Leading in a new term. The watcher keeps only the latest
				// status, so the loss of leadership in between may never
				// have reached this loop: what this node proposed in its
				// last term may have been discarded, and would otherwise
				// stay in flight, its envelopes refused as duplicates.
				dropPending("leadership changed")
				fallthrough
			default:
				ledTerm = st.Term
				positioned = false
				cutter.SetConfig(c.settings.Load().batch)
			}
			place.reset(time.Now())
		case s := <-c.submitC:
			if _, mayCut := c.consenter.Leader(); !mayCut {
				if s.reject != nil {
					s.reject("not the leader")
				}
				continue
			}
			add(s)
		case <-timerC:
			timer, timerC = nil, nil
			if b := cutter.Cut(); b.Len() > 0 {
				rejects := pendingRejects
				pendingRejects = nil
				propose(b, rejects)
			}
		case now := <-placeC:
			if _, mayCut := c.consenter.Leader(); !mayCut {
				continue
			}
			if to := place.check(now); to != 0 {
				p := c.placement
				c.log.Info("handing Raft leadership to the consenter through which most envelopes arrive",
					"to", to, "share_percent_at_least", p.SharePercent, "windows", p.Windows, "window", p.Window)
				c.consenter.TransferLeadership(to)
			}
		case <-c.kickC:
			c.mu.Lock()
			envs := c.resubmit
			c.resubmit = nil
			c.mu.Unlock()
			positioned = false
			if _, mayCut := c.consenter.Leader(); !mayCut {
				continue // their origins will re-route them
			}
			for _, env := range envs {
				e := &commonpb.Envelope{}
				_ = unmarshalEnvelope(env, e)
				add(submission{env: env, hash: sha256.Sum256(env), txID: txIDOf(e)})
			}
		}
	}
}

// OnConsensus is a raft message from another consenter.
func (c *chain) OnConsensus(from uint64, payload []byte) {
	var m raftpb.Message
	if err := m.Unmarshal(payload); err != nil {
		c.log.Warn("undecodable consensus message", "from", from, "err", err)
		return
	}
	if m.From != from {
		c.log.Warn("consensus message claims another sender", "from", from, "claims", m.From)
		return
	}
	c.consenter.Step(m)
}

// OnSubmit is an envelope a follower forwarded to this node as leader.
// Followers admitted it under the config sequence they name; one admitted
// under an older configuration is re-routed for re-admission.
func (c *chain) OnSubmit(from uint64, req *clusterpb.SubmitRequest, reply func(*clusterpb.SubmitResponse)) {
	rejectWith := func(reason string) {
		reply(&clusterpb.SubmitResponse{Channel: c.channel, RequestId: req.RequestId, Status: commonpb.Status_SERVICE_UNAVAILABLE, Info: reason})
	}
	if req.ConfigSequence != c.settings.Load().sequence {
		rejectWith(fmt.Sprintf("admitted under config sequence %d, channel is at %d", req.ConfigSequence, c.settings.Load().sequence))
		return
	}
	var s submission
	if req.EnvelopeBytes != nil {
		// A consenter's link sends it so: the bytes it would order and
		// what it read admitting them. Consenters are trusted with
		// admission; a leader does not check envelopes again.
		s = submission{env: req.EnvelopeBytes, txID: req.TxId, isConfig: req.IsConfig}
	} else {
		env, err := marshalEnvelope(req.Envelope)
		if err != nil {
			reply(&clusterpb.SubmitResponse{Channel: c.channel, RequestId: req.RequestId, Status: commonpb.Status_BAD_REQUEST, Info: err.Error()})
			return
		}
		s.env = env
		// One parse gives both the id and the type; the admitting orderer
		// parsed it already, so the slower path is for a malformed one.
		if e, err := envelope.ParseEnvelopeMessage(req.Envelope); err == nil {
			s.txID, s.isConfig = e.TxID(), e.Type() == commonpb.HeaderType_CONFIG
		} else {
			s.isConfig = isConfigEnvelope(env)
		}
	}
	s.hash, s.from, s.reject = sha256.Sum256(s.env), from, rejectWith
	select {
	case c.submitC <- s:
	default:
		rejectWith("leader overloaded")
	}
}

// OnSubmitResponse is the leader's rejection of an envelope this node
// forwarded: the waiting Order call re-routes at once.
func (c *chain) OnSubmitResponse(from uint64, res *clusterpb.SubmitResponse) {
	c.mu.Lock()
	retry, ok := c.forwarded[res.RequestId]
	delete(c.forwarded, res.RequestId)
	c.mu.Unlock()
	if ok {
		select {
		case retry <- struct{}{}:
		default:
		}
	}
}

// raftTransport carries the consenter's messages over the cluster.
type raftTransport struct {
	channel string
	cluster *Cluster
	chain   func() *raft.Chain
}

func (t *raftTransport) Send(msgs []raftpb.Message) {
	for i := range msgs {
		m := msgs[i]
		data, err := m.Marshal()
		if err != nil {
			continue
		}
		to, snap := m.To, m.Type == raftpb.MsgSnap
		req := &clusterpb.StepRequest{Payload: &clusterpb.StepRequest_Consensus{Consensus: &clusterpb.ConsensusRequest{Channel: t.channel, Payload: data}}}
		_ = t.cluster.Send(t.channel, to, req, func(delivered bool) {
			ch := t.chain()
			if !delivered {
				ch.ReportUnreachable(to)
			}
			if snap {
				ch.ReportSnapshot(to, delivered)
			}
		})
	}
}
