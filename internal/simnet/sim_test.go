package simnet_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/simnet"
)

var (
	schedules = flag.Int("simnet.schedules", 24, "number of seeded fault schedules to run")
	firstSeed = flag.Uint64("simnet.seed", 1, "seed of the first schedule")
	nodes     = flag.Int("simnet.nodes", 0, "consenters per schedule (default: alternate 3 and 5)")
)

// TestSchedules runs seeded fault schedules against the production Raft
// consenter and checks every history. A long run:
//
//	go test ./internal/simnet -run TestSchedules -simnet.schedules 3000 -v
func TestSchedules(t *testing.T) {
	n := *schedules
	var total simnet.Stats
	start := time.Now()
	for i := 0; i < n; i++ {
		seed := *firstSeed + uint64(i)
		opts := simnet.DefaultOptions(seed)
		opts.Nodes = 3
		if seed%2 == 0 {
			opts.Nodes = 5
		}
		if *nodes != 0 {
			opts.Nodes = *nodes
		}
		t.Run(fmt.Sprintf("seed=%d/nodes=%d", seed, opts.Nodes), func(t *testing.T) {
			st := simnet.Run(t, opts)
			t.Logf("%v", st)
			total = add(total, st)
		})
	}
	t.Logf("%d schedules in %v: %v", n, time.Since(start).Round(time.Millisecond), total)
	if total.SnapshotRestores == 0 {
		t.Error("no schedule made a follower catch up from a snapshot")
	}
}

// TestLaggingFollowerCatchesUpFromSnapshot isolates a follower while the
// others snapshot and compact their logs, then heals: the follower must
// catch up by fetching blocks, not by replaying the log.
func TestLaggingFollowerCatchesUpFromSnapshot(t *testing.T) {
	opts := simnet.DefaultOptions(42)
	opts.FaultEvery = 0 // only the lag phase
	opts.DropRate, opts.DupRate = 0, 0
	opts.LagPhase = 200
	opts.FaultTicks = 260
	st := simnet.Run(t, opts)
	t.Logf("%v", st)
	if st.SnapshotRestores == 0 || st.BlocksFetched == 0 {
		t.Fatalf("the lagging follower did not catch up from a snapshot: %v", st)
	}
}

// TestSameSeedSameHistory checks the simulation is deterministic.
func TestSameSeedSameHistory(t *testing.T) {
	opts := simnet.DefaultOptions(7)
	opts.FaultTicks = 300
	a := simnet.Run(t, opts)
	b := simnet.Run(t, opts)
	if a != b {
		t.Fatalf("one seed, two histories:\n%v\n%v", a, b)
	}
}

func add(a, b simnet.Stats) simnet.Stats {
	a.Ticks += b.Ticks
	a.Submitted += b.Submitted
	a.Acknowledged += b.Acknowledged
	a.Rejected += b.Rejected
	a.MessagesSent += b.MessagesSent
	a.MessagesDropped += b.MessagesDropped
	a.MessagesDuped += b.MessagesDuped
	a.Partitions += b.Partitions
	a.Crashes += b.Crashes
	a.LeaderCrashes += b.LeaderCrashes
	a.Restarts += b.Restarts
	a.SkippedBlocks += b.SkippedBlocks
	a.SnapshotsTaken += b.SnapshotsTaken
	a.SnapshotRestores += b.SnapshotRestores
	a.BlocksFetched += b.BlocksFetched
	a.Elections += b.Elections
	a.FinalHeight += b.FinalHeight
	return a
}
