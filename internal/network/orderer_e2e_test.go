package network_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/network"
)

// TestE2EOrderersSurviveLeaderKill runs three orderer processes, has a
// client broadcast continuously, kills the Raft leader with SIGKILL, and
// checks that broadcasting resumes, that the old leader catches up after a
// restart, and that every envelope acknowledged SUCCESS is in all three
// ledgers exactly once and in the same order, each ledger verifying.
func TestE2EOrderersSurviveLeaderKill(t *testing.T) {
	needE2E(t)
	n := newNetwork(t, network.Options{Orderers: 3})
	startOrderers(t, n)
	orderers := n.Nodes(network.RoleOrderer)
	var endpoints []string
	for _, o := range orderers {
		endpoints = append(endpoints, o.Address)
	}
	c := newClient(t, n, "Org1MSP", endpoints)

	// The client broadcasts one envelope after another, recording each
	// acknowledged transaction id and when it was acknowledged.
	type ack struct {
		txID string
		at   time.Time
	}
	var (
		mu      sync.Mutex
		acked   []ack
		failed  int
		lastErr error
	)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				env, txID := c.envelope(t, n.Spec.Channel, 3000)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err := c.bc.Broadcast(ctx, env)
				cancel()
				mu.Lock()
				if err == nil {
					acked = append(acked, ack{txID, time.Now()})
				} else {
					failed++
					lastErr = err
				}
				mu.Unlock()
			}
		}()
	}
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("%s: not within %v (acked %d, failed %d, last error %v)", what, timeout, len(acked), failed, lastErr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("first 100 acknowledgements", 60*time.Second, func() bool { return count() >= 100 })

	// Find and kill the leader.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info, err := channelInfo(ctx, n, orderers[0])
	if err != nil {
		t.Fatal(err)
	}
	var leader network.Node
	for _, o := range orderers {
		if o.ConsenterID == info.ConsensusLeader {
			leader = o
		}
	}
	if leader.Name == "" {
		t.Fatalf("no leader known: %v", info)
	}
	before := count()
	killedAt := time.Now()
	if err := n.Kill(leader); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the leader %s (consenter %d) after %d acknowledgements", leader.Name, leader.ConsenterID, before)
	waitFor("an acknowledgement after the kill", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range acked[before:] {
			if a.at.After(killedAt) {
				return true
			}
		}
		return false
	})
	mu.Lock()
	var resumed time.Duration
	for _, a := range acked[before:] {
		if a.at.After(killedAt) {
			resumed = a.at.Sub(killedAt)
			break
		}
	}
	mu.Unlock()
	t.Logf("broadcasting resumed %v after the leader was killed", resumed.Round(time.Millisecond))
	if resumed > 30*time.Second {
		t.Errorf("broadcasting took %v to resume; want under 30 s", resumed)
	}
	waitFor("100 more acknowledgements without the old leader", 60*time.Second, func() bool { return count() >= before+100 })

	// The old leader restarts and catches up while the client goes on.
	if _, err := n.Start(leader); err != nil {
		t.Fatal(err)
	}
	restartedAt := count()
	waitFor("50 more acknowledgements after the restart", 60*time.Second, func() bool { return count() >= restartedAt+50 })
	close(stop)
	wg.Wait()
	heights := func() []uint64 {
		var hs []uint64
		for _, o := range orderers {
			ci, err := channelInfo(ctx, n, o)
			if err != nil {
				return nil
			}
			hs = append(hs, ci.Height)
		}
		return hs
	}
	waitFor("all three orderers at the same height", 60*time.Second, func() bool {
		hs := heights()
		return len(hs) == 3 && hs[0] == hs[1] && hs[1] == hs[2]
	})

	// Drain every orderer: SIGTERM, and each must exit cleanly.
	for _, o := range orderers {
		if err := n.Stop(o, 15*time.Second); err != nil {
			t.Error(err)
		}
	}

	// Every acknowledged envelope appears exactly once, in the same order,
	// in all three ledgers.
	var sequences [][]string
	for _, o := range orderers {
		seq := ledgerTxIDs(t, n.Path(o.DatabaseDir), n.Spec.Channel)
		sequences = append(sequences, seq)
	}
	for i := 1; i < len(sequences); i++ {
		if !slices.Equal(sequences[0], sequences[i]) {
			t.Fatalf("%s and %s hold different transaction sequences (%d and %d transactions)", orderers[0].Name, orderers[i].Name, len(sequences[0]), len(sequences[i]))
		}
	}
	position := map[string]int{}
	for i, id := range sequences[0] {
		if _, dup := position[id]; dup {
			t.Fatalf("transaction %s ordered twice", id)
		}
		position[id] = i
	}
	mu.Lock()
	for _, a := range acked {
		if _, ok := position[a.txID]; !ok {
			t.Errorf("transaction %s was acknowledged SUCCESS but is in no ledger", a.txID)
		}
	}
	t.Logf("%d envelopes acknowledged, %d failed (retried by the client), %d ordered", len(acked), failed, len(sequences[0]))
	mu.Unlock()

	// `chorus ledger verify` passes on each orderer's ledger.
	for _, o := range orderers {
		out, err := exec.Command(chorusBinary, "ledger", "verify", "--path", n.Path(o.DatabaseDir)).CombinedOutput()
		if err != nil {
			t.Errorf("ledger verify on %s: %v\n%s", o.Name, err, out)
		} else {
			t.Logf("%s: %s", o.Name, out)
		}
	}
}

// ledgerTxIDs reads a stopped node's ledger and returns its transaction
// ids in order, genesis excluded.
func ledgerTxIDs(t *testing.T, dbDir, channel string) []string {
	t.Helper()
	db, err := kv.Open(dbDir, kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ledger.Open(db, channel)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var ids []string
	for b, err := range l.Blocks(1) {
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range b.Data.Data {
			env, err := envelope.ParseEnvelope(raw)
			if err != nil {
				t.Fatal(fmt.Errorf("block %d: %w", b.Header.Number, err))
			}
			ids = append(ids, env.TxID())
		}
	}
	return ids
}

// TestE2ELeadershipFollowsSubmissions runs three orderer processes and has
// a client broadcast only to a follower: within a few windows of the
// placement policy, the leader hands Raft leadership to that follower,
// and keeps it there while the traffic stays; no broadcast fails across
// the hand-over.
func TestE2ELeadershipFollowsSubmissions(t *testing.T) {
	needE2E(t)
	n := newNetwork(t, network.Options{Orderers: 3})
	startOrderers(t, n)
	orderers := n.Nodes(network.RoleOrderer)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leaderNow := func(nd network.Node) uint64 {
		info, err := channelInfo(ctx, n, nd)
		if err != nil {
			return 0
		}
		return info.ConsensusLeader
	}
	var leader uint64
	for deadline := time.Now().Add(60 * time.Second); leader == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no Raft leader within 60 s")
		}
		leader = leaderNow(orderers[0])
	}
	var target, first network.Node
	for _, o := range orderers {
		if o.ConsenterID == leader {
			first = o
		} else if target.Name == "" {
			target = o
		}
	}
	t.Logf("consenter %d leads; the client broadcasts only to %s (consenter %d)", leader, target.Name, target.ConsenterID)

	c := newClient(t, n, "Org1MSP", []string{target.Address})
	var acked, failed, slowest atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				env, _ := c.envelope(t, n.Spec.Channel, 2000)
				bctx, bcancel := context.WithTimeout(ctx, 60*time.Second)
				began := time.Now()
				err := c.bc.Broadcast(bctx, env)
				bcancel()
				if d := int64(time.Since(began)); d > slowest.Load() {
					slowest.Store(d) // racy maximum: good enough for a log line
				}
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
				} else {
					acked.Add(1)
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	start := time.Now()
	for leaderNow(target) != target.ConsenterID {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("leadership did not move to %s within 60 s (leader %d, %d acknowledged, %d failed, last error %v)",
				target.Name, leaderNow(target), acked.Load(), failed.Load(), lastErr.Load())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s leads %v after the client started (%d acknowledged so far)", target.Name, time.Since(start).Round(100*time.Millisecond), acked.Load())
	// The first leader handed it over; no election happened to pick it.
	logged, err := os.ReadFile(n.Path(first.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"msg":"handing Raft leadership to the consenter through which most envelopes arrive","channel":%q,"to":%d`, n.Spec.Channel, target.ConsenterID); !strings.Contains(string(logged), want) {
		t.Errorf("%s's log does not show it handing leadership to %d", first.Name, target.ConsenterID)
	}

	// It stays while the traffic does: three more windows and then some.
	// (Another orderer may still name the old leader for a moment.)
	time.Sleep(time.Second)
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		for _, o := range orderers {
			l, err := channelInfo(ctx, n, o)
			if err != nil {
				t.Fatalf("%s: %v", o.Name, err)
			}
			if l.ConsensusLeader != target.ConsenterID {
				t.Fatalf("%s says consenter %d leads: leadership left %s while every envelope still arrives there", o.Name, l.ConsensusLeader, target.Name)
			}
		}
	}
	if f := failed.Load(); f != 0 {
		t.Errorf("%d broadcasts failed across the hand-over; last: %v", f, lastErr.Load())
	}
	t.Logf("%d envelopes acknowledged, %d failed, the slowest in %v", acked.Load(), failed.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
}
