package raft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/kv"
	"go.etcd.io/raft/v3/raftpb"
)

// recorder is a state machine that records what it applies.
type recorder struct {
	mu      sync.Mutex
	applied uint64
	data    []string
}

func (r *recorder) Apply(e Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = e.Index
	r.data = append(r.data, string(e.Data))
	return nil
}
func (r *recorder) Applied() uint64 { r.mu.Lock(); defer r.mu.Unlock(); return r.applied }
func (r *recorder) SnapshotData() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return []byte(fmt.Sprint(len(r.data))), nil
}
func (r *recorder) Restore(data []byte, index uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = index
	return nil
}
func (r *recorder) entries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.data...)
}

// newTestNode returns consenter id of a new group of voters, on an
// in-memory database closed when the test ends.
func newTestNode(t *testing.T, id uint64, voters []uint64, sm StateMachine) *Node {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := OpenStorage(db, "ch")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Bootstrap(voters, nil); err != nil {
		t.Fatal(err)
	}
	node, err := NewNode(Config{ID: id, ElectionTick: 10, HeartbeatTick: 1}, st, sm)
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// localTransport delivers messages between chains in one process.
type localTransport struct {
	mu     sync.Mutex
	chains map[uint64]*Chain
}

func (l *localTransport) Send(msgs []raftpb.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		data, _ := m.Marshal() // copy, as a real network would
		var c raftpb.Message
		_ = c.Unmarshal(data)
		if to, ok := l.chains[m.To]; ok {
			to.Step(c)
		}
	}
}

// TestChainOrdersAcrossThreeNodes runs three production chains on
// wall-clock ticks, proposes on whichever becomes leader, and checks every
// node applies the same entries in the same order.
func TestChainOrdersAcrossThreeNodes(t *testing.T) {
	tr := &localTransport{chains: map[uint64]*Chain{}}
	recs := map[uint64]*recorder{}
	var chains []*Chain
	for id := uint64(1); id <= 3; id++ {
		rec := &recorder{}
		c := NewChain(newTestNode(t, id, []uint64{1, 2, 3}, rec), tr, 5*time.Millisecond, nil)
		tr.mu.Lock()
		tr.chains[id] = c
		tr.mu.Unlock()
		recs[id] = rec
		chains = append(chains, c)
	}
	for _, c := range chains {
		c.Start()
		defer c.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 20
	for i := 0; i < n; {
		var err error = ErrNoLeader
		for _, c := range chains {
			if c.Status().LeaderReady {
				err = c.Propose(ctx, []byte(fmt.Sprintf("entry-%02d", i)))
				break
			}
		}
		switch {
		case err == nil:
			i++
		case IsRetryable(err):
			time.Sleep(5 * time.Millisecond)
		default:
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("no progress in 30 s")
		}
	}
	for id, rec := range recs {
		for len(rec.entries()) < n {
			if ctx.Err() != nil {
				t.Fatalf("node %d applied %d of %d entries", id, len(rec.entries()), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	want := fmt.Sprint(recs[1].entries())
	for id, rec := range recs {
		if got := fmt.Sprint(rec.entries()); got != want {
			t.Fatalf("node %d applied %s, node 1 %s", id, got, want)
		}
	}
	// A follower refuses proposals and names the leader.
	for _, c := range chains {
		st := c.Status()
		if st.Leader != 0 && st.Leader != st.ID {
			err := c.Propose(ctx, []byte("x"))
			var nl *NotLeaderError
			if !errors.As(err, &nl) || nl.Leader != st.Leader {
				t.Fatalf("follower proposal: %v", err)
			}
			break
		}
	}
}
