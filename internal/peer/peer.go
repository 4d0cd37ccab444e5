package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/node/ops"
	"github.com/chorusledger/chorus/internal/participation"
	"github.com/chorusledger/chorus/internal/policy"
	"github.com/chorusledger/chorus/internal/worldstate"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	ledgerpb "github.com/chorusledger/chorus/proto/chorus/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Signer is the peer's signing identity: it signs endorsements and Deliver
// requests.
type Signer interface {
	Sign(msg []byte) ([]byte, error)
	Serialize() []byte
	MSPID() string
}

// Options wire a Peer into its process.
type Options struct {
	DB     *kv.DB
	Signer Signer
	// ContractDir keeps the installed contract packages ("" keeps none).
	ContractDir string
	// Modules compiles installed WebAssembly modules; nil runs none.
	Modules ModuleLoader
	// DialOptions are used to reach orderers; transport credentials are
	// added per channel from the TLS CAs its configuration names.
	DialOptions       []grpc.DialOption
	SignatureCache    *identity.SignatureCache
	ValidationWorkers int
	Logger            *slog.Logger
	Registerer        prometheus.Registerer
	Now               func() time.Time

	// stallAfter is how often a block stream that delivers nothing has
	// the peer compare its height with the other orderers'
	// (defaultStallAfter); tests shorten it.
	stallAfter time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.stallAfter <= 0 {
		o.stallAfter = defaultStallAfter
	}
	if o.SignatureCache == nil {
		o.SignatureCache = identity.NewSignatureCache(identity.DefaultSignatureCacheCapacity)
	}
}

// Peer serves the channels this node joined.
type Peer struct {
	peerpb.UnimplementedEndorserServer

	opts      Options
	log       *slog.Logger
	metrics   *metrics
	packages  *packageStore
	contracts *contract.Registry

	// joinMu serialises Join and Remove: a channel being removed
	// (its keys, then its block files) is not joined again meanwhile.
	joinMu sync.Mutex

	mu       sync.RWMutex
	channels map[string]*channel
	closed   bool
}

// New starts a peer and every channel it had joined.
func New(opts Options) (*Peer, error) {
	opts.setDefaults()
	store, err := openPackageStore(opts.ContractDir, opts.Modules)
	if err != nil {
		return nil, err
	}
	reg := contract.NewRegistry(store)
	if err := reg.Register(contract.LifecycleName, contract.Lifecycle{}); err != nil {
		return nil, err
	}
	p := &Peer{opts: opts, log: opts.Logger, metrics: newMetrics(opts.Registerer), channels: map[string]*channel{}, packages: store, contracts: reg}
	names, err := participation.JoinedChannels(opts.DB)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := p.startChannel(name, nil); err != nil {
			p.Close()
			return nil, fmt.Errorf("peer: restart channel %s: %w", name, err)
		}
	}
	return p, nil
}

// ErrExists and ErrUnknownChannel classify channel participation errors.
var (
	ErrExists         = participation.ErrExists
	ErrUnknownChannel = participation.ErrUnknownChannel
)

// TransactionStatus says where a transaction committed, its validation
// code and, when invalid, why.
func (p *Peer) TransactionStatus(channel, txID string) (*adminpb.TxStatus, error) {
	ch, err := p.channel(channel)
	if err != nil {
		return nil, err
	}
	return participation.LedgerTxStatus(ch.ledger, txID)
}

// Block returns a committed block, with its validation codes.
func (p *Peer) Block(channel string, number uint64) (*commonpb.Block, error) {
	ch, err := p.channel(channel)
	if err != nil {
		return nil, err
	}
	return participation.LedgerBlock(ch.ledger, number)
}

// Verify checks the channel's whole ledger over one snapshot: hash links,
// data hashes, Merkle roots, commit hashes, orderer signatures, indexes.
func (p *Peer) Verify(channel string) (*ledger.Report, error) {
	ch, err := p.channel(channel)
	if err != nil {
		return nil, err
	}
	return channelconfig.VerifyLedger(ch.ledger, p.opts.Now)
}

func (p *Peer) channel(name string) (*channel, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	ch, ok := p.channels[name]
	if !ok {
		return nil, fmt.Errorf("peer: %w %q: this peer has not joined it", ErrUnknownChannel, name)
	}
	return ch, nil
}

// Join joins the channel whose genesis block is given: the peer's
// organization must be one of its application organizations.
func (p *Peer) Join(genesis *commonpb.Block) (*adminpb.ChannelInfo, error) {
	p.joinMu.Lock()
	defer p.joinMu.Unlock()
	if genesis.GetHeader().GetNumber() != 0 {
		return nil, fmt.Errorf("peer: join: block %d is not a genesis block", genesis.GetHeader().GetNumber())
	}
	cfg, err := channelconfig.ConfigFromBlock(genesis)
	if err != nil {
		return nil, fmt.Errorf("peer: join: %w", err)
	}
	p.mu.RLock()
	_, exists := p.channels[cfg.ChannelId]
	p.mu.RUnlock()
	if exists {
		return nil, fmt.Errorf("peer: join: %w: channel %s already joined", ErrExists, cfg.ChannelId)
	}
	member := false
	for _, o := range cfg.Organizations {
		if o.MspId == p.opts.Signer.MSPID() {
			member = true
		}
	}
	if !member {
		return nil, fmt.Errorf("peer: join channel %s: this peer's organization %s is not one of its application organizations", cfg.ChannelId, p.opts.Signer.MSPID())
	}
	if err := p.startChannel(cfg.ChannelId, genesis); err != nil {
		return nil, fmt.Errorf("peer: join channel %s: %w", cfg.ChannelId, err)
	}
	ch, _ := p.channel(cfg.ChannelId)
	return ch.info(), nil
}

// Channels describes every joined channel.
func (p *Peer) Channels() []*adminpb.ChannelInfo {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*adminpb.ChannelInfo
	for _, ch := range p.channels {
		out = append(out, ch.info())
	}
	return out
}

// Remove stops serving a channel and deletes its ledger and state here.
func (p *Peer) Remove(name string) error {
	p.joinMu.Lock()
	defer p.joinMu.Unlock()
	p.mu.Lock()
	ch, ok := p.channels[name]
	delete(p.channels, name)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("peer: remove: %w %s", ErrUnknownChannel, name)
	}
	ch.stop()
	// A request that found the channel before it was removed reads the
	// database from now on, not definitions cached before the delete.
	ch.state.StopNamespaceCache()
	if err := participation.DeleteChannel(p.opts.DB, p.log, name, worldstate.ChannelPrefix(name)); err != nil {
		return fmt.Errorf("peer: remove channel %s: %w", name, err)
	}
	p.log.Info("channel removed", "channel", name)
	return nil
}

// Ready reports whether every joined channel has caught up with the
// ordering service: the readiness check of DESIGN §8.
func (p *Peer) Ready(context.Context) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, ch := range p.channels {
		if err := ch.caughtUp(); err != nil {
			return fmt.Errorf("channel %s: %w", ch.id, err)
		}
	}
	return nil
}

// Ledger returns a joined channel's ledger.
func (p *Peer) Ledger(name string) (*ledger.Ledger, error) {
	ch, err := p.channel(name)
	if err != nil {
		return nil, err
	}
	return ch.ledger, nil
}

// Bundle returns a joined channel's current configuration.
func (p *Peer) Bundle(name string) (*channelconfig.Bundle, error) {
	ch, err := p.channel(name)
	if err != nil {
		return nil, err
	}
	return ch.bundle(), nil
}

// TxStatus returns the committed record of a transaction, or
// ledger.ErrNotFound.
func (p *Peer) TxStatus(channelName, txID string) (*ledgerpb.TxRecord, error) {
	ch, err := p.channel(channelName)
	if err != nil {
		return nil, err
	}
	return ch.ledger.TxByID(txID)
}

// WaitForTx blocks until the transaction is committed on this peer (valid
// or not) and returns its record, or until ctx ends or the channel stops
// committing (an error wrapping ErrChannelStopped).
func (p *Peer) WaitForTx(ctx context.Context, channelName, txID string) (*ledgerpb.TxRecord, error) {
	ch, err := p.channel(channelName)
	if err != nil {
		return nil, err
	}
	for {
		h := ch.ledger.Height()
		rec, err := ch.ledger.TxByID(txID)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return nil, err
		}
		// A channel that stops committing ends the wait with its reason,
		// instead of leaving the caller to its deadline.
		if err := ch.waitForHeight(ctx, h+1); err != nil {
			if ch.stopped() != nil {
				return ch.lastLookUp(txID)
			}
			return nil, err
		}
	}
}

// WaitForHeight blocks until the channel's ledger reaches height h, or ctx
// ends, or the channel stops committing (an error wrapping
// ErrChannelStopped that says why).
func (p *Peer) WaitForHeight(ctx context.Context, channelName string, h uint64) error {
	ch, err := p.channel(channelName)
	if err != nil {
		return err
	}
	return ch.waitForHeight(ctx, h)
}

// Close stops every channel; what was committed is durable.
func (p *Peer) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	chs := p.channels
	p.channels = map[string]*channel{}
	p.mu.Unlock()
	for _, ch := range chs {
		ch.stop()
	}
}

type metrics struct {
	height       *prometheus.GaugeVec
	txs          *prometheus.CounterVec
	refused      *prometheus.CounterVec
	commitTime   *prometheus.HistogramVec
	endorsements *prometheus.CounterVec
	proposalTime *prometheus.HistogramVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	return &metrics{
		height: ops.LedgerHeight(r),
		txs: ops.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chorus_peer_transactions_total",
			Help: "Transactions committed, by validation code."}, []string{"channel", "code"})),
		refused: ops.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chorus_peer_blocks_refused_total",
			Help: "Blocks refused from an orderer (bad signature, broken chain)."}, []string{"channel"})),
		commitTime: ops.Register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "chorus_peer_block_commit_seconds",
			Help: "Time to validate and commit a block.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"channel"})),
		endorsements: ops.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chorus_peer_proposals_total",
			Help: "Proposals processed, by outcome (channel \"\" for one this peer does not serve)."}, []string{"channel", "outcome"})),
		proposalTime: ops.Register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "chorus_peer_proposal_duration_seconds",
			Help:    "Time to process a proposal (checks, contract, signature), by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"channel", "outcome"})),
	}
}

// EndorsementPolicy returns the policy that transactions invoking the
// contract must satisfy on the channel, as the committed definition (or,
// for _lifecycle, the channel's LifecycleEndorsement policy) says, and its
// text for messages.
func (p *Peer) EndorsementPolicy(channelName, contractName string) (policy.Policy, string, error) {
	ch, err := p.channel(channelName)
	if err != nil {
		return nil, "", err
	}
	bundle := ch.bundle()
	ref := channelconfig.PolicyLifecycleEndorsement
	expr := ""
	if contractName != contract.LifecycleName {
		def, err := contract.StateDefinitions{State: ch.state, Reader: p.opts.DB}.Definition(contractName)
		if err != nil {
			return nil, "", err
		}
		expr, ref = contract.EndorsementPolicyOf(def)
	}
	if expr != "" {
		sp, err := policy.ParseSignaturePolicy(expr)
		if err != nil {
			return nil, "", fmt.Errorf("peer: the endorsement policy of %s does not parse: %w", contractName, err)
		}
		return sp, sp.String(), nil
	}
	pol, ok := bundle.Policy(ref)
	if !ok {
		return nil, "", fmt.Errorf("peer: channel %s has no policy %s", channelName, ref)
	}
	return pol, "/Channel/" + ref, nil
}
