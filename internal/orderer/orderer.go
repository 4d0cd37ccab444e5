package orderer

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/node/ops"
	"github.com/chorusledger/chorus/internal/participation"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Options wire an Orderer into its process.
type Options struct {
	DB *kv.DB
	// Signer signs blocks and Deliver requests with this orderer's
	// identity (an orderer of an orderer organization).
	Signer Signer
	// TLSCert is this orderer's TLS certificate: its public key is how the
	// channel configuration names it as a consenter.
	TLSCert *x509.Certificate
	// ClusterCreds are the mutual-TLS credentials for dialing other orderers.
	ClusterCreds credentials.TransportCredentials
	DialOptions  []grpc.DialOption

	MaxInflightPerStream int           // default 1000
	MaxInflightTotal     int           // default 20000
	BroadcastTimeout     time.Duration // default 30 s
	// PinLeadership keeps Raft leadership where elections put it. By
	// default a leader hands it to the follower through which at least two
	// thirds of a busy channel's envelopes arrive, 6 s in a row, so that
	// they are not forwarded (see placementPolicy).
	PinLeadership bool

	SignatureCache *identity.SignatureCache
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	Now            func() time.Time
}

func (o *Options) setDefaults() {
	if o.MaxInflightPerStream <= 0 {
		o.MaxInflightPerStream = 1000
	}
	if o.MaxInflightTotal <= 0 {
		o.MaxInflightTotal = 20000
	}
	if o.BroadcastTimeout <= 0 {
		o.BroadcastTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SignatureCache == nil {
		o.SignatureCache = identity.NewSignatureCache(identity.DefaultSignatureCacheCapacity)
	}
}

type metrics struct {
	ordered  *prometheus.CounterVec
	refused  *prometheus.CounterVec
	height   *prometheus.GaugeVec
	isLeader *prometheus.GaugeVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	return &metrics{
		ordered: ops.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chorus_orderer_envelopes_ordered_total",
			Help: "Envelopes acknowledged SUCCESS by Broadcast."}, []string{"channel"})),
		refused: ops.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chorus_orderer_envelopes_refused_total",
			Help: "Envelopes answered with another status by Broadcast."}, []string{"channel", "status"})),
		height: ops.LedgerHeight(r),
		isLeader: ops.Register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chorus_consensus_is_leader",
			Help: "1 when this orderer leads the channel's consensus."}, []string{"channel"})),
	}
}

// Orderer serves AtomicBroadcast and channel participation for every
// channel this node has joined, and takes part in each channel's
// consensus through the Cluster.
type Orderer struct {
	ordererpb.UnimplementedAtomicBroadcastServer

	opts     Options
	log      *slog.Logger
	cluster  *Cluster
	metrics  *metrics
	inflight chan struct{}

	// joinMu serialises Join and Remove: a channel being removed
	// (its keys, then its block files) is not joined again meanwhile.
	joinMu sync.Mutex

	mu       sync.RWMutex
	channels map[string]*channel
	closed   bool

	draining  atomic.Bool
	drainC    chan struct{} // closed when draining starts
	drainOnce sync.Once
	busy      sync.WaitGroup // Broadcast envelopes in flight
}

// channel is one joined channel.
type channel struct {
	id      string
	selfID  uint64
	ledger  *ledger.Ledger
	config  atomic.Pointer[channelconfig.Bundle]
	chain   *chain
	raft    *raft.Chain
	storage *raft.Storage
}

func (c *channel) bundle() *channelconfig.Bundle { return c.config.Load() }

// New starts an orderer and every channel it had joined.
//
// ctx bounds the start only: a catch-up from a consensus snapshot that a
// restarting channel must finish first ends when ctx does (a SIGTERM
// during start), and New then fails with the reason.
func New(ctx context.Context, opts Options) (*Orderer, error) {
	opts.setDefaults()
	o := &Orderer{
		opts:     opts,
		log:      opts.Logger,
		metrics:  newMetrics(opts.Registerer),
		inflight: make(chan struct{}, opts.MaxInflightTotal),
		channels: map[string]*channel{},
		drainC:   make(chan struct{}),
	}
	o.cluster = NewCluster(opts.ClusterCreds, opts.DialOptions, opts.Logger)
	names, err := participation.JoinedChannels(opts.DB)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := o.startChannel(ctx, name, nil); err != nil {
			o.Close()
			return nil, fmt.Errorf("orderer: restart channel %s: %w", name, err)
		}
	}
	return o, nil
}

// Cluster is the service other orderers dial; register it on the
// orderer's gRPC server.
func (o *Orderer) Cluster() *Cluster { return o.cluster }

func (o *Orderer) channel(name string) *channel {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.channels[name]
}

// Join makes this orderer a consenter of the channel whose genesis block
// is given. It fails unless the block is a valid genesis block naming this
// orderer's TLS key among the consenters.
func (o *Orderer) Join(genesis *commonpb.Block) (*adminpb.ChannelInfo, error) {
	o.joinMu.Lock()
	defer o.joinMu.Unlock()
	if genesis.GetHeader().GetNumber() != 0 {
		return nil, fmt.Errorf("orderer: join: block %d is not a genesis block", genesis.GetHeader().GetNumber())
	}
	cfg, err := channelconfig.ConfigFromBlock(genesis)
	if err != nil {
		return nil, fmt.Errorf("orderer: join: %w", err)
	}
	name := cfg.ChannelId
	o.mu.Lock()
	_, exists := o.channels[name]
	o.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("orderer: join: %w: channel %s already joined", ErrExists, name)
	}
	if _, err := o.selfConsenter(cfg); err != nil {
		return nil, fmt.Errorf("orderer: join channel %s: %w", name, err)
	}
	if err := o.startChannel(context.Background(), name, genesis); err != nil {
		return nil, fmt.Errorf("orderer: join channel %s: %w", name, err)
	}
	return o.info(o.channel(name)), nil
}

// ErrExists and ErrUnknownChannel classify channel participation errors.
var (
	ErrExists         = participation.ErrExists
	ErrUnknownChannel = participation.ErrUnknownChannel
)

// selfConsenter finds this orderer among a config's consenters by TLS key.
func (o *Orderer) selfConsenter(cfg *configpb.ChannelConfig) (*configpb.Consenter, error) {
	for _, c := range cfg.GetConsensus().GetConsenters() {
		cert, err := identity.ParseCertificatePEM(c.TlsCert)
		if err != nil {
			continue
		}
		if bytes.Equal(cert.RawSubjectPublicKeyInfo, o.opts.TLSCert.RawSubjectPublicKeyInfo) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("this orderer's TLS key (certificate %s) is not among the channel's consenters; following a channel without consenting is not supported", o.opts.TLSCert.Subject)
}

// startupCatchUpLimit bounds the catch-up from a consensus snapshot that
// a restarting orderer must finish before its channel starts. A catch-up
// while the channel runs has no limit.
const startupCatchUpLimit = 2 * time.Minute

// startChannel opens (or, with genesis, creates) a channel's ledger and
// consensus state and starts taking part. A catch-up the channel must
// finish before it starts ends when ctx does.
func (o *Orderer) startChannel(ctx context.Context, name string, genesis *commonpb.Block) (err error) {
	l, err := ledger.Open(o.opts.DB, name)
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
	if genesis != nil && l.Height() == 0 {
		if err := l.Append(genesis, ledger.AppendOptions{}); err != nil {
			return err
		}
	}
	storage, err := raft.OpenStorage(o.opts.DB, name)
	if err != nil {
		return err
	}
	w, err := newBlockWriter(name, o.opts.DB, l, o.opts.Signer, nil, o.log.With("channel", name))
	if err != nil {
		return err
	}
	cfgBlock, err := l.Block(w.rec.lastConfig)
	if err != nil {
		return fmt.Errorf("read last config block %d: %w", w.rec.lastConfig, err)
	}
	cfg, err := channelconfig.ConfigFromBlock(cfgBlock)
	if err != nil {
		return err
	}
	bundle, err := channelconfig.NewBundle(cfg, channelconfig.BundleOptions{Now: o.opts.Now, SignatureCache: o.opts.SignatureCache})
	if err != nil {
		return err
	}
	self, err := o.selfConsenter(cfg)
	if err != nil {
		return err
	}
	if storage.IsEmpty() {
		var voters []uint64
		for _, c := range cfg.Consensus.Consenters {
			voters = append(voters, c.Id)
		}
		genesisBlock, err := l.Block(0)
		if err != nil {
			return err
		}
		if err := storage.Bootstrap(voters, encodeSnapshot(1, ledger.HeaderHash(genesisBlock.Header))); err != nil {
			return err
		}
	}
	if genesis != nil {
		if err := participation.MarkJoined(o.opts.DB, name); err != nil {
			return err
		}
	}
	ch := &channel{id: name, selfID: self.Id, ledger: l, storage: storage}
	ch.config.Store(bundle)
	w.fetcher = o.newFetcher(ch)
	w.isConfig = isConfigBlock
	c := newChain(name, self.Id, l, w, o.cluster, settingsOf(cfg), o.log.With("channel", name))
	if o.opts.PinLeadership {
		c.placement = placementPolicy{}
	}
	ro := cfg.Consensus.GetRaft()
	// NewNode finishes a catch-up a crash interrupted before anything
	// else of the channel runs; bounded, so a node whose peers are all
	// down fails to start with the reason instead of hanging, and ended
	// by ctx (a SIGTERM during start).
	startCtx, endStart := context.WithTimeout(ctx, startupCatchUpLimit)
	w.startCtx = startCtx
	node, err := raft.NewNode(raft.Config{
		ID:                    self.Id,
		ElectionTick:          int(ro.GetElectionTick()),
		HeartbeatTick:         int(ro.GetHeartbeatTick()),
		SnapshotIntervalBytes: ro.GetSnapshotIntervalBytes(),
		Logger:                o.log.With("channel", name),
	}, storage, w)
	w.startCtx = nil
	endStart()
	if ctx.Err() != nil {
		// ctx ended while the node started: its catch-up, if any, was
		// stopped.
		if err != nil {
			err = fmt.Errorf("start interrupted: %w (%v)", context.Cause(ctx), err)
		} else {
			err = fmt.Errorf("start interrupted: %w", context.Cause(ctx))
		}
	}
	if err != nil {
		return err
	}
	tick := time.Duration(ro.GetTickIntervalMs()) * time.Millisecond
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	var rc *raft.Chain
	rc = raft.NewChain(node, &raftTransport{channel: name, cluster: o.cluster, chain: func() *raft.Chain { return rc }}, tick, o.log.With("channel", name))
	ch.chain, ch.raft = c, rc
	members, err := clusterMembers(cfg, self.Id)
	if err != nil {
		return err
	}
	o.cluster.Register(name, self.Id, members, c)
	written := w.onBlock
	w.onBlock = func(b *commonpb.Block) {
		written(b)
		o.metrics.height.WithLabelValues(name).Set(float64(b.Header.Number + 1))
	}
	o.metrics.height.WithLabelValues(name).Set(float64(l.Height()))
	c.start(rc)
	go o.watchLeadership(ch)
	o.mu.Lock()
	o.channels[name] = ch
	o.mu.Unlock()
	o.log.Info("channel started", "channel", name, "consenter", self.Id, "height", l.Height())
	return nil
}

func (o *Orderer) watchLeadership(ch *channel) {
	updates, stop := ch.raft.Watch()
	defer stop()
	for {
		select {
		case st := <-updates:
			v := 0.0
			if st.Leader == ch.selfID {
				v = 1
			}
			o.metrics.isLeader.WithLabelValues(ch.id).Set(v)
		case <-ch.raft.Done():
			return
		}
	}
}

func settingsOf(cfg *configpb.ChannelConfig) chainSettings {
	b := cfg.GetBatch()
	return chainSettings{sequence: cfg.Sequence, batch: BatchConfig{
		MaxMessageCount:   int(b.GetMaxMessageCount()),
		AbsoluteMaxBytes:  int(b.GetAbsoluteMaxBytes()),
		PreferredMaxBytes: int(b.GetPreferredMaxBytes()),
		Timeout:           time.Duration(b.GetTimeoutMs()) * time.Millisecond,
	}}
}

func clusterMembers(cfg *configpb.ChannelConfig, self uint64) ([]Member, error) {
	var ms []Member
	for _, c := range cfg.GetConsensus().GetConsenters() {
		if c.Id == self {
			continue
		}
		cert, err := identity.ParseCertificatePEM(c.TlsCert)
		if err != nil {
			return nil, fmt.Errorf("consenter %d TLS certificate: %w", c.Id, err)
		}
		ms = append(ms, Member{ID: c.Id, Endpoint: net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), TLSCert: cert})
	}
	return ms, nil
}

// isConfigBlock reports whether b holds a configuration transaction.
func isConfigBlock(b *commonpb.Block) bool {
	return len(b.GetData().GetData()) == 1 && isConfigEnvelope(b.Data.Data[0])
}

// newFetcher returns the fetcher of ch's catch-ups: the other consenters
// of its current configuration, checking blocks against it and chaining
// them to its ledger.
func (o *Orderer) newFetcher(ch *channel) *deliverFetcher {
	return &deliverFetcher{
		signer: o.opts.Signer, creds: o.opts.ClusterCreds, dialOpts: o.opts.DialOptions, log: o.log,
		endpoints: func() []string { return otherEndpoints(ch) },
		verifier:  blockVerifier(ch),
		tip: func() (uint64, []byte) {
			info := ch.ledger.Info()
			return info.Height, info.CurrentBlockHash
		},
	}
}

// otherEndpoints lists the other consenters of a channel, for fetching.
func otherEndpoints(ch *channel) []string {
	var eps []string
	for _, c := range ch.bundle().Config().GetConsensus().GetConsenters() {
		if c.Id != ch.selfID {
			eps = append(eps, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))))
		}
	}
	return eps
}

// blockVerifier checks fetched blocks: at least one signature, each by an
// orderer of the channel.
func blockVerifier(ch *channel) BlockVerifier {
	return func(b *commonpb.Block) error {
		return ledger.VerifyBlockSignatures(b, func(creator, msg, sig []byte) error {
			id, err := ch.bundle().Manager().DeserializeIdentity(creator)
			if err != nil {
				return err
			}
			if !id.HasRole(identity.RoleOrderer) {
				return fmt.Errorf("block signed by %s, which is not an orderer", id)
			}
			return id.Verify(msg, sig)
		}, 1)
	}
}

// Channels describes every joined channel.
func (o *Orderer) Channels() []*adminpb.ChannelInfo {
	o.mu.RLock()
	var chs []*channel
	for _, ch := range o.channels {
		chs = append(chs, ch)
	}
	o.mu.RUnlock()
	var out []*adminpb.ChannelInfo
	for _, ch := range chs {
		out = append(out, o.info(ch))
	}
	return out
}

func (o *Orderer) info(ch *channel) *adminpb.ChannelInfo {
	st := ch.raft.Status()
	status := "active"
	if st.Leader == 0 {
		status = "no-leader"
	}
	return &adminpb.ChannelInfo{Channel: ch.id, Height: ch.ledger.Height(), Status: status, ConsensusRole: st.Role, ConsensusLeader: st.Leader}
}

// Ledger returns a joined channel's ledger, for in-process inspection.
func (o *Orderer) Ledger(name string) (*ledger.Ledger, bool) {
	ch := o.channel(name)
	if ch == nil {
		return nil, false
	}
	return ch.ledger, true
}

// Remove stops taking part in a channel and deletes its blocks and
// consensus state from this orderer.
func (o *Orderer) Remove(name string) error {
	o.joinMu.Lock()
	defer o.joinMu.Unlock()
	o.mu.Lock()
	ch, ok := o.channels[name]
	delete(o.channels, name)
	o.mu.Unlock()
	if !ok {
		return fmt.Errorf("orderer: remove: %w %s", ErrUnknownChannel, name)
	}
	o.stopChannel(ch)
	if err := participation.DeleteChannel(o.opts.DB, o.log, name, raft.StoragePrefix(name), statePrefix(name)); err != nil {
		return fmt.Errorf("orderer: remove channel %s: %w", name, err)
	}
	o.log.Info("channel removed", "channel", name)
	return nil
}

func (o *Orderer) stopChannel(ch *channel) {
	o.cluster.Unregister(ch.id)
	ch.chain.stop()
	ch.ledger.Close()
}

// Ready reports whether every channel has a known leader: the readiness
// check of DESIGN §8.
func (o *Orderer) Ready(context.Context) error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, ch := range o.channels {
		if st := ch.raft.Status(); st.Leader == 0 {
			return fmt.Errorf("channel %s: no consensus leader known", ch.id)
		}
	}
	return nil
}

// Drain starts a graceful stop: new envelopes are refused with
// SERVICE_UNAVAILABLE (clients move to another orderer), Deliver streams
// end, and Drain waits until the envelopes already admitted are answered,
// or ctx ends. Consensus keeps running meanwhile; Close stops it.
func (o *Orderer) Drain(ctx context.Context) error {
	o.drainOnce.Do(func() {
		o.draining.Store(true)
		close(o.drainC)
	})
	done := make(chan struct{})
	go func() {
		o.busy.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("orderer: drain: envelopes still in flight: %w", ctx.Err())
	}
}

// Close stops every channel: consensus first, then the ledgers. Pending
// Broadcasts fail; what was acknowledged is durable.
func (o *Orderer) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	chs := o.channels
	o.channels = map[string]*channel{}
	o.mu.Unlock()
	for _, ch := range chs {
		o.stopChannel(ch)
	}
	o.cluster.Close()
}

// TransactionStatus reports where an envelope was ordered. Orderers do not
// validate transactions, so the code is NOT_VALIDATED.
func (o *Orderer) TransactionStatus(channel, txID string) (*adminpb.TxStatus, error) {
	ch := o.channel(channel)
	if ch == nil {
		return nil, fmt.Errorf("%w %s", ErrUnknownChannel, channel)
	}
	return participation.LedgerTxStatus(ch.ledger, txID)
}

// Block returns a stored block.
func (o *Orderer) Block(channel string, number uint64) (*commonpb.Block, error) {
	ch := o.channel(channel)
	if ch == nil {
		return nil, fmt.Errorf("%w %s", ErrUnknownChannel, channel)
	}
	return participation.LedgerBlock(ch.ledger, number)
}

// Verify checks the channel's whole ledger over one snapshot: hash links,
// data hashes, Merkle roots, orderer signatures, indexes.
func (o *Orderer) Verify(channel string) (*ledger.Report, error) {
	ch := o.channel(channel)
	if ch == nil {
		return nil, fmt.Errorf("%w %s", ErrUnknownChannel, channel)
	}
	return channelconfig.VerifyLedger(ch.ledger, o.opts.Now)
}
