package orderer

import (
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
