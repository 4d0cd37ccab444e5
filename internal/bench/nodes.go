package bench

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chorusledger/chorus/internal/network"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
)

// ProcessCPU is the CPU one node process spent in the measured window.
type ProcessCPU struct {
	Name       string  `json:"name"`
	Role       string  `json:"role"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUSecondsPerTx is CPUSeconds over the committed transactions.
	CPUSecondsPerTx float64 `json:"cpu_seconds_per_tx"`
	// CoresUsed is CPUSeconds over the window's wall time.
	CoresUsed float64 `json:"cores_used"`
	// Signature verifications this node answered from its cache and
	// computed, in the window (nodes only).
	SigCacheHits   uint64 `json:"signature_cache_hits"`
	SigCacheMisses uint64 `json:"signature_cache_misses"`
	Error          string `json:"error,omitempty"`
	// Profile splits the process's CPU by category (with a profile
	// directory); ProfileError says why there is none.
	Profile      *CPUBreakdown `json:"cpu_profile,omitempty"`
	ProfileError string        `json:"cpu_profile_error,omitempty"`
}

// nodeProbe measures one node process across the measured window.
type nodeProbe struct {
	node          network.Node
	pid           int
	cpu0          time.Duration
	hits0, miss0  uint64
	err           error
	client        *http.Client
	metricsURL    string
	self          bool // the bench process itself
	startedAt     time.Time
	cpu1          time.Duration
	hits1, miss1  uint64
	stoppedAt     time.Time
	scrapeFailure error
	profiler      *profiler
}

func newProbes(n *network.Network) []*nodeProbe {
	var probes []*nodeProbe
	if n != nil {
		for _, nd := range n.Spec.Nodes {
			p := &nodeProbe{node: nd, client: &http.Client{Timeout: 3 * time.Second}, metricsURL: "http://" + nd.OpsAddress + "/metrics"}
			if pid, ok := n.PID(nd); ok {
				p.pid = pid
			} else {
				p.err = fmt.Errorf("%s is not running", nd.Name)
			}
			probes = append(probes, p)
		}
	}
	return append(probes, &nodeProbe{node: network.Node{Name: "bench client", Role: "client"}, self: true})
}

func (p *nodeProbe) cpu() (time.Duration, error) {
	if p.self {
		return selfCPU(), nil
	}
	return processCPU(p.pid)
}

// start records the counters at the window's start.
func (p *nodeProbe) start() {
	if p.err != nil {
		return
	}
	p.startedAt = time.Now()
	p.cpu0, p.err = p.cpu()
	if !p.self {
		p.hits0, p.miss0, p.scrapeFailure = p.sigCache()
	}
}

// stop records them at the window's end.
func (p *nodeProbe) stop() {
	if p.err != nil {
		return
	}
	p.stoppedAt = time.Now()
	if p.profiler != nil {
		p.profiler.stop()
	}
	p.cpu1, p.err = p.cpu()
	if !p.self && p.scrapeFailure == nil {
		p.hits1, p.miss1, p.scrapeFailure = p.sigCache()
	}
}

// startProfile profiles the process for the window (until stop if it is
// 0), or until ctx ends.
func (p *nodeProbe) startProfile(ctx context.Context, dir string, window time.Duration) {
	if p.err != nil {
		return
	}
	p.profiler = startProfiler(ctx, dir, p.node.Name, p.node.OpsAddress, p.self, window)
}

func (p *nodeProbe) report(committed int) ProcessCPU {
	pc := ProcessCPU{Name: p.node.Name, Role: string(p.node.Role), PID: p.pid}
	if p.profiler != nil {
		if b, err := p.profiler.breakdown(); err != nil {
			pc.ProfileError = err.Error()
		} else {
			pc.Profile = b
		}
	}
	if p.err != nil {
		pc.Error = p.err.Error()
		return pc
	}
	cpu := p.cpu1 - p.cpu0
	pc.CPUSeconds = round(cpu.Seconds(), 3)
	if wall := p.stoppedAt.Sub(p.startedAt); wall > 0 {
		pc.CoresUsed = round(cpu.Seconds()/wall.Seconds(), 3)
	}
	if committed > 0 {
		pc.CPUSecondsPerTx = round(cpu.Seconds()/float64(committed), 7)
	}
	if !p.self {
		if p.scrapeFailure != nil {
			pc.Error = "signature cache counters: " + p.scrapeFailure.Error()
		} else {
			pc.SigCacheHits, pc.SigCacheMisses = p.hits1-p.hits0, p.miss1-p.miss0
		}
	}
	return pc
}

// sigCache scrapes the node's signature cache counters.
func (p *nodeProbe) sigCache() (hits, misses uint64, err error) {
	resp, err := p.client.Get(p.metricsURL)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%s: %s", p.metricsURL, resp.Status)
	}
	vals := map[string]uint64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != "chorus_signature_cache_hits_total" && name != "chorus_signature_cache_misses_total") {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %s: %w", p.metricsURL, name, err)
		}
		vals[name] = uint64(f)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if len(vals) != 2 {
		return 0, 0, fmt.Errorf("%s exports no signature cache counters", p.node.Name)
	}
	return vals["chorus_signature_cache_hits_total"], vals["chorus_signature_cache_misses_total"], nil
}

// LedgerCheck is the end of a run on a local network: every node's ledger
// verified, and the peers' commit hashes compared at one height.
type LedgerCheck struct {
	Channel string `json:"channel"`
	// Height is the peers' common height when their commit hashes were
	// compared.
	Height            uint64       `json:"height"`
	Verified          bool         `json:"verified"`
	CommitHashesEqual bool         `json:"commit_hashes_equal"`
	Nodes             []NodeLedger `json:"nodes"`
	Problem           string       `json:"problem,omitempty"`
}

// NodeLedger is one node's verified ledger.
type NodeLedger struct {
	Name         string `json:"name"`
	Height       uint64 `json:"height"`
	Transactions uint64 `json:"transactions"`
	Valid        uint64 `json:"valid"`
	Invalid      uint64 `json:"invalid"`
	CommitHash   string `json:"commit_hash,omitempty"`
	Failure      string `json:"failure,omitempty"`
}

// checkLedgers waits (up to wait) for every peer to reach the orderers'
// height, verifies every node's ledger, and compares the peers' commit
// hashes.
func checkLedgers(ctx context.Context, n *network.Network, channel string, wait time.Duration) *LedgerCheck {
	lc := &LedgerCheck{Channel: channel}
	target, err := converge(ctx, n, channel, wait)
	if err != nil {
		lc.Problem = err.Error()
	}
	lc.Height = target
	lc.Verified, lc.CommitHashesEqual = lc.Problem == "", lc.Problem == ""
	var hash string
	for _, nd := range n.Spec.Nodes {
		nl := NodeLedger{Name: nd.Name}
		rep, err := verifyNode(ctx, n, nd, channel)
		switch {
		case err != nil:
			nl.Failure = err.Error()
		case rep.Failure != "":
			nl.Failure = fmt.Sprintf("block %d, check %s: %s", rep.FailedBlock, rep.FailedCheck, rep.Failure)
		}
		if rep != nil {
			nl.Height, nl.Transactions, nl.Valid, nl.Invalid = rep.Height, rep.Transactions, rep.Valid, rep.Invalid
			if nd.Role == network.RolePeer {
				nl.CommitHash = hex.EncodeToString(rep.LastCommitHash)
			}
		}
		if nl.Failure != "" {
			lc.Verified = false
		}
		if nd.Role == network.RolePeer {
			switch {
			case nl.Height != target:
				lc.CommitHashesEqual = false
			case hash == "":
				hash = nl.CommitHash
			case nl.CommitHash != hash:
				lc.CommitHashesEqual = false
			}
		}
		lc.Nodes = append(lc.Nodes, nl)
	}
	if hash == "" {
		lc.CommitHashesEqual = false
	}
	return lc
}

// converge waits until every node of the network has the same height on
// channel and returns it.
func converge(ctx context.Context, n *network.Network, channel string, wait time.Duration) (uint64, error) {
	deadline := time.Now().Add(wait)
	for {
		heights := map[string]uint64{}
		var top uint64
		for _, nd := range n.Spec.Nodes {
			h, err := height(ctx, n, nd, channel)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", nd.Name, err)
			}
			heights[nd.Name] = h
			top = max(top, h)
		}
		behind := []string{}
		for name, h := range heights {
			if h != top {
				behind = append(behind, fmt.Sprintf("%s at %d", name, h))
			}
		}
		if len(behind) == 0 {
			return top, nil
		}
		if time.Now().After(deadline) {
			return top, fmt.Errorf("after %v the nodes still differ: height %d, but %s", wait, top, strings.Join(behind, ", "))
		}
		select {
		case <-ctx.Done():
			return top, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func height(ctx context.Context, n *network.Network, nd network.Node, channel string) (uint64, error) {
	admin, closeAdmin, err := n.Admin(nd)
	if err != nil {
		return 0, err
	}
	defer closeAdmin()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := admin.ListChannels(ctx, &adminpb.ListChannelsRequest{})
	if err != nil {
		return 0, err
	}
	for _, c := range resp.Channels {
		if c.Channel == channel {
			return c.Height, nil
		}
	}
	return 0, fmt.Errorf("has not joined channel %s", channel)
}

func verifyNode(ctx context.Context, n *network.Network, nd network.Node, channel string) (*adminpb.LedgerReport, error) {
	q, closeQ, err := n.LedgerQuery(nd)
	if err != nil {
		return nil, err
	}
	defer closeQ()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return q.VerifyLedger(ctx, &adminpb.VerifyLedgerRequest{Channel: channel})
}

// raftLeader names the orderer that reports itself the leader of the
// channel's consensus, or "" when none does (an election under way, or
// the orderers cannot be asked).
func raftLeader(ctx context.Context, n *network.Network, channel string) string {
	for _, nd := range n.Nodes(network.RoleOrderer) {
		admin, closeAdmin, err := n.Admin(nd)
		if err != nil {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := admin.ListChannels(qctx, &adminpb.ListChannelsRequest{})
		cancel()
		closeAdmin()
		if err != nil {
			continue
		}
		for _, c := range resp.Channels {
			if c.Channel == channel && c.ConsensusRole == "leader" {
				return nd.Name
			}
		}
	}
	return ""
}

func orUnknown(name string) string {
	if name == "" {
		return "unknown"
	}
	return name
}

// settleLimit bounds how long a run waits for its nodes to settle.
const settleLimit = 3 * time.Minute

// settleIdleCores is the CPU, in cores summed over the nodes, under which
// they count as idle: Raft's heartbeats and the metrics scrapes cost a few
// hundredths of a core, a compaction a whole one.
const settleIdleCores = 0.25

// settle waits until n's running node processes together use less than
// settleIdleCores for two half-second intervals in a row, or limit
// passes; it returns how long it waited and whether the nodes went idle.
// A node that stops meanwhile fails it: the run would measure a broken
// network.
func settle(ctx context.Context, n *network.Network, limit time.Duration) (time.Duration, bool, error) {
	var nodes []network.Node
	for _, nd := range n.Spec.Nodes {
		if _, ok := n.PID(nd); ok {
			nodes = append(nodes, nd)
		}
	}
	if len(nodes) == 0 {
		return 0, false, fmt.Errorf("no node of %s is running", n.Dir)
	}
	sample := func() (time.Duration, error) {
		var sum time.Duration
		for _, nd := range nodes {
			pid, ok := n.PID(nd)
			if !ok {
				return 0, fmt.Errorf("%s stopped while the nodes settled after the preload", nd.Name)
			}
			c, err := processCPU(pid)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", nd.Name, err)
			}
			sum += c
		}
		return sum, nil
	}
	return settleSamples(ctx, sample, 500*time.Millisecond, limit)
}

// settleSamples waits until the CPU time that sample returns (a running
// total) grows by less than settleIdleCores × interval in two intervals
// in a row, or limit passes, or sample fails.
func settleSamples(ctx context.Context, sample func() (time.Duration, error), interval, limit time.Duration) (time.Duration, bool, error) {
	started := time.Now()
	prev, err := sample()
	if err != nil {
		return 0, false, err
	}
	quiet := 0
	for quiet < 2 {
		if time.Since(started) >= limit {
			return time.Since(started), false, nil
		}
		select {
		case <-ctx.Done():
			return time.Since(started), false, ctx.Err()
		case <-time.After(interval):
		}
		now, err := sample()
		if err != nil {
			return time.Since(started), false, err
		}
		if float64(now-prev) < settleIdleCores*float64(interval) {
			quiet++
		} else {
			quiet = 0
		}
		prev = now
	}
	return time.Since(started), true, nil
}
