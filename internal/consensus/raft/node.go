package raft

import (
	"errors"
	"fmt"
	"log/slog"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// Entry is one committed entry handed to the StateMachine.
type Entry struct {
	Index uint64
	Term  uint64
	Data  []byte
}

// StateMachine is what committed entries are applied to. Node calls it from
// the goroutine that calls Node.Ready, never concurrently.
type StateMachine interface {
	// Apply applies one committed entry. Entries arrive in index order; an
	// entry at or below Applied() is never passed again.
	Apply(e Entry) error
	// Applied returns the index of the last entry whose effects are
	// durable, 0 if none.
	Applied() uint64
	// SnapshotData summarises the state after the last applied entry.
	SnapshotData() ([]byte, error)
	// Restore brings the state up to a snapshot taken by another node at
	// index. After it returns, Applied() must report at least index.
	Restore(data []byte, index uint64) error
}

// Config tunes a Node. Zero fields take the defaults given.
type Config struct {
	// ID is this node's consenter id: non-zero, never reused.
	ID uint64
	// ElectionTick is the election timeout in ticks (default 20); generous,
	// because elections flap on loaded 2-core machines under -race.
	ElectionTick int
	// HeartbeatTick is the heartbeat interval in ticks (default 2).
	HeartbeatTick int
	// MaxSizePerMsg bounds an append message (default 16 MiB: entries are
	// whole blocks).
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds unacknowledged appends per follower (default 256).
	MaxInflightMsgs int
	// SnapshotIntervalBytes of applied entries trigger a snapshot (default 16 MiB).
	SnapshotIntervalBytes uint64
	// SnapshotCatchUpEntries are kept in the log after a snapshot (default 4).
	SnapshotCatchUpEntries uint64
	// Logger receives raft's own messages; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ElectionTick == 0 {
		c.ElectionTick = 20
	}
	if c.HeartbeatTick == 0 {
		c.HeartbeatTick = 2
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = 16 << 20
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = 256
	}
	if c.SnapshotIntervalBytes == 0 {
		c.SnapshotIntervalBytes = 16 << 20
	}
	if c.SnapshotCatchUpEntries == 0 {
		c.SnapshotCatchUpEntries = 4
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Status is a node's view of its channel's consensus.
type Status struct {
	ID          uint64
	Leader      uint64 // 0 when unknown
	Term        uint64
	Role        string // "leader", "follower", "candidate", "pre-candidate"
	Applied     uint64
	LeaderReady bool // this node leads and may propose
}

// Output is what one Ready produced for the host.
type Output struct {
	// Messages must be sent to their recipients; their state is already
	// durable. After sending a MsgSnap, call ReportSnapshot.
	Messages []raftpb.Message
	// LeaderChanged is set when the known leader or this node's role changed.
	LeaderChanged bool
}

// Node is one consenter's Raft state machine. It is not safe for
// concurrent use: one goroutine calls all its methods.
type Node struct {
	cfg     Config
	rn      *raft.RawNode
	storage *Storage
	sm      StateMachine
	log     *slog.Logger

	applied          uint64
	bytesSinceSnap   uint64
	lead             uint64
	role             raft.StateType
	term             uint64
	leaderReady      bool
	snapshotsTaken   int
	snapshotsApplied int
}

// NewNode starts (or restarts) the node over bootstrapped storage.
func NewNode(cfg Config, storage *Storage, sm StateMachine) (*Node, error) {
	cfg.setDefaults()
	if cfg.ID == 0 {
		return nil, errors.New("raft: consenter id must be non-zero")
	}
	if storage.IsEmpty() {
		return nil, errors.New("raft: storage is not bootstrapped; the channel's consenters must bootstrap it first")
	}
	applied := sm.Applied()
	snap, err := storage.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("raft: read snapshot: %w", err)
	}
	if applied < snap.Metadata.Index {
		// The node persisted a snapshot from the leader but crashed
		// before catching its state up to it: finish that now.
		if err := sm.Restore(snap.Data, snap.Metadata.Index); err != nil {
			return nil, fmt.Errorf("raft: restore snapshot at index %d: %w", snap.Metadata.Index, err)
		}
		applied = snap.Metadata.Index
	}
	if hs, _, _ := storage.InitialState(); applied > hs.Commit {
		return nil, fmt.Errorf("raft: state machine applied index %d beyond the durable commit index %d: storage is corrupt", applied, hs.Commit)
	}
	rc := &raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              cfg.ElectionTick,
		HeartbeatTick:             cfg.HeartbeatTick,
		Storage:                   storage,
		Applied:                   applied,
		MaxSizePerMsg:             cfg.MaxSizePerMsg,
		MaxInflightMsgs:           cfg.MaxInflightMsgs,
		MaxCommittedSizePerReady:  cfg.MaxSizePerMsg,
		CheckQuorum:               true,
		PreVote:                   true,
		DisableProposalForwarding: true,
		Logger:                    raftLogger{cfg.Logger.With("consenter", cfg.ID)},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, fmt.Errorf("raft: start node %d: %w", cfg.ID, err)
	}
	return &Node{cfg: cfg, rn: rn, storage: storage, sm: sm, log: cfg.Logger, applied: applied}, nil
}

// Tick advances the node's logical clock by one tick.
func (n *Node) Tick() { n.rn.Tick() }

// Step hands the node a message received from another consenter.
func (n *Node) Step(m raftpb.Message) error {
	if raft.IsLocalMsg(m.Type) {
		return fmt.Errorf("raft: refusing local message type %s from the network", m.Type)
	}
	if err := n.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		return fmt.Errorf("raft: step %s from %d: %w", m.Type, m.From, err)
	}
	return nil
}

// Propose submits data for ordering. Only a ready leader accepts; others
// return a retryable error (NotLeaderError, ErrNoLeader, ErrNotReady).
func (n *Node) Propose(data []byte) error {
	switch {
	case n.role != raft.StateLeader && n.lead == 0:
		return ErrNoLeader
	case n.role != raft.StateLeader:
		return &NotLeaderError{Leader: n.lead}
	case !n.leaderReady:
		return ErrNotReady
	}
	if err := n.rn.Propose(data); err != nil {
		if errors.Is(err, raft.ErrProposalDropped) {
			return ErrProposalDropped
		}
		return fmt.Errorf("raft: propose: %w", err)
	}
	return nil
}

// ReportUnreachable tells raft that a message to id could not be sent.
func (n *Node) ReportUnreachable(id uint64) { n.rn.ReportUnreachable(id) }

// ReportSnapshot tells raft whether a snapshot sent to id arrived.
func (n *Node) ReportSnapshot(id uint64, ok bool) {
	st := raft.SnapshotFinish
	if !ok {
		st = raft.SnapshotFailure
	}
	n.rn.ReportSnapshot(id, st)
}

// HasReady reports whether Ready has work to do.
func (n *Node) HasReady() bool { return n.rn.HasReady() }

// Status returns the node's current view.
func (n *Node) Status() Status {
	return Status{
		ID:          n.cfg.ID,
		Leader:      n.lead,
		Term:        n.term,
		Role:        roleName(n.role),
		Applied:     n.applied,
		LeaderReady: n.role == raft.StateLeader && n.leaderReady,
	}
}

// Ready processes one batch of raft's output following the Ready contract:
// persist, apply, then Advance. It returns the messages to send. An error is
// fatal for the node: storage or the state machine failed.
func (n *Node) Ready() (Output, error) {
	var out Output
	if !n.rn.HasReady() {
		return out, nil
	}
	rd := n.rn.Ready()
	if rd.SoftState != nil {
		if rd.SoftState.Lead != n.lead || rd.SoftState.RaftState != n.role {
			out.LeaderChanged = true
			n.log.Info("raft role changed", "consenter", n.cfg.ID, "leader", rd.SoftState.Lead, "role", roleName(rd.SoftState.RaftState))
		}
		if rd.SoftState.RaftState != raft.StateLeader {
			n.leaderReady = false
		}
		n.lead, n.role = rd.SoftState.Lead, rd.SoftState.RaftState
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if rd.HardState.Term != n.term {
			n.leaderReady = false
		}
		n.term = rd.HardState.Term
	}
	// 1. Durable before anything is sent.
	if err := n.storage.Save(rd.HardState, rd.Entries, rd.Snapshot); err != nil {
		return out, err
	}
	// 2. The host sends these after we return.
	out.Messages = rd.Messages
	// 3. Apply.
	if !raft.IsEmptySnap(rd.Snapshot) && rd.Snapshot.Metadata.Index > n.applied {
		if err := n.sm.Restore(rd.Snapshot.Data, rd.Snapshot.Metadata.Index); err != nil {
			return out, fmt.Errorf("raft: restore snapshot at index %d: %w", rd.Snapshot.Metadata.Index, err)
		}
		n.applied = rd.Snapshot.Metadata.Index
		n.bytesSinceSnap = 0
		n.snapshotsApplied++
	}
	for i := range rd.CommittedEntries {
		if err := n.apply(rd.CommittedEntries[i]); err != nil {
			return out, err
		}
	}
	if err := n.maybeSnapshot(); err != nil {
		return out, err
	}
	// 4. Advance.
	n.rn.Advance(rd)
	return out, nil
}

func (n *Node) apply(e raftpb.Entry) error {
	if e.Index <= n.applied {
		return nil
	}
	switch e.Type {
	case raftpb.EntryNormal:
		if len(e.Data) == 0 {
			// The empty entry a leader appends when its term starts: once
			// it is applied, so is everything ordered before the term.
			if n.role == raft.StateLeader && e.Term == n.term {
				n.leaderReady = true
			}
			break
		}
		if err := n.sm.Apply(Entry{Index: e.Index, Term: e.Term, Data: e.Data}); err != nil {
			return fmt.Errorf("raft: apply entry %d: %w", e.Index, err)
		}
		n.bytesSinceSnap += uint64(len(e.Data))
	case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeI
		if e.Type == raftpb.EntryConfChange {
			var c raftpb.ConfChange
			if err := c.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("raft: decode conf change at %d: %w", e.Index, err)
			}
			cc = c
		} else {
			var c raftpb.ConfChangeV2
			if err := c.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("raft: decode conf change at %d: %w", e.Index, err)
			}
			cc = c
		}
		cs := n.rn.ApplyConfChange(cc)
		if err := n.storage.SaveConfState(*cs); err != nil {
			return err
		}
	}
	n.applied = e.Index
	return nil
}

func (n *Node) maybeSnapshot() error {
	if n.bytesSinceSnap < n.cfg.SnapshotIntervalBytes {
		return nil
	}
	applied := n.sm.Applied()
	if applied != n.applied {
		// Only normal entries with data reach the state machine; a
		// snapshot must describe exactly the applied index, so wait for
		// the next data entry.
		return nil
	}
	data, err := n.sm.SnapshotData()
	if err != nil {
		return fmt.Errorf("raft: snapshot data: %w", err)
	}
	var compactTo uint64
	if applied > n.cfg.SnapshotCatchUpEntries {
		compactTo = applied - n.cfg.SnapshotCatchUpEntries
	}
	if err := n.storage.CreateSnapshot(applied, data, compactTo); err != nil {
		return err
	}
	n.bytesSinceSnap = 0
	n.snapshotsTaken++
	n.log.Debug("raft snapshot", "consenter", n.cfg.ID, "index", applied)
	return nil
}

// SnapshotCounts returns how many snapshots this node took and applied
// since it started, for tests and metrics.
func (n *Node) SnapshotCounts() (taken, applied int) { return n.snapshotsTaken, n.snapshotsApplied }

// Campaign makes the node start an election now. Used to transfer
// leadership on shutdown and in tests; normal elections need no help.
func (n *Node) Campaign() error { return n.rn.Campaign() }

// maxTransferLag is how many entries a follower's log may lag the
// leader's for TransferLeadership to hand it leadership: etcd raft
// refuses proposals until the follower has caught up and won, so it must
// be close.
const maxTransferLag = 32

// TransferLeadership asks this node, if it leads, to hand leadership to
// consenter id, and reports whether it did. It refuses unless id is a
// voter that answered recently, is being replicated to (not sent a
// snapshot), and lags by at most maxTransferLag entries. Raft then brings
// id's log up to date and has it campaign at once; meanwhile, for at most
// an election timeout, the leader refuses proposals.
func (n *Node) TransferLeadership(id uint64) bool {
	if n.role != raft.StateLeader || id == n.cfg.ID {
		return false
	}
	st := n.rn.Status()
	self, target := st.Progress[n.cfg.ID], st.Progress[id]
	if target.IsLearner || !target.RecentActive || target.State != tracker.StateReplicate || self.Match > target.Match+maxTransferLag {
		n.log.Info("raft leadership not handed over: the consenter is not ready", "consenter", n.cfg.ID, "to", id,
			"state", target.State.String(), "recent_active", target.RecentActive, "lag", int64(self.Match)-int64(target.Match))
		return false
	}
	n.rn.TransferLeader(id)
	return true
}

func roleName(s raft.StateType) string {
	switch s {
	case raft.StateLeader:
		return "leader"
	case raft.StateCandidate:
		return "candidate"
	case raft.StatePreCandidate:
		return "pre-candidate"
	default:
		return "follower"
	}
}

// raftLogger adapts slog to etcd raft's logger interface.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...any)                 { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Debugf(format string, v ...any) { r.l.Debug(fmt.Sprintf(format, v...)) }
func (r raftLogger) Info(v ...any)                  { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Infof(format string, v ...any)  { r.l.Debug(fmt.Sprintf(format, v...)) }
func (r raftLogger) Warning(v ...any)               { r.l.Warn(fmt.Sprint(v...)) }
func (r raftLogger) Warningf(format string, v ...any) {
	r.l.Warn(fmt.Sprintf(format, v...))
}
func (r raftLogger) Error(v ...any)                 { r.l.Error(fmt.Sprint(v...)) }
func (r raftLogger) Errorf(format string, v ...any) { r.l.Error(fmt.Sprintf(format, v...)) }
func (r raftLogger) Fatal(v ...any)                 { r.l.Error(fmt.Sprint(v...)); panic(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(format string, v ...any) {
	r.l.Error(fmt.Sprintf(format, v...))
	panic(fmt.Sprintf(format, v...))
}
func (r raftLogger) Panic(v ...any)                 { panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }
