package raft

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/kv"
	"go.etcd.io/raft/v3/raftpb"
)

func openStorage(t *testing.T, fs kv.FS) (*kv.DB, *Storage) {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStorage(db, "ch")
	if err != nil {
		t.Fatal(err)
	}
	return db, s
}

func ents(term uint64, from, to uint64) []raftpb.Entry {
	var out []raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, raftpb.Entry{Index: i, Term: term, Data: []byte{byte(i)}})
	}
	return out
}

func TestStorageSurvivesCrashAndTruncates(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db, s := openStorage(t, fs)
	if !s.IsEmpty() {
		t.Fatal("new storage not empty")
	}
	if err := s.Bootstrap([]uint64{1, 2, 3}, []byte("genesis")); err != nil {
		t.Fatal(err)
	}
	if err := s.Bootstrap([]uint64{1}, nil); err == nil {
		t.Fatal("bootstrapped twice")
	}
	if err := s.Save(raftpb.HardState{Term: 2, Vote: 3, Commit: 4}, ents(2, 2, 6), raftpb.Snapshot{}); err != nil {
		t.Fatal(err)
	}
	// A new leader overwrites entries 5.. with its own.
	if err := s.Save(raftpb.HardState{Term: 3, Vote: 1, Commit: 4}, ents(3, 5, 5), raftpb.Snapshot{}); err != nil {
		t.Fatal(err)
	}
	crashed := kv.CrashClone(fs)
	db.Close()

	db, s = openStorage(t, crashed)
	defer db.Close()
	hs, cs, err := s.InitialState()
	if err != nil {
		t.Fatal(err)
	}
	if hs.Term != 3 || hs.Vote != 1 || hs.Commit != 4 {
		t.Fatalf("hard state after crash: %+v", hs)
	}
	if len(cs.Voters) != 3 {
		t.Fatalf("conf state after crash: %+v", cs)
	}
	last, _ := s.LastIndex()
	if last != 5 {
		t.Fatalf("last index %d, want 5 (entry 6 was truncated)", last)
	}
	if term, _ := s.Term(5); term != 3 {
		t.Fatalf("entry 5 has term %d, want 3", term)
	}
	got, err := s.Entries(2, 6, 1<<20)
	if err != nil || len(got) != 4 {
		t.Fatalf("entries: %v %v", got, err)
	}
	snap, _ := s.Snapshot()
	if string(snap.Data) != "genesis" || snap.Metadata.Index != 1 {
		t.Fatalf("bootstrap snapshot: %+v", snap.Metadata)
	}
}

func TestStorageSnapshotCompactsAndReplaces(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db, s := openStorage(t, fs)
	if err := s.Bootstrap([]uint64{1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(raftpb.HardState{Term: 2, Commit: 20}, ents(2, 2, 20), raftpb.Snapshot{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSnapshot(15, []byte("height 14"), 12); err != nil {
		t.Fatal(err)
	}
	if first, _ := s.FirstIndex(); first != 12 {
		t.Fatalf("first index after compaction %d, want 12", first)
	}
	// A snapshot from the leader replaces the whole log, even entries after it.
	leaderSnap := raftpb.Snapshot{Data: []byte("height 30"), Metadata: raftpb.SnapshotMetadata{
		Index: 18, Term: 4, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}},
	}}
	if err := s.Save(raftpb.HardState{Term: 4, Commit: 18}, nil, leaderSnap); err != nil {
		t.Fatal(err)
	}
	crashed := kv.CrashClone(fs)
	db.Close()
	db, s = openStorage(t, crashed)
	defer db.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 19 || last != 18 {
		t.Fatalf("log after snapshot: first %d last %d, want an empty log after 18", first, last)
	}
	snap, _ := s.Snapshot()
	if string(snap.Data) != "height 30" {
		t.Fatalf("snapshot %q", snap.Data)
	}
}

// TestSaveBatchIsSizedForItsWrites checks the bound Save sizes its batch
// with: the batch never has to grow, whatever the channel name's length
// (Fabric allows 249 characters) and the number of entries, and the
// bound is not far above what the writes take.
func TestSaveBatchIsSizedForItsWrites(t *testing.T) {
	snap := raftpb.Snapshot{Data: []byte("height 7"), Metadata: raftpb.SnapshotMetadata{
		Index: 9, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}},
	}}
	for _, channel := range []string{"c", strings.Repeat("c", 249)} {
		db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
		if err != nil {
			t.Fatal(err)
		}
		s, err := OpenStorage(db, channel)
		if err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 4; n++ {
			for _, withSnap := range []bool{false, true} {
				var ents []raftpb.Entry
				for i := range n {
					data := make([]byte, 100+i*70_000) // lengths of one to three varint bytes
					ents = append(ents, raftpb.Entry{Index: uint64(10 + i), Term: 3, Data: data})
				}
				sn := raftpb.Snapshot{}
				if withSnap {
					sn = snap
				}
				hs := raftpb.HardState{Term: 3, Vote: 2, Commit: 1 << 40}
				bound := s.saveBatchSize(hs, ents, sn)
				b, err := s.saveBatch(hs, ents, sn)
				if err != nil {
					t.Fatal(err)
				}
				// Pebble reserves at most 8 bytes more than the last record
				// takes (its two lengths as five-byte varints).
				used := b.Size()
				b.Close()
				if used+8 > bound {
					t.Errorf("channel of %d characters, %d entries, snapshot %v: the writes take %d bytes, the bound is %d", len(channel), n, withSnap, used, bound)
				}
				if records := n + 2 + 3; bound > used+16*records {
					t.Errorf("channel of %d characters, %d entries, snapshot %v: bound %d for %d bytes of writes", len(channel), n, withSnap, bound, used)
				}
			}
		}
		db.Close()
	}
}

// BenchmarkStorageSave persists one block-sized entry per operation, as a
// Raft orderer does for each block it orders: a 1.8 MB entry (a block of
// 500 transactions) and the hard state, in one synced batch, on a disk in
// the file system (synced, as in production). Besides the wall time per
// block it reports the process's CPU time per block (user and system),
// which is what a busy orderer pays.
func BenchmarkStorageSave(b *testing.B) {
	db, err := kv.Open(b.TempDir(), kv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := OpenStorage(db, "ch")
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Bootstrap([]uint64{1}, nil); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1800<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	first, err := s.LastIndex()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpuStart := processCPU(b)
	b.ResetTimer()
	for i := range b.N {
		index := first + 1 + uint64(i)
		e := raftpb.Entry{Index: index, Term: 1, Type: raftpb.EntryNormal, Data: data}
		if err := s.Save(raftpb.HardState{Term: 1, Commit: index}, []raftpb.Entry{e}, raftpb.Snapshot{}); err != nil {
			b.Fatal(err)
		}
		// Keep the log short, as the orderer's snapshots do.
		if i%8 == 7 {
			if err := s.CreateSnapshot(index, nil, index-4); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpuStart).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time, user and system, the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
