package peer

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/node/transport"
	"github.com/chorusledger/chorus/internal/orderer"
	"github.com/chorusledger/chorus/internal/participation"
	"github.com/chorusledger/chorus/internal/worldstate"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	ledgerpb "github.com/chorusledger/chorus/proto/chorus/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// channel is one joined channel: its ledger and state, the goroutine that
// pulls blocks and the one that commits them.
type channel struct {
	id        string
	p         *Peer
	log       *slog.Logger
	ledger    *ledger.Ledger
	state     *worldstate.State
	config    atomic.Pointer[channelconfig.Bundle]
	validator *Validator

	blocks chan checkedBlock // puller → committer
	stopC  chan struct{}
	wg     sync.WaitGroup

	// ordererHeight is the height the ordering service reported when the
	// puller last connected; caught up means the ledger reached it.
	ordererHeight atomic.Uint64
	connected     atomic.Bool

	// failure is set, and failed done, when a block's commit fails: the
	// channel then commits nothing more until the peer restarts, and says
	// why to its readiness check, its admin status, the waits for its
	// blocks (waitForHeight) and new proposals.
	failure    atomic.Pointer[commitFailure]
	failed     context.Context // done once failure is set
	markFailed context.CancelFunc
}

// commitFailure is the commit that stopped a channel.
type commitFailure struct {
	block uint64
	err   error
}

// ErrChannelStopped: a channel's commit failed (a full disk, a storage
// error) and it commits nothing more until the peer restarts.
var ErrChannelStopped = errors.New("channel stopped")

// stopped returns nil while the channel commits, else an error wrapping
// ErrChannelStopped that names the block and the cause.
func (c *channel) stopped() error {
	f := c.failure.Load()
	if f == nil {
		return nil
	}
	return fmt.Errorf("%w: %s: the commit of block %d failed (%v); restart the peer once the cause is fixed", ErrChannelStopped, c.id, f.block, f.err)
}

// waitForHeight waits until the ledger reaches height h, or ctx ends, or
// the channel stops committing (the error is then stopped's).
func (c *channel) waitForHeight(ctx context.Context, h uint64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.failed, cancel)()
	err := c.ledger.WaitForHeight(ctx, h)
	if err != nil {
		if stopped := c.stopped(); stopped != nil {
			return stopped
		}
	}
	return err
}

// lastLookUp answers a commit-status wait on a stopped channel: the
// transaction's record if a block committed before the failure holds it
// (fail runs after the last successful append, so this look-up is final),
// else why the channel stopped.
func (c *channel) lastLookUp(txID string) (*ledgerpb.TxRecord, error) {
	if rec, err := c.ledger.TxByID(txID); err == nil {
		return rec, nil
	}
	return nil, c.stopped()
}

// fail records that the commit of block failed and wakes the waiters.
func (c *channel) fail(block uint64, err error) {
	if c.failure.CompareAndSwap(nil, &commitFailure{block: block, err: err}) {
		c.markFailed()
	}
}

func (c *channel) bundle() *channelconfig.Bundle { return c.config.Load() }

func (p *Peer) startChannel(name string, genesis *commonpb.Block) (err error) {
	l, err := ledger.Open(p.opts.DB, name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	// This Ledger appends every block of the channel: its filter of
	// transaction ids answers the duplicate checks of new transactions.
	if err := l.FilterTxIDs(); err != nil {
		return err
	}
	state, err := worldstate.New(name)
	if err != nil {
		return err
	}
	// This channel commits every block, so its state's filter of keys
	// answers the reads of keys never written (a new asset's existence
	// check, on each endorser and validator) without the database.
	if state, err = state.WithKeyFilter(p.opts.DB); err != nil {
		return err
	}
	// Every endorsement, Gateway endorsement plan and validation reads the
	// contract's definition; definitions change a few times in a
	// channel's life.
	if state, err = state.WithNamespaceCache(p.opts.DB, contract.LifecycleName); err != nil {
		return err
	}
	if genesis != nil && l.Height() == 0 {
		// The genesis block holds only the configuration: one VALID
		// transaction and no state.
		b := cloneBlock(genesis)
		if err := ledger.SetTxFilter(b, []peerpb.TxValidationCode{peerpb.TxValidationCode_VALID}); err != nil {
			return err
		}
		if err := l.Append(b, ledger.AppendOptions{FillCommitHash: true}); err != nil {
			return err
		}
	}
	bundle, err := channelconfig.LedgerBundle(l, channelconfig.BundleOptions{Now: p.opts.Now, SignatureCache: p.opts.SignatureCache})
	if err != nil {
		return err
	}
	if genesis != nil {
		if err := participation.MarkJoined(p.opts.DB, name); err != nil {
			return err
		}
	}
	validator, err := NewValidator(state, ValidatorOptions{
		Workers:      p.opts.ValidationWorkers,
		IsNotDefined: func(err error) bool { return errors.Is(err, contract.ErrNotDefined) },
	})
	if err != nil {
		return err
	}
	c := &channel{
		id: name, p: p, log: p.log.With("channel", name), ledger: l, state: state,
		validator: validator,
		blocks:    make(chan checkedBlock, 8),
		stopC:     make(chan struct{}),
	}
	c.failed, c.markFailed = context.WithCancel(context.Background())
	c.config.Store(bundle)
	p.metrics.height.WithLabelValues(name).Set(float64(l.Height()))
	c.wg.Add(2)
	go c.pull()
	go c.commit()
	p.mu.Lock()
	p.channels[name] = c
	p.mu.Unlock()
	c.log.Info("channel started", "height", l.Height())
	return nil
}

func cloneBlock(b *commonpb.Block) *commonpb.Block {
	md := make([][]byte, 5)
	copy(md, b.GetMetadata().GetMetadata())
	return &commonpb.Block{Header: b.Header, Data: b.Data, Metadata: &commonpb.BlockMetadata{Metadata: md}}
}

func (c *channel) stop() {
	close(c.stopC)
	c.wg.Wait()
	c.ledger.Close()
}

func (c *channel) info() *adminpb.ChannelInfo {
	status := "active"
	if c.stopped() != nil {
		status = "stopped"
	} else if err := c.caughtUp(); err != nil {
		status = "catching-up"
	}
	return &adminpb.ChannelInfo{Channel: c.id, Height: c.ledger.Height(), Status: status}
}

func (c *channel) caughtUp() error {
	if err := c.stopped(); err != nil {
		return err
	}
	if !c.connected.Load() {
		return errors.New("not connected to any orderer")
	}
	if h, target := c.ledger.Height(), c.ordererHeight.Load(); h < target {
		return fmt.Errorf("catching up: height %d of %d", h, target)
	}
	return nil
}

// pull streams blocks from the ordering service into c.blocks, from the
// next block the committer needs, failing over across orderers.
func (c *channel) pull() {
	defer c.wg.Done()
	defer close(c.blocks)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stopC
		cancel()
	}()
	next := c.ledger.Height()
	var prevHash []byte
	if info := c.ledger.Info(); info.Height > 0 {
		prevHash = info.CurrentBlockHash
	}
	var picker ordererPicker
	for ctx.Err() == nil {
		eps := c.bundle().OrdererEndpoints()
		if len(eps) == 0 {
			c.log.Error("the channel names no orderer endpoint")
			sleepCtx(ctx, 5*time.Second)
			continue
		}
		addrs := make([]string, len(eps))
		for i, ep := range eps {
			addrs[i] = ep.Address()
		}
		ep := picker.next(addrs)
		from := next
		answered, err := c.pullFrom(ctx, ep, &next, &prevHash)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		picker.ended(ep, answered, next > from, err)
		c.log.Warn("block stream ended; trying another orderer", "orderer", ep, "next", next, "err", err)
		sleepCtx(ctx, picker.pause())
	}
}

// ordererPicker chooses the orderer a peer's channel pulls blocks from
// next: the one the stall watcher last found ahead, if it names one; else
// the next in turn that is not suspect, unless a full round of streams
// delivered nothing; else simply the next in turn. An orderer is suspect
// from a stream of it that stalled, or that failed before the orderer
// answered the peer's height request, until a stream of it delivers a
// block: a hung orderer keeps its connections open, so each return to it
// costs the bound of the height request (10 s). A stream that answered
// and later ended without a block, say when its orderer restarted on an
// idle channel, changes nothing.
type ordererPicker struct {
	turn    int
	idle    int    // streams in a row that delivered no block
	ahead   string // named by the last stream's stall, if any
	suspect map[string]bool
}

func (p *ordererPicker) next(addrs []string) string {
	for addr := range p.suspect {
		if !slices.Contains(addrs, addr) {
			delete(p.suspect, addr) // no longer in the channel's configuration
		}
	}
	if ahead := p.ahead; ahead != "" {
		p.ahead = ""
		if slices.Contains(addrs, ahead) {
			return ahead
		}
	}
	start := p.turn
	p.turn++
	// After a full round of streams that delivered nothing, the trusted
	// orderers are no better than the suspect ones: simply in turn.
	if p.idle < len(addrs) {
		for i := range addrs {
			if addr := addrs[(start+i)%len(addrs)]; !p.suspect[addr] {
				return addr
			}
		}
	}
	return addrs[start%len(addrs)]
}

// ended records that addr's stream ended with err, its orderer having
// answered the height request or not, and having delivered blocks or
// not.
func (p *ordererPicker) ended(addr string, answered, delivered bool, err error) {
	if p.suspect == nil {
		p.suspect = map[string]bool{}
	}
	var stall *streamStalledError
	stalled := errors.As(err, &stall)
	if stalled {
		p.ahead = stall.ahead
	}
	switch {
	case stalled || !answered:
		p.suspect[addr] = true
	case delivered:
		delete(p.suspect, addr)
	}
	if delivered {
		p.idle = 0
	} else {
		p.idle++
	}
}

// pause is the wait before the next stream: 100 ms, and 100 ms more for
// each stream in a row that delivered no block, up to 1 s, so that
// orderers which answer but refuse the stream (the peer not allowed to
// read the channel, say) are not asked ten times a second.
func (p *ordererPicker) pause() time.Duration {
	return time.Duration(min(p.idle+1, 10)) * 100 * time.Millisecond
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ordererCreds trusts the TLS CAs of the organizations running the
// channel's orderers, as its configuration names them.
func (c *channel) ordererCreds() credentials.TransportCredentials {
	pool := x509.NewCertPool()
	b := c.bundle()
	for _, ep := range b.OrdererEndpoints() {
		if org, ok := b.Organization(ep.MSPID); ok {
			for _, cert := range org.TLSRootCerts() {
				if parsed, err := identity.ParseCertificatePEM(cert); err == nil {
					pool.AddCert(parsed)
				}
			}
			for _, cert := range org.TLSIntermediateCerts() {
				if parsed, err := identity.ParseCertificatePEM(cert); err == nil {
					pool.AddCert(parsed)
				}
			}
		}
	}
	return credentials.NewTLS(transport.ClientTLS(pool, nil))
}

// defaultStallAfter is how often a block stream that delivers nothing has
// the peer ask the other orderers whether blocks exist that it has not
// delivered (Options.stallAfter); when they do at two checks in a row,
// the stream's orderer is taken for hung or cut off and the peer pulls
// from the one found ahead. A hung orderer's connection stays up, so
// nothing else would end the stream until gRPC's keepalive gave up on it
// (80 s).
const defaultStallAfter = 5 * time.Second

// streamStalledError ends a block stream that delivered nothing while
// another orderer had more blocks.
type streamStalledError struct {
	endpoint, ahead string
	stalledFor      time.Duration
	delivered       uint64 // the height the stream had reached
	aheadHeight     uint64
}

func (e *streamStalledError) Error() string {
	return fmt.Sprintf("%s delivered nothing for at least %s while %s has %d blocks, this stream %d",
		e.endpoint, e.stalledFor, e.ahead, e.aheadHeight, e.delivered)
}

func (c *channel) dialOrderer(endpoint string) (*grpc.ClientConn, error) {
	return grpc.NewClient(endpoint, append([]grpc.DialOption{grpc.WithTransportCredentials(c.ordererCreds())}, c.p.opts.DialOptions...)...)
}

// pullFrom streams blocks from the orderer at endpoint into c.blocks
// from *next on, moving *next and *prevHash along, until the stream ends;
// answered says whether the orderer answered the request for its height
// that comes first.
func (c *channel) pullFrom(ctx context.Context, endpoint string, next *uint64, prevHash *[]byte) (answered bool, err error) {
	conn, err := c.dialOrderer(endpoint)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	client := ordererpb.NewAtomicBroadcastClient(conn)
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Learn the ordering service's height first, to know when this peer
	// has caught up.
	if h, err := c.ordererTip(sctx, client); err == nil {
		c.ordererHeight.Store(h)
	} else {
		return false, fmt.Errorf("asking %s for its height: %w", endpoint, err)
	}
	stream, err := client.Deliver(sctx)
	if err != nil {
		return true, err
	}
	req, err := orderer.SeekEnvelope(c.p.opts.Signer, c.id, *next, math.MaxUint64)
	if err != nil {
		return true, err
	}
	if err := stream.Send(req); err != nil {
		return true, err
	}
	c.connected.Store(true)
	var progress streamProgress
	progress.delivered.Store(*next)
	go c.watchStall(sctx, cancel, endpoint, &progress)
	for {
		res, err := stream.Recv()
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
				return true, cause
			}
			return true, err
		}
		switch t := res.Type.(type) {
		case *ordererpb.DeliverResponse_Status:
			return true, fmt.Errorf("orderer ended the stream with %v", t.Status)
		case *ordererpb.DeliverResponse_Block:
			b := t.Block
			checked, err := c.checkBlock(b, *next, *prevHash)
			if err != nil {
				c.p.metrics.refused.WithLabelValues(c.id).Inc()
				c.log.Error("refusing a block from the orderer", "orderer", endpoint, "block", b.GetHeader().GetNumber(), "err", err)
				return true, err
			}
			if h := b.Header.Number + 1; h > c.ordererHeight.Load() {
				c.ordererHeight.Store(h)
			}
			progress.delivered.Store(b.Header.Number + 1)
			progress.handing.Store(true) // while the committer is busy the stream is not read
			select {
			case c.blocks <- checked:
			case <-ctx.Done():
				return true, ctx.Err()
			}
			progress.handing.Store(false)
			*next, *prevHash = b.Header.Number+1, ledger.HeaderHash(b.Header)
		}
	}
}

// streamProgress is how far a block stream has come, for its stall
// watcher.
type streamProgress struct {
	delivered atomic.Uint64 // the height the stream has reached
	handing   atomic.Bool   // a block waits for the committer, which is busy
}

// watchStall ends a block stream from endpoint, through cancel, when it
// has delivered nothing for two checks stallAfter apart while, at both,
// another orderer of the channel had more blocks than it delivered. A
// stream waiting for the committer to take its block is not stalled,
// however slow the commit.
func (c *channel) watchStall(ctx context.Context, cancel context.CancelCauseFunc, endpoint string, progress *streamProgress) {
	conns := map[string]*grpc.ClientConn{}
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	stallAfter := c.p.opts.stallAfter
	ticker := time.NewTicker(stallAfter)
	defer ticker.Stop()
	last, behind := progress.delivered.Load(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if h := progress.delivered.Load(); h != last || progress.handing.Load() {
			last, behind = h, 0
			continue
		}
		highest, other := c.heightElsewhere(ctx, endpoint, conns, stallAfter/2)
		if h := progress.delivered.Load(); highest <= h {
			last, behind = h, 0
			continue
		}
		if behind++; behind >= 2 {
			cancel(&streamStalledError{endpoint: endpoint, ahead: other, stalledFor: 2 * stallAfter, delivered: last, aheadHeight: highest})
			return
		}
	}
}

// heightElsewhere asks the channel's other orderers for their heights and
// returns the highest, and which orderer has it; those that do not answer
// within wait are left out.
func (c *channel) heightElsewhere(ctx context.Context, endpoint string, conns map[string]*grpc.ClientConn, wait time.Duration) (uint64, string) {
	var highest uint64
	var which string
	for _, ep := range c.bundle().OrdererEndpoints() {
		other := ep.Address()
		if other == endpoint {
			continue
		}
		conn, ok := conns[other]
		if !ok {
			var err error
			if conn, err = c.dialOrderer(other); err != nil {
				continue
			}
			conns[other] = conn
		}
		tctx, done := context.WithTimeout(ctx, wait)
		h, err := c.ordererTip(tctx, ordererpb.NewAtomicBroadcastClient(conn))
		done()
		if err == nil && h > highest {
			highest, which = h, other
		}
	}
	return highest, which
}

// ordererTip asks for the newest block's number.
func (c *channel) ordererTip(ctx context.Context, client ordererpb.AtomicBroadcastClient) (uint64, error) {
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := client.Deliver(tctx)
	if err != nil {
		return 0, err
	}
	req, err := orderer.SeekNewestEnvelope(c.p.opts.Signer, c.id)
	if err != nil {
		return 0, err
	}
	if err := stream.Send(req); err != nil {
		return 0, err
	}
	res, err := stream.Recv()
	if err != nil {
		return 0, err
	}
	b, ok := res.Type.(*ordererpb.DeliverResponse_Block)
	if !ok {
		return 0, fmt.Errorf("answered %v", res.GetStatus())
	}
	return b.Block.Header.Number + 1, nil
}

// checkedBlock is a block that passed checkBlock. Only checkBlock makes
// one, and the committer takes nothing else: its data hash need not be
// checked again when it is appended.
type checkedBlock struct{ block *commonpb.Block }

// checkBlock verifies a block before anything else is done with it: its
// number, its link to the previous block, its data hash, and orderer
// signatures that satisfy the channel's BlockValidation policy.
func (c *channel) checkBlock(b *commonpb.Block, want uint64, prevHash []byte) (checkedBlock, error) {
	if b.GetHeader() == nil || b.GetData() == nil {
		return checkedBlock{}, errors.New("block without header or data")
	}
	if b.Header.Number != want {
		return checkedBlock{}, fmt.Errorf("block %d received, %d expected", b.Header.Number, want)
	}
	if !bytes.Equal(b.Header.PreviousHash, prevHash) {
		return checkedBlock{}, fmt.Errorf("block %d does not link to block %d: previous hash %x, want %x", want, want-1, b.Header.PreviousHash, prevHash)
	}
	if !bytes.Equal(b.Header.DataHash, ledger.DataHash(b.Data.Data)) {
		return checkedBlock{}, fmt.Errorf("block %d data hash does not match its transactions", want)
	}
	var signed []channelconfig.SignedData
	err := ledger.VerifyBlockSignatures(b, func(creator, msg, sig []byte) error {
		signed = append(signed, channelconfig.SignedData{Data: msg, Identity: creator, Signature: sig})
		return nil
	}, 1)
	if err != nil {
		return checkedBlock{}, fmt.Errorf("block %d signatures: %w", want, err)
	}
	if err := c.bundle().CheckSigned(channelconfig.PolicyBlockValidation, signed...); err != nil {
		return checkedBlock{}, fmt.Errorf("block %d orderer signatures do not satisfy BlockValidation: %w", want, err)
	}
	return checkedBlock{block: b}, nil
}

// commit validates and commits verified blocks in order. Preparing the
// next block (its signature checks) overlaps the commit of the current one.
func (c *channel) commit() {
	defer c.wg.Done()
	type prepared struct {
		block  checkedBlock
		bundle *channelconfig.Bundle
		prep   *Prepared
	}
	ready := make(chan prepared, 1)
	go func() {
		defer close(ready)
		for b := range c.blocks {
			bundle := c.bundle()
			ready <- prepared{block: b, bundle: bundle, prep: c.validator.Prepare(b.block, bundle)}
		}
	}()
	for pr := range ready {
		start := time.Now()
		if cur := c.bundle(); pr.bundle != cur {
			// A configuration block committed since: check again under
			// the new configuration.
			pr.prep = c.validator.Prepare(pr.block.block, cur)
		}
		if err := c.commitBlock(pr.block, pr.prep); err != nil {
			c.log.Error("commit failed; the channel stops until the peer restarts", "block", pr.block.block.Header.Number, "err", err)
			c.fail(pr.block.block.Header.Number, err)
			for range ready {
			}
			return
		}
		c.p.metrics.commitTime.WithLabelValues(c.id).Observe(time.Since(start).Seconds())
	}
}

func (c *channel) commitBlock(checked checkedBlock, prep *Prepared) error {
	b := checked.block
	defs := contract.StateDefinitions{State: c.state, Reader: c.p.opts.DB}
	res, err := c.validator.Finish(prep, c.p.opts.DB, defs, c.txSeen)
	if err != nil {
		return err
	}
	stored := cloneBlock(b)
	if err := ledger.SetTxFilter(stored, res.Codes); err != nil {
		return err
	}
	var writers []ledger.BatchWriter
	if res.Updates != nil {
		writers = append(writers, res.Updates)
	}
	// The block passed checkBlock, data hash included.
	if err := c.ledger.Append(stored, ledger.AppendOptions{FillCommitHash: true, WritesHash: res.WritesHash, Reasons: res.Reasons, Writers: writers, DataHashChecked: true}); err != nil {
		return err
	}
	if res.Config != nil && b.Header.Number > 0 {
		if nb, err := channelconfig.NewBundle(res.Config, channelconfig.BundleOptions{Now: c.p.opts.Now, SignatureCache: c.p.opts.SignatureCache}); err == nil {
			c.config.Store(nb)
			c.log.Info("channel configuration updated", "sequence", res.Config.Sequence, "block", b.Header.Number)
		} else {
			c.log.Error("new channel configuration does not load", "block", b.Header.Number, "err", err)
		}
	}
	c.p.metrics.height.WithLabelValues(c.id).Set(float64(b.Header.Number + 1))
	for i, code := range res.Codes {
		c.p.metrics.txs.WithLabelValues(c.id, code.String()).Inc()
		if code != peerpb.TxValidationCode_VALID && i < len(res.Reasons) {
			c.log.Debug("invalid transaction", "block", b.Header.Number, "tx", i, "code", code.String(), "reason", res.Reasons[i])
		}
	}
	return nil
}

// txSeen reports whether a transaction id is already taken in the ledger.
// A record whose id was never shown genuine (a forged creator signature,
// an id that is not derived from nonce and creator) takes nothing: an
// orderer that let a forgery through must not make the honest transaction
// with the same id a duplicate.
func (c *channel) txSeen(txID string) (bool, error) {
	rec, err := c.ledger.TxByID(txID)
	if errors.Is(err, ledger.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch peerpb.TxValidationCode(rec.ValidationCode) {
	case peerpb.TxValidationCode_NIL_ENVELOPE, peerpb.TxValidationCode_BAD_PAYLOAD,
		peerpb.TxValidationCode_BAD_COMMON_HEADER, peerpb.TxValidationCode_BAD_CHANNEL_HEADER,
		peerpb.TxValidationCode_BAD_CREATOR_SIGNATURE, peerpb.TxValidationCode_BAD_PROPOSAL_TXID:
		return false, nil
	}
	return true, nil
}
