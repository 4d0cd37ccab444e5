package simnet

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/kv"
	"go.etcd.io/raft/v3/raftpb"
)

// Options describe one simulated schedule.
type Options struct {
	Seed  uint64
	Nodes int // consenters: 3 or 5

	// FaultTicks is how long faults are injected; afterwards the network
	// heals and the run checks that the cluster recovers.
	FaultTicks int
	// RecoveryTicks bounds how long recovery may take.
	RecoveryTicks int

	DropRate   float64 // probability that a message is lost
	DupRate    float64 // probability that a message is delivered twice
	MaxDelay   int     // steps a message may take (a tick is StepsPerTick steps)
	SubmitRate float64 // probability per tick that a client submits a batch

	// Fault events: on average one every FaultEvery ticks, a partition,
	// a heal, a crash of a random node or of the leader, or a restart.
	FaultEvery int

	// CrashRate is the probability that a node is killed right after
	// sending the messages of one Ready: power cut at any instant.
	CrashRate float64
	// RestartRate is the probability per tick that a down node restarts.
	RestartRate float64

	// LagPhase isolates one follower for this many ticks at the start of
	// the fault phase while the others make progress, so that it must
	// catch up from a snapshot.
	LagPhase int

	// SnapshotIntervalBytes and CatchUpEntries are passed to each node:
	// small values force snapshots and log compaction within a schedule.
	SnapshotIntervalBytes uint64
	CatchUpEntries        uint64
	PaddingBytes          int // size of each batch
	ElectionTick          int
	HeartbeatTick         int
}

// StepsPerTick is the number of logical steps in one tick.
const StepsPerTick = 10

// DefaultOptions is a schedule with every kind of fault enabled.
func DefaultOptions(seed uint64) Options {
	return Options{
		Seed:                  seed,
		Nodes:                 3,
		FaultTicks:            600,
		RecoveryTicks:         400,
		DropRate:              0.05,
		DupRate:               0.02,
		MaxDelay:              2 * StepsPerTick,
		SubmitRate:            0.6,
		FaultEvery:            40,
		CrashRate:             0.002,
		RestartRate:           0.05,
		LagPhase:              120,
		SnapshotIntervalBytes: 8 << 10,
		CatchUpEntries:        4,
		PaddingBytes:          512,
		ElectionTick:          10,
		HeartbeatTick:         1,
	}
}

// Stats counts what happened in one schedule.
type Stats struct {
	Ticks            int
	Submitted        int
	Acknowledged     int
	Rejected         int // submissions refused (no ready leader)
	MessagesSent     int
	MessagesDropped  int
	MessagesDuped    int
	Partitions       int
	Crashes          int
	LeaderCrashes    int
	Restarts         int
	SkippedBlocks    int // stale blocks skipped identically by every node
	SnapshotsTaken   int
	SnapshotRestores int
	BlocksFetched    int
	Elections        int // leadership changes observed
	FinalHeight      uint64
}

func (s Stats) String() string {
	return fmt.Sprintf("ticks=%d submitted=%d acked=%d rejected=%d msgs=%d dropped=%d duped=%d partitions=%d crashes=%d (leader %d) restarts=%d skipped=%d snapshots=%d restores=%d fetched=%d leader-changes=%d height=%d",
		s.Ticks, s.Submitted, s.Acknowledged, s.Rejected, s.MessagesSent, s.MessagesDropped, s.MessagesDuped,
		s.Partitions, s.Crashes, s.LeaderCrashes, s.Restarts, s.SkippedBlocks, s.SnapshotsTaken,
		s.SnapshotRestores, s.BlocksFetched, s.Elections, s.FinalHeight)
}

type simNode struct {
	id    uint64
	fs    *kv.MemFS
	db    *kv.DB
	node  *raft.Node
	chain *chain
	up    bool
	group int // partition group; nodes talk only within a group
	lead  uint64
	ready bool
}

// Sim is one running schedule.
type Sim struct {
	t     *testing.T
	opts  Options
	rng   *rand.Rand
	now   int // steps
	seq   int
	queue eventQueue
	nodes []*simNode // index i holds consenter id i+1
	stats Stats
	trace []string

	nextBatch uint64
	acked     map[uint64]uint64 // batch → node that acknowledged it
	ackOrder  []uint64
	faulty    bool // within the fault phase
}

type event struct {
	at  int
	seq int
	to  uint64
	msg []byte // marshalled raftpb.Message
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// Run executes one schedule and checks its history. It fails t on any
// violation, printing the schedule's trace. It installs a seeded global
// crypto/rand source, so it must not run in parallel with other tests.
func Run(t *testing.T, opts Options) Stats {
	t.Helper()
	cryptotest.SetGlobalRandom(t, opts.Seed)
	s := &Sim{t: t, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x5eed)), acked: map[uint64]uint64{}}
	defer s.close()
	s.start()
	s.runFaults()
	s.heal()
	s.recover()
	s.check()
	for _, n := range s.nodes {
		if n.node != nil {
			taken, _ := n.node.SnapshotCounts()
			s.stats.SnapshotsTaken += taken
		}
	}
	s.stats.FinalHeight = s.nodes[0].chain.height()
	return s.stats
}

func (s *Sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("t=%d.%d ", s.now/StepsPerTick, s.now%StepsPerTick)+fmt.Sprintf(format, args...))
}

func (s *Sim) fatalf(format string, args ...any) {
	s.t.Helper()
	tail := s.trace
	if len(tail) > 200 {
		tail = tail[len(tail)-200:]
	}
	s.t.Fatalf("seed %d: %s\nlast events:\n%s", s.opts.Seed, fmt.Sprintf(format, args...), strings.Join(tail, "\n"))
}

func (s *Sim) start() {
	voters := make([]uint64, s.opts.Nodes)
	for i := range voters {
		voters[i] = uint64(i + 1)
	}
	for _, id := range voters {
		n := &simNode{id: id, fs: kv.NewCrashableMemFS()}
		db, err := kv.Open("node", kv.Options{FS: n.fs})
		if err != nil {
			s.fatalf("open node %d: %v", id, err)
		}
		st, err := raft.OpenStorage(db, "ch")
		if err != nil {
			s.fatalf("%v", err)
		}
		genesis, _ := (&chain{}).SnapshotData()
		if err := st.Bootstrap(voters, genesis); err != nil {
			s.fatalf("bootstrap node %d: %v", id, err)
		}
		db.Close()
		s.nodes = append(s.nodes, n)
		s.boot(n)
	}
}

// boot opens a node's database (as left by a crash, if any) and restarts
// its consenter.
func (s *Sim) boot(n *simNode) {
	db, err := kv.Open("node", kv.Options{FS: n.fs})
	if err != nil {
		s.fatalf("open node %d: %v", n.id, err)
	}
	st, err := raft.OpenStorage(db, "ch")
	if err != nil {
		s.fatalf("node %d: %v", n.id, err)
	}
	c, err := loadChain(n.id, db, s)
	if err != nil {
		s.fatalf("node %d: %v", n.id, err)
	}
	n.db, n.chain = db, c
	node, err := raft.NewNode(raft.Config{
		ID:                     n.id,
		ElectionTick:           s.opts.ElectionTick,
		HeartbeatTick:          s.opts.HeartbeatTick,
		SnapshotIntervalBytes:  s.opts.SnapshotIntervalBytes,
		SnapshotCatchUpEntries: s.opts.CatchUpEntries,
	}, st, c)
	if err != nil {
		// A node that cannot start yet (for example a snapshot it cannot
		// fetch blocks for while partitioned) stays down and is retried.
		s.logf("node %d failed to start: %v", n.id, err)
		db.Close()
		n.db, n.chain = nil, nil
		return
	}
	n.node, n.up, n.lead, n.ready = node, true, 0, false
	s.logf("node %d up (height %d, applied %d)", n.id, c.height(), c.applied)
}

func (s *Sim) crash(n *simNode, why string) {
	if !n.up {
		return
	}
	s.logf("crash node %d (%s)", n.id, why)
	taken, _ := n.node.SnapshotCounts()
	s.stats.SnapshotsTaken += taken
	crashed := kv.CrashClone(n.fs)
	n.db.Close()
	n.fs, n.db, n.node, n.chain, n.up = crashed, nil, nil, nil, false
	s.stats.Crashes++
}

func (s *Sim) restart(n *simNode) {
	if n.up {
		return
	}
	s.stats.Restarts++
	s.boot(n)
}

func (s *Sim) close() {
	for _, n := range s.nodes {
		if n.db != nil {
			n.db.Close()
		}
	}
}

func (s *Sim) node(id uint64) *simNode { return s.nodes[id-1] }

func (s *Sim) connected(a, b *simNode) bool { return a.up && b.up && a.group == b.group }

// send queues a node's outgoing messages with random loss, delay and
// duplication.
func (s *Sim) send(from *simNode, msgs []raftpb.Message) {
	for i := range msgs {
		m := msgs[i]
		s.stats.MessagesSent++
		to := s.node(m.To)
		if !s.connected(from, to) {
			s.stats.MessagesDropped++
			from.node.ReportUnreachable(m.To)
			if m.Type == raftpb.MsgSnap {
				from.node.ReportSnapshot(m.To, false)
			}
			continue
		}
		if s.rng.Float64() < s.opts.DropRate {
			s.stats.MessagesDropped++
			if m.Type == raftpb.MsgSnap {
				from.node.ReportSnapshot(m.To, false)
			}
			continue
		}
		data, err := m.Marshal()
		if err != nil {
			s.fatalf("marshal %s: %v", m.Type, err)
		}
		copies := 1
		if s.rng.Float64() < s.opts.DupRate {
			copies = 2
			s.stats.MessagesDuped++
		}
		for c := 0; c < copies; c++ {
			s.seq++
			heap.Push(&s.queue, &event{at: s.now + 1 + s.rng.IntN(s.opts.MaxDelay), seq: s.seq, to: m.To, msg: data})
		}
		if m.Type == raftpb.MsgSnap {
			// The transport reports a snapshot once it has handed it over.
			from.node.ReportSnapshot(m.To, true)
		}
	}
}

// process runs a node's Ready loop until it has nothing left to do.
func (s *Sim) process(n *simNode) {
	for n.up && n.node.HasReady() {
		out, err := n.node.Ready()
		if err != nil {
			// A node whose storage or state machine fails stops, as a
			// process would; it is restarted later.
			s.logf("node %d stopped: %v", n.id, err)
			s.crash(n, "fatal error")
			return
		}
		s.send(n, out.Messages)
		if s.faulty && len(out.Messages) > 0 && s.rng.Float64() < s.opts.CrashRate {
			s.crash(n, "power cut after a ready")
			return
		}
		st := n.node.Status()
		if st.Leader != n.lead || st.LeaderReady != n.ready {
			if st.Leader != n.lead {
				s.stats.Elections++
			}
			s.logf("node %d sees leader %d term %d (%s, ready=%v)", n.id, st.Leader, st.Term, st.Role, st.LeaderReady)
			n.lead, n.ready = st.Leader, st.LeaderReady
			n.chain.resetCutter()
		}
	}
}

func (s *Sim) deliverUntil(until int) {
	for s.queue.Len() > 0 && s.queue[0].at <= until {
		e := heap.Pop(&s.queue).(*event)
		s.now = e.at
		var m raftpb.Message
		if err := m.Unmarshal(e.msg); err != nil {
			s.fatalf("unmarshal: %v", err)
		}
		to := s.node(e.to)
		from := s.node(m.From)
		if !s.connected(from, to) {
			s.stats.MessagesDropped++
			continue
		}
		if err := to.node.Step(m); err != nil {
			s.logf("node %d step: %v", to.id, err)
		}
		s.process(to)
	}
	s.now = until
}

// tick advances every live node by one tick.
func (s *Sim) tick() {
	s.deliverUntil(s.now + StepsPerTick)
	s.stats.Ticks++
	for _, n := range s.nodes {
		if n.up {
			n.node.Tick()
			s.process(n)
		}
	}
}

// leader returns the node that may propose, preferring the lowest id if a
// stale leader in a minority still believes it leads.
func (s *Sim) leader() *simNode {
	for _, n := range s.nodes {
		if n.up && n.node.Status().LeaderReady {
			return n
		}
	}
	return nil
}

// submit has a client send one new batch to the leader, which cuts it into
// a block and proposes it.
func (s *Sim) submit() {
	s.nextBatch++
	batch := s.nextBatch
	s.stats.Submitted++
	l := s.leader()
	if l == nil {
		s.stats.Rejected++
		return
	}
	b := l.chain.cut(batch, s.opts.PaddingBytes)
	if err := l.node.Propose(b.encode()); err != nil {
		if !raft.IsRetryable(err) {
			s.fatalf("node %d: propose: %v", l.id, err)
		}
		s.stats.Rejected++
		return
	}
	l.chain.proposed(b)
	s.logf("node %d proposed block %d (batch %d)", l.id, b.Number, batch)
	s.process(l)
}

func (s *Sim) acknowledge(batch, node uint64) {
	if prev, ok := s.acked[batch]; ok {
		s.fatalf("batch %d acknowledged twice (by node %d, then node %d)", batch, prev, node)
	}
	s.acked[batch] = node
	s.ackOrder = append(s.ackOrder, batch)
	s.stats.Acknowledged++
}

// fetchSource returns a reachable, live node with at least height blocks.
func (s *Sim) fetchSource(to uint64, height uint64) *chain {
	me := s.node(to)
	for _, n := range s.nodes {
		if n.id != to && n.up && n.group == me.group && n.chain.height() >= height {
			return n.chain
		}
	}
	return nil
}

func (s *Sim) partition(groups map[uint64]int) {
	s.stats.Partitions++
	var desc []string
	for _, n := range s.nodes {
		n.group = groups[n.id]
		desc = append(desc, fmt.Sprintf("%d:%d", n.id, n.group))
	}
	s.logf("partition %s", strings.Join(desc, " "))
}

func (s *Sim) runFaults() {
	lagging := uint64(0)
	if s.opts.LagPhase > 0 {
		// Isolate a follower while the others move on far enough to
		// snapshot and compact past it.
		for t := 0; t < 5*s.opts.ElectionTick && s.leader() == nil; t++ {
			s.tick()
			if s.rng.Float64() < s.opts.SubmitRate {
				s.submit()
			}
		}
		for _, n := range s.nodes {
			if l := s.leader(); l != nil && n != l {
				lagging = n.id
				break
			}
		}
		if lagging != 0 {
			s.partition(map[uint64]int{lagging: 1})
		}
	}
	s.faulty = true
	defer func() { s.faulty = false }()
	for t := 0; t < s.opts.FaultTicks; t++ {
		for _, n := range s.nodes {
			if !n.up && s.rng.Float64() < s.opts.RestartRate {
				s.restart(n)
			}
		}
		if lagging != 0 && t == s.opts.LagPhase {
			s.logf("lagging node %d rejoins", lagging)
			s.partition(map[uint64]int{})
			lagging = 0
		}
		s.tick()
		if s.rng.Float64() < s.opts.SubmitRate {
			s.submit()
		}
		if lagging == 0 && s.opts.FaultEvery > 0 && s.rng.IntN(s.opts.FaultEvery) == 0 {
			s.fault()
		}
	}
}

// fault injects one random fault.
func (s *Sim) fault() {
	switch k := s.rng.IntN(6); k {
	case 0: // isolate one node
		s.partition(map[uint64]int{uint64(1 + s.rng.IntN(len(s.nodes))): 1})
	case 1: // split into two random groups
		g := map[uint64]int{}
		for _, n := range s.nodes {
			g[n.id] = s.rng.IntN(2)
		}
		s.partition(g)
	case 2: // heal
		s.logf("heal")
		for _, n := range s.nodes {
			n.group = 0
		}
	case 3: // crash the leader
		if l := s.leader(); l != nil && s.liveCount() == len(s.nodes) {
			s.stats.LeaderCrashes++
			s.crash(l, "leader")
		}
	case 4: // crash a random node, keeping a majority alive
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if s.liveCount() == len(s.nodes) {
			s.crash(n, "random")
		}
	case 5: // restart everything that is down
		for _, n := range s.nodes {
			s.restart(n)
		}
	}
}

func (s *Sim) liveCount() int {
	c := 0
	for _, n := range s.nodes {
		if n.up {
			c++
		}
	}
	return c
}

// heal ends the fault phase: one network, every node running, no loss.
func (s *Sim) heal() {
	s.logf("heal all and restart")
	for _, n := range s.nodes {
		n.group = 0
	}
	for _, n := range s.nodes {
		s.restart(n)
	}
	s.opts.DropRate, s.opts.DupRate = 0, 0
}

// recover runs until every node has caught up and a new batch has been
// acknowledged, or fails the schedule.
func (s *Sim) recover() {
	ackedBefore := s.stats.Acknowledged
	for t := 0; t < s.opts.RecoveryTicks; t++ {
		for _, n := range s.nodes {
			s.restart(n) // a node that could not start during faults
		}
		s.tick()
		if t%2 == 0 {
			s.submit()
		}
		if s.stats.Acknowledged > ackedBefore && s.converged() {
			// Settle: let the last proposals land everywhere.
			for i := 0; i < 3*s.opts.ElectionTick; i++ {
				s.tick()
			}
			if s.converged() {
				return
			}
		}
	}
	var hs []string
	for _, n := range s.nodes {
		if n.up {
			hs = append(hs, fmt.Sprintf("node %d: height %d %+v", n.id, n.chain.height(), n.node.Status()))
		} else {
			hs = append(hs, fmt.Sprintf("node %d: down", n.id))
		}
	}
	s.fatalf("no recovery within %d ticks after healing (acked %d → %d):\n%s", s.opts.RecoveryTicks, ackedBefore, s.stats.Acknowledged, strings.Join(hs, "\n"))
}

func (s *Sim) converged() bool {
	h := s.nodes[0].chain
	for _, n := range s.nodes {
		if !n.up || n.chain.height() != h.height() || n.chain.tip != h.tip {
			return false
		}
	}
	return true
}

// check verifies the history rules across all nodes.
func (s *Sim) check() {
	// The longest chain is the reference; every other is a prefix of it.
	var ref *chain
	for _, n := range s.nodes {
		if ref == nil || n.chain.height() > ref.height() {
			ref = n.chain
		}
	}
	for _, n := range s.nodes {
		c := n.chain
		for i, b := range c.blocks {
			if r := ref.blocks[i]; r.hash() != b.hash() {
				s.fatalf("node %d block %d (batch %d) differs from node %d's (batch %d)", n.id, i, b.Batch, ref.id, r.Batch)
			}
		}
	}
	// Hash links hold and no batch appears twice.
	seen := map[uint64]uint64{}
	var prev [32]byte
	for i, b := range ref.blocks {
		if b.Number != uint64(i) || b.Prev != prev {
			s.fatalf("block %d does not link to block %d", i, i-1)
		}
		prev = b.hash()
		if at, dup := seen[b.Batch]; dup {
			s.fatalf("batch %d ordered twice: blocks %d and %d", b.Batch, at, i)
		}
		seen[b.Batch] = uint64(i)
	}
	// Every acknowledged batch is in the chain.
	acked := append([]uint64(nil), s.ackOrder...)
	sort.Slice(acked, func(i, j int) bool { return acked[i] < acked[j] })
	for _, batch := range acked {
		if _, ok := seen[batch]; !ok {
			s.fatalf("batch %d was acknowledged by node %d but is not in the chain", batch, s.acked[batch])
		}
	}
}
