package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/network"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	"github.com/chorusledger/chorus/sdk/client"
)

// Target is the network a run drives and how.
type Target struct {
	// Profiles are client profiles, one per organization; workers are
	// spread over them in turn, so each organization's Gateway peer leads
	// an equal share of the endorsements.
	Profiles []string
	// Connections is the number of Gateway connections per profile
	// (default 1).
	Connections int
	// Network, when not nil, is the local network behind the profiles:
	// the run then measures its node processes, reads its block cutting,
	// and ends by verifying every node's ledger and comparing the peers'
	// commit hashes.
	Network *network.Network
	// Progress receives the live progress bar; Terminal says it is a
	// terminal (redrawn in place) rather than a log.
	Progress io.Writer
	Terminal bool
	// Log receives a line per step (preload, checks); nil discards.
	Log io.Writer
	// ProfileDir, when set, receives a CPU profile of every process the
	// run measures (the nodes of Network, which must serve profiles, and
	// the bench process) over the measured window, and the report splits
	// each by category. It needs a Duration, which a node's profile is
	// asked for in advance.
	ProfileDir string
}

// fsyncPolicy is what this build syncs; nothing in a node's configuration
// changes it.
const fsyncPolicy = "peers: each block's segment file synced, then one synced Pebble batch (locator, state, history, indexes); " +
	"orderers: Raft log synced before every acknowledgement, each block's segment synced, its index recovered from the log"

// Run drives the target with cfg's load and reports what it measured.
// It fails only when the run could not take place (bad settings, no
// network, a preload that could not complete); failed transactions are
// counted in the Report, not returned as errors.
func Run(ctx context.Context, cfg Config, t Target) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(t.Profiles) == 0 {
		return nil, errors.New("bench: no client profile")
	}
	if t.ProfileDir != "" {
		if err := os.MkdirAll(t.ProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("bench: the profile directory: %w", err)
		}
	}
	logw := t.Log
	if logw == nil {
		logw = io.Discard
	}
	conns := max(1, t.Connections)
	var contracts []*client.Contract
	var first *client.Gateway
	var orgs []string
	var channel string
	for c := range conns {
		for _, path := range t.Profiles {
			gw, err := client.Connect(path, client.WithEndorseTimeout(cfg.Timeout), client.WithSubmitTimeout(cfg.Timeout),
				client.WithCommitStatusTimeout(cfg.Timeout), client.WithEvaluateTimeout(cfg.Timeout))
			if err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			defer gw.Close()
			if channel == "" {
				channel = cfg.Channel
				if channel == "" {
					channel = gw.DefaultChannel()
				}
			}
			if first == nil {
				first = gw
			}
			if c == 0 {
				orgs = append(orgs, gw.Identity().MSPID)
			}
			contracts = append(contracts, gw.Network(channel).Contract(cfg.Contract))
		}
	}
	if channel == "" {
		return nil, errors.New("bench: no channel: give one, or use profiles that name theirs")
	}
	rep := &Report{Started: time.Now().UTC(), Workload: cfg.Workload, Mode: "closed-loop", FailuresByCode: map[string]int{}}
	if !cfg.closedLoop() {
		rep.Mode = "fixed-rate"
	}
	rep.Settings = Settings{
		Contract: cfg.Contract, Channel: channel, Workers: cfg.Workers, Rate: cfg.Rate, Connections: conns, Organizations: orgs,
		DurationSeconds: cfg.Duration.Seconds(), Transactions: cfg.Transactions, WarmupSeconds: cfg.Warmup.Seconds(),
		Preload: cfg.Preload, PreloadBatch: preloadBatch(cfg), TLS: "client to Gateway: TLS, server authenticated; between nodes: mutual TLS", Fsync: fsyncPolicy,
	}
	if cfg.Transactions > 0 {
		rep.Settings.DurationSeconds = 0
	}
	if cfg.Workload != Create {
		rep.Settings.Keys = cfg.Keys
	}
	prefix := runPrefix()
	if cfg.Workload == Create {
		rep.Settings.ValueBytes = valueBytes(prefix+"-0-0", cfg.ValueSize)
	}
	def, err := queryDefinition(ctx, first, channel, cfg.Contract)
	if err != nil {
		return nil, err
	}
	rep.Settings.EndorsementPolicy = def.EndorsementPolicy
	if t.Network != nil {
		n := t.Network
		rep.Settings.Orderers, rep.Settings.Peers = len(n.Nodes(network.RoleOrderer)), len(n.Nodes(network.RolePeer))
		bc, height, err := blockCutting(ctx, n, channel)
		if err != nil {
			fmt.Fprintf(logw, "could not read the channel's block cutting: %v\n", err)
		}
		rep.Settings.BlockCutting, rep.Settings.LedgerHeightStart = bc, height
	}

	d := &driver{contracts: contracts, live: &live{}}
	if cfg.Workload != Create {
		keySpace := func(i int) op { return createOp(keyID(i), cfg.ValueSize) }
		if err := preload(ctx, d, cfg, t, fmt.Sprintf("key space (%d assets)", cfg.Keys), cfg.Keys, keySpace, cfg.Workers, true); err != nil {
			return nil, err
		}
	}
	if cfg.Preload > 0 {
		started := time.Now()
		if err := preloadAssets(ctx, d, cfg, t, rep, prefix); err != nil {
			return nil, err
		}
		rep.Settings.PreloadSeconds = round(time.Since(started).Seconds(), 1)
		if t.Network != nil {
			fmt.Fprintln(logw, "waiting for the nodes to finish the preload's background work (compactions)")
			waited, idle, err := settle(ctx, t.Network, settleLimit)
			if err != nil {
				return nil, fmt.Errorf("bench: after the preload: %w", err)
			}
			if !idle {
				fmt.Fprintf(logw, "the nodes were still busy after %v; measuring anyway\n", settleLimit)
			}
			rep.Settings.SettleSeconds, rep.Settings.BusyAfterPreload = round(waited.Seconds(), 1), !idle
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	fmt.Fprintln(logw, "measuring the signature bound")
	bound, err := measureSignatureBound(150 * time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("bench: measuring the signature bound: %w", err)
	}
	rep.SignatureBound, rep.SignatureBoundTPS = bound, bound.BoundTPS

	probes := newProbes(t.Network)
	var leaderAtStart string // written before leaderAsked closes
	leaderAsked := make(chan struct{})
	d.live = &live{}
	stopProgress := startProgress(t.Progress, t.Terminal, d.live, "measuring", cfg.Warmup, cfg.Duration, cfg.Transactions)
	windowStarted := make(chan struct{})
	go func() {
		defer close(windowStarted)
		select {
		case <-time.After(cfg.Warmup):
		case <-ctx.Done():
		}
		for _, p := range probes {
			p.start()
			if t.ProfileDir != "" && ctx.Err() == nil {
				window := cfg.Duration
				if cfg.Transactions > 0 {
					window = 0 // its end is not known: profiled in chunks until the probes stop
				}
				p.startProfile(ctx, t.ProfileDir, window)
			}
		}
		// Asked aside, so that slow orderers do not hold back the end of
		// the window.
		go func() {
			defer close(leaderAsked)
			if t.Network != nil && ctx.Err() == nil {
				leaderAtStart = raftLeader(ctx, t.Network, channel)
			}
		}()
	}()
	p := phase{name: "measure", gen: newGenerator(cfg, prefix), workers: cfg.Workers, rate: cfg.Rate,
		warmup: cfg.Warmup, duration: cfg.Duration, count: cfg.Transactions, timeout: cfg.Timeout}
	if cfg.Transactions > 0 {
		p.duration = 0
	}
	pr := d.run(ctx, p)
	<-windowStarted
	for _, p := range probes {
		p.stop()
	}
	if t.Network != nil && ctx.Err() == nil {
		leaderAtEnd := raftLeader(ctx, t.Network, channel)
		<-leaderAsked
		switch {
		case leaderAtStart == leaderAtEnd && leaderAtEnd != "":
			rep.Settings.RaftLeaders = []string{leaderAtEnd}
		case leaderAtStart != "" || leaderAtEnd != "":
			rep.Settings.RaftLeaders = []string{orUnknown(leaderAtStart), orUnknown(leaderAtEnd)}
		}
	}
	stopProgress()
	rep.Interrupted = pr.stopped

	s := summarize(pr)
	rep.Submitted, rep.Committed, rep.Failed = s.submitted, s.committed, s.failed
	rep.FailuresByCode, rep.FailureExamples = s.byCode, s.examples
	rep.CommittedTPS, rep.WindowSeconds, rep.LatencyMS, rep.PhasesMS, rep.Series = s.tps, round(s.window.Seconds(), 3), s.latency, s.phases, s.series
	if s.window > 0 {
		rep.OfferedTPS = round(float64(s.submitted)/s.window.Seconds(), 1)
		if p.duration > 0 {
			rep.OfferedTPS = round(float64(s.submitted)/p.duration.Seconds(), 1)
		}
	}
	if rep.SignatureBoundTPS > 0 {
		rep.BoundRatio = round(rep.CommittedTPS/rep.SignatureBoundTPS, 4)
	}
	for _, pb := range probes {
		pc := pb.report(s.committed)
		rep.Settings.SignatureCacheHits += pc.SigCacheHits
		rep.Settings.SignatureCacheMisses += pc.SigCacheMisses
		rep.Processes = append(rep.Processes, pc)
	}
	if t.Network != nil && ctx.Err() == nil {
		fmt.Fprintln(logw, "verifying every node's ledger and comparing the peers' commit hashes")
		rep.Ledger = checkLedgers(ctx, t.Network, channel, time.Minute)
	}
	return rep, nil
}

// preloadBatch is cfg.PreloadBatch when there is a preload, else 0.
func preloadBatch(cfg Config) int {
	if cfg.Preload == 0 {
		return 0
	}
	return cfg.PreloadBatch
}

// preloadAssets creates cfg.Preload assets with ids unique to the run, one
// CreateAsset each or cfg.PreloadBatch in each CreateAssets.
func preloadAssets(ctx context.Context, d *driver, cfg Config, t Target, rep *Report, prefix string) error {
	id := func(i int) string { return prefix + "-pre-" + strconv.Itoa(i) }
	if cfg.PreloadBatch <= 1 {
		single := func(i int) op { return createOp(id(i), cfg.ValueSize) }
		rep.Settings.PreloadTransactions = cfg.Preload
		return preload(ctx, d, cfg, t, fmt.Sprintf("%d assets", cfg.Preload), cfg.Preload, single, cfg.Workers, false)
	}
	batch := func(b int) op {
		first, end := batchRange(b, cfg.PreloadBatch, cfg.Preload)
		ids := make([]string, 0, end-first)
		for i := first; i < end; i++ {
			ids = append(ids, id(i))
		}
		return createBatchOp(ids, cfg.ValueSize)
	}
	batches := (cfg.Preload + cfg.PreloadBatch - 1) / cfg.PreloadBatch
	rep.Settings.PreloadTransactions = batches
	workers := min(cfg.Workers, max(1, batchAssetsInFlight/cfg.PreloadBatch))
	return preload(ctx, d, cfg, t, fmt.Sprintf("%d assets, %d a transaction", cfg.Preload, cfg.PreloadBatch), batches, batch, workers, false)
}

// batchRange is the range [first, end) of the assets that batch b of
// size size creates out of total.
func batchRange(b, size, total int) (first, end int) {
	first = b * size
	return first, min(first+size, total)
}

// batchAssetsInFlight bounds the assets in flight during a batched
// preload: more would only queue, and hold memory, in the endorsers.
const batchAssetsInFlight = 16384

// preload runs the n ops that makeOp makes (CreateAsset or CreateAssets
// calls) to completion with at most workers of them in flight. With
// existingOK, an asset that already exists counts as done.
func preload(ctx context.Context, d *driver, cfg Config, t Target, what string, n int, makeOp func(i int) op, workers int, existingOK bool) error {
	if t.Log != nil {
		fmt.Fprintf(t.Log, "preloading %s\n", what)
	}
	d.live = &live{}
	stop := startProgress(t.Progress, t.Terminal, d.live, "preload", 0, 0, n)
	g := newOnceGenerator(n, makeOp)
	pr := d.run(ctx, phase{name: "preload", gen: g.generate, workers: min(workers, n), count: n, timeout: cfg.Timeout})
	stop()
	if pr.stopped {
		return ctx.Err()
	}
	failed := 0
	var example string
	for _, r := range pr.results {
		if r.outcome == outcomeValid || (existingOK && r.outcome == outcomeEndorse && strings.Contains(r.err, "already exists")) {
			continue
		}
		failed++
		if example == "" {
			example = r.err
		}
	}
	if failed > 0 {
		return fmt.Errorf("bench: preloading %s: %d of %d transactions failed, such as: %s", what, failed, n, example)
	}
	return nil
}

// queryDefinition reads the contract's committed definition.
func queryDefinition(ctx context.Context, gw *client.Gateway, channel, name string) (*contract.DefinitionJSON, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := gw.Network(channel).Contract(contract.LifecycleName).Evaluate(ctx, "QueryDefinition", name)
	if err != nil {
		return nil, fmt.Errorf("bench: reading the definition of contract %s on channel %s: %w", name, channel, err)
	}
	var def contract.DefinitionJSON
	if err := json.Unmarshal(res, &def); err != nil {
		return nil, fmt.Errorf("bench: the definition of contract %s: %w", name, err)
	}
	return &def, nil
}

// blockCutting reads the channel's block cutting from its latest
// configuration block, through a peer's admin API, and the height then.
func blockCutting(ctx context.Context, n *network.Network, channel string) (*BlockCutting, uint64, error) {
	peers := n.Nodes(network.RolePeer)
	if len(peers) == 0 {
		return nil, 0, errors.New("the network has no peer")
	}
	h, err := height(ctx, n, peers[0], channel)
	if err != nil {
		return nil, 0, err
	}
	q, closeQ, err := n.LedgerQuery(peers[0])
	if err != nil {
		return nil, h, err
	}
	defer closeQ()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	last, err := q.GetBlock(ctx, &adminpb.GetBlockRequest{Channel: channel, Number: h - 1})
	if err != nil {
		return nil, h, err
	}
	var index uint64
	if h > 1 {
		md, err := ledger.OrdererMetadata(last)
		if err != nil {
			return nil, h, err
		}
		index = md.GetLastConfig().GetIndex()
	}
	cfgBlock, err := q.GetBlock(ctx, &adminpb.GetBlockRequest{Channel: channel, Number: index})
	if err != nil {
		return nil, h, err
	}
	cfg, err := channelconfig.ConfigFromBlock(cfgBlock)
	if err != nil {
		return nil, h, err
	}
	b, err := channelconfig.NewBundle(cfg, channelconfig.BundleOptions{})
	if err != nil {
		return nil, h, err
	}
	bc := b.Batch()
	return &BlockCutting{MaxMessageCount: bc.MaxMessageCount, PreferredMaxBytes: bc.PreferredMaxBytes,
		BatchTimeoutMS: float64(bc.Timeout) / float64(time.Millisecond)}, h, nil
}

// runPrefix is a prefix of asset ids unique to a run.
func runPrefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}
