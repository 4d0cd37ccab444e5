package orderer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"go.etcd.io/raft/v3/raftpb"
)

// scriptedConsenter leads forever and accepts or refuses proposals as the
// test says; it records proposals and hand-over requests.
type scriptedConsenter struct {
	self  uint64
	done  chan struct{}
	watch chan raft.Status

	mu        sync.Mutex
	refuse    bool
	proposals int
	transfers []uint64
}

func newScriptedConsenter(self uint64) *scriptedConsenter {
	return &scriptedConsenter{self: self, done: make(chan struct{}), watch: make(chan raft.Status, 1)}
}

func (s *scriptedConsenter) Start() {}
func (s *scriptedConsenter) Stop()  {}
func (s *scriptedConsenter) Propose(context.Context, []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		return errors.New("proposal dropped: leadership is being handed over")
	}
	s.proposals++
	return nil
}
func (s *scriptedConsenter) Leader() (uint64, bool)              { return s.self, true }
func (s *scriptedConsenter) Done() <-chan struct{}               { return s.done }
func (s *scriptedConsenter) Watch() (<-chan raft.Status, func()) { return s.watch, func() {} }
func (s *scriptedConsenter) Step(raftpb.Message)                 {}
func (s *scriptedConsenter) TransferLeadership(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transfers = append(s.transfers, id)
}

func (s *scriptedConsenter) setRefuse(r bool) { s.mu.Lock(); s.refuse = r; s.mu.Unlock() }
func (s *scriptedConsenter) handovers() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.transfers)
}

// newCutLoop runs a chain's cutting loop over an empty ledger and a
// scripted consenter, cutting at two envelopes (and never on time).
func newCutLoop(t *testing.T, placement placementPolicy) (*chain, *scriptedConsenter) {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(db, "mychannel")
	if err != nil {
		t.Fatal(err)
	}
	w := &blockWriter{stopFetching: func() {}}
	settings := chainSettings{batch: BatchConfig{MaxMessageCount: 2, AbsoluteMaxBytes: 1 << 20, PreferredMaxBytes: 1 << 20, Timeout: time.Hour}}
	c := newChain("mychannel", 1, l, w, nil, settings, slog.New(slog.DiscardHandler))
	c.placement = placement
	cons := newScriptedConsenter(1)
	c.start(cons)
	t.Cleanup(func() {
		c.stop()
		l.Close()
		db.Close()
	})
	return c, cons
}

// rejections records which envelopes' origins were told of a refusal.
type rejections struct {
	mu   sync.Mutex
	seen map[string]int
}

func (r *rejections) submission(name string, from uint64, isConfig bool) submission {
	env := []byte("envelope " + name)
	return submission{env: env, hash: sha256.Sum256(env), txID: "tx-" + name, isConfig: isConfig, from: from,
		reject: func(string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.seen[name]++
		}}
}

func (r *rejections) names() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.seen)
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
	}
}

// TestCutLoopTellsTheOriginsOfARefusedBlock: when consensus refuses a cut
// block (leadership lost or being handed over), the origins of exactly
// its envelopes hear of it at once; those still pending, or in a block
// consensus took, do not.
func TestCutLoopTellsTheOriginsOfARefusedBlock(t *testing.T) {
	c, cons := newCutLoop(t, placementPolicy{})
	r := &rejections{seen: map[string]int{}}

	cons.setRefuse(true)
	for _, name := range []string{"a", "b", "c"} {
		c.submitC <- r.submission(name, 1, false) // a and b cut together; c pending
	}
	eventually(t, "a and b told", func() bool { n := r.names(); return n["a"] == 1 && n["b"] == 1 })

	// A configuration envelope cuts c first, then goes alone: two refused
	// blocks, each telling its own.
	c.submitC <- r.submission("config", 1, true)
	eventually(t, "c and config told", func() bool { n := r.names(); return n["c"] == 1 && n["config"] == 1 })

	// Accepted from now on: e and f form a block consensus takes.
	cons.setRefuse(false)
	for _, name := range []string{"e", "f", "g"} {
		c.submitC <- r.submission(name, 1, false)
	}
	eventually(t, "the block of e and f proposed", func() bool { cons.mu.Lock(); defer cons.mu.Unlock(); return cons.proposals == 1 })
	// g is pending; h joins it and the block [g, h] is refused: its
	// origins hear of it, e's and f's do not.
	cons.setRefuse(true)
	c.submitC <- r.submission("h", 1, false)
	eventually(t, "g and h told", func() bool { n := r.names(); return n["g"] == 1 && n["h"] == 1 })
	time.Sleep(20 * time.Millisecond)
	want := map[string]int{"a": 1, "b": 1, "c": 1, "config": 1, "g": 1, "h": 1}
	if got := r.names(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("origins told %v, want %v", got, want)
	}
}

// TestCutLoopHandsLeadershipToTheBusyFollower: envelopes arriving through
// one follower make the leader hand leadership to it; the same in-flight
// envelope re-sent again and again by another does not count.
func TestCutLoopHandsLeadershipToTheBusyFollower(t *testing.T) {
	policy := placementPolicy{Window: 30 * time.Millisecond, Windows: 3, MinEnvelopes: 4, SharePercent: 67}

	// One envelope from follower 3, on its way (its block proposed), re-sent
	// 20 times a window for 12 windows: nothing new arrives.
	c, cons := newCutLoop(t, policy)
	r := &rejections{seen: map[string]int{}}
	c.submitC <- r.submission("x", 3, false)
	c.submitC <- r.submission("y", 3, false)
	eventually(t, "x and y proposed", func() bool { cons.mu.Lock(); defer cons.mu.Unlock(); return cons.proposals == 1 })
	for deadline := time.Now().Add(12 * policy.Window); time.Now().Before(deadline); time.Sleep(policy.Window / 20) {
		c.submitC <- r.submission("x", 3, false)
	}
	if got := cons.handovers(); len(got) != 0 {
		t.Fatalf("an envelope re-sent while in flight drew leadership to %v", got)
	}

	// Follower 2 sends new envelopes steadily: leadership goes to it.
	c2, cons2 := newCutLoop(t, policy)
	i := 0
	for deadline := time.Now().Add(5 * time.Second); len(cons2.handovers()) == 0; time.Sleep(policy.Window / 10) {
		if time.Now().After(deadline) {
			t.Fatal("no hand-over within 5 s of steady traffic through follower 2")
		}
		c2.submitC <- r.submission(fmt.Sprintf("n%d", i), 2, false)
		i++
	}
	if got := cons2.handovers(); got[0] != 2 {
		t.Fatalf("hand-over to %v, want 2", got)
	}
}

// TestBlockWrittenWakesWaitersWithTheProposedHashes: a block this leader
// proposed wakes its envelopes' waiters with the hashes the submissions
// carried, not hashes computed again; a block with the same number but
// other data (another leader's) is hashed, and wakes its own waiters
// only. Either way the proposals up to the block's number are forgotten.
func TestBlockWrittenWakesWaitersWithTheProposedHashes(t *testing.T) {
	w := &blockWriter{stopFetching: func() {}}
	c := newChain("mychannel", 1, nil, w, nil, chainSettings{}, slog.New(slog.DiscardHandler))
	wait := func(env []byte) chan struct{} {
		done := make(chan struct{})
		c.waiters[sha256.Sum256(env)] = append(c.waiters[sha256.Sum256(env)], done)
		return done
	}
	closed := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	a, b := []byte("envelope a"), []byte("envelope b")
	ours := ledger.NewBlock(7, nil, [][]byte{a, b})
	// The hashes the submissions carried, as the proposal records them;
	// a's is marked so the test sees which hash was used.
	carried := [][32]byte{{0xaa}, sha256.Sum256(b)}
	c.inflight[carried[0]], c.inflight[carried[1]] = true, true
	c.proposed[6] = proposedBlock{dataHash: []byte("older")}
	c.proposed[7] = proposedBlock{dataHash: ours.Header.DataHash, batch: Batch{Envelopes: [][]byte{a, b}, Hashes: carried}}
	c.proposed[8] = proposedBlock{dataHash: []byte("newer")}
	doneB := wait(b)

	c.blockWritten(ours)
	if !closed(doneB) {
		t.Error("b's waiter not woken by the block holding b")
	}
	if len(c.inflight) != 0 {
		t.Errorf("in flight after the block was written: %v (the carried hashes were not used)", c.inflight)
	}
	if _, ok := c.proposed[8]; len(c.proposed) != 1 || !ok {
		t.Errorf("proposals kept: %v, want only block 8's", slices.Collect(maps.Keys(c.proposed)))
	}

	// Block 8 as another leader cut it: its data differs from the proposal.
	x := []byte("envelope x")
	foreign := ledger.NewBlock(8, nil, [][]byte{x})
	doneX := wait(x)
	c.proposed[8] = proposedBlock{dataHash: []byte("not block 8's data hash"), batch: Batch{Envelopes: [][]byte{x}, Hashes: [][32]byte{{0xbb}}}}
	c.inflight[[32]byte{0xbb}] = true
	c.blockWritten(foreign)
	if !closed(doneX) {
		t.Error("x's waiter not woken by another leader's block holding x")
	}
	if !c.inflight[[32]byte{0xbb}] {
		t.Error("an envelope of this leader's proposal was taken as written by another leader's block")
	}
	if len(c.proposed) != 0 {
		t.Errorf("proposals kept after block 8: %v", slices.Collect(maps.Keys(c.proposed)))
	}

	// Block 9 holds the bytes of this leader's proposal end to end, so the
	// same data hash, but split elsewhere: other envelopes.
	y, z := []byte("envelope y"), []byte("envelope z")
	proposal := ledger.NewBlock(9, nil, [][]byte{y, z})
	resplit := ledger.NewBlock(9, nil, [][]byte{[]byte("envelope yenv"), []byte("elope z")})
	if !bytes.Equal(proposal.Header.DataHash, resplit.Header.DataHash) {
		t.Fatal("the test's two blocks should share a data hash")
	}
	c.proposed[9] = proposedBlock{dataHash: proposal.Header.DataHash,
		batch: Batch{Envelopes: [][]byte{y, z}, Hashes: [][32]byte{sha256.Sum256(y), sha256.Sum256(z)}}}
	c.inflight[sha256.Sum256(y)] = true
	doneY := wait(y)
	c.blockWritten(resplit)
	if closed(doneY) || !c.inflight[sha256.Sum256(y)] {
		t.Error("a block split otherwise was taken for this leader's proposal")
	}
}

// TestCutLoopForgetsItsProposalsWhenItLeadsInANewTerm: the watcher keeps
// only the latest status, so a leader that lost leadership and won it
// back may only hear that it leads, in a new term. What it proposed in
// the old term may have been discarded: it must not stay in flight, where
// the envelopes' re-sent copies would be dropped as duplicates.
func TestCutLoopForgetsItsProposalsWhenItLeadsInANewTerm(t *testing.T) {
	c, cons := newCutLoop(t, placementPolicy{})
	r := &rejections{seen: map[string]int{}}
	// status hands the loop a status and waits until it has taken it, so
	// that it handles the status before what is sent next.
	status := func(st raft.Status) {
		cons.watch <- st
		eventually(t, "the status taken", func() bool { return len(cons.watch) == 0 })
	}
	status(raft.Status{ID: 1, Leader: 1, Term: 2, LeaderReady: true})
	for _, name := range []string{"a", "b"} {
		c.submitC <- r.submission(name, 1, false) // cut together and proposed
	}
	inflight := func() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.inflight) + len(c.proposed) }
	eventually(t, "a and b in flight", func() bool { return inflight() == 3 })

	// Same term again (a status published for another reason): kept.
	status(raft.Status{ID: 1, Leader: 1, Term: 2, LeaderReady: true})
	c.submitC <- r.submission("c", 1, false) // pending
	time.Sleep(20 * time.Millisecond)
	if n := inflight(); n != 3 {
		t.Fatalf("%d in flight or proposed after a status of the same term, want 3", n)
	}

	// Leading again in term 4: a and b are forgotten, c's origin is told.
	cons.watch <- raft.Status{ID: 1, Leader: 1, Term: 4, LeaderReady: true}
	eventually(t, "the old term's proposals forgotten", func() bool { return inflight() == 0 })
	eventually(t, "c's origin told", func() bool { return r.names()["c"] == 1 })
}
