package raft

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// lockstep drives Nodes by hand: no goroutine, no clock. Messages to a
// node in cut are dropped.
type lockstep struct {
	t     *testing.T
	nodes map[uint64]*Node
	cut   map[uint64]bool
}

func newLockstep(t *testing.T, n int) *lockstep {
	ls := &lockstep{t: t, nodes: map[uint64]*Node{}, cut: map[uint64]bool{}}
	var ids []uint64
	for id := uint64(1); id <= uint64(n); id++ {
		ids = append(ids, id)
	}
	for _, id := range ids {
		ls.nodes[id] = newTestNode(t, id, ids, &recorder{})
	}
	return ls
}

// settle processes every node's Ready and delivers its messages until
// nothing is left to do.
func (ls *lockstep) settle() {
	for range 1000 {
		busy := false
		for _, n := range ls.nodes {
			if !n.HasReady() {
				continue
			}
			busy = true
			out, err := n.Ready()
			if err != nil {
				ls.t.Fatal(err)
			}
			for _, m := range out.Messages {
				if ls.cut[m.To] || ls.cut[m.From] {
					continue
				}
				data, _ := m.Marshal()
				var c raftpb.Message
				_ = c.Unmarshal(data)
				if err := ls.nodes[m.To].Step(c); err != nil {
					ls.t.Fatal(err)
				}
			}
		}
		if !busy {
			return
		}
	}
	ls.t.Fatal("the nodes did not settle")
}

// tick advances every node's clock n ticks, settling after each.
func (ls *lockstep) tick(n int) {
	for range n {
		for _, node := range ls.nodes {
			node.Tick()
		}
		ls.settle()
	}
}

func (ls *lockstep) leader() uint64 {
	for id, n := range ls.nodes {
		if n.Status().LeaderReady {
			return id
		}
	}
	return 0
}

// TestTransferLeadership: a leader hands leadership to an up-to-date
// follower, which then leads; a follower does not start a hand-over; and
// a leader refuses to hand leadership to a consenter it has not heard
// from, which could not take it.
func TestTransferLeadership(t *testing.T) {
	ls := newLockstep(t, 3)
	if err := ls.nodes[1].Campaign(); err != nil {
		t.Fatal(err)
	}
	ls.settle()
	ls.tick(3)
	if l := ls.leader(); l != 1 {
		t.Fatalf("leader %d after node 1 campaigned", l)
	}
	for i := range 5 {
		if err := ls.nodes[1].Propose([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		ls.settle()
	}

	if ls.nodes[2].TransferLeadership(3) {
		t.Error("a follower started a hand-over")
	}

	// Node 3 is cut off long enough for the leader to see it inactive.
	ls.cut[3] = true
	ls.tick(25)
	if ls.nodes[1].TransferLeadership(3) {
		t.Error("the leader handed leadership to a consenter it has not heard from")
	}
	ls.tick(25)
	if l := ls.leader(); l != 1 {
		t.Fatalf("leader %d after a refused hand-over", l)
	}

	// Back, and caught up: the hand-over goes through.
	delete(ls.cut, 3)
	ls.tick(5)
	if !ls.nodes[1].TransferLeadership(3) {
		t.Fatal("the leader refused to hand leadership to an up-to-date follower")
	}
	ls.settle()
	ls.tick(3)
	if l := ls.leader(); l != 3 {
		t.Fatalf("leader %d after handing leadership to 3", l)
	}
	if err := ls.nodes[3].Propose([]byte("after")); err != nil {
		t.Fatalf("the new leader refuses proposals: %v", err)
	}
}
