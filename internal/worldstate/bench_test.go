package worldstate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

const (
	benchKeys      = 1_000_000
	benchBatchSize = 10_000
	benchNS        = "assets"
)

func benchKey(i int) string { return fmt.Sprintf("asset%07d", i) }

// benchValue is a 100-byte value, the size of the standard workload's.
var benchValue = bytes.Repeat([]byte("v"), 100)

// loadBench returns a state over an in-memory database holding n keys of
// namespace benchNS, written in batches of benchBatchSize as blocks of
// that many transactions, then flushed to sorted tables.
func loadBench(b *testing.B, n int) (*kv.DB, *State) {
	b.Helper()
	db := openDB(b)
	s := newState(b, "mychannel")
	var key []byte
	for start := 0; start < n; start += benchBatchSize {
		batch := db.NewBatch()
		block := uint64(start/benchBatchSize + 1)
		for i := start; i < min(start+benchBatchSize, n); i++ {
			key = appendStateKey(key[:0], s.statePrefix, benchNS, benchKey(i))
			batch.Set(key, encodeStateValue(Version{block, uint64(i - start)}, benchValue))
		}
		if err := batch.Commit(false); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	return db, s
}

func BenchmarkGet(b *testing.B) {
	db, s := loadBench(b, benchKeys)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		key := benchKey(rng.IntN(benchKeys))
		v, ver, err := s.Get(db, benchNS, key)
		if err != nil || ver == nil || len(v) != len(benchValue) {
			b.Fatalf("get %s: %v %v %d", key, err, ver, len(v))
		}
	}
}

func BenchmarkRangeScan100(b *testing.B) {
	db, s := loadBench(b, benchKeys)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		it, err := s.Range(db, benchNS, benchKey(rng.IntN(benchKeys-100)), "")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for n < 100 && it.Next() {
			n++
		}
		if err := it.Close(); err != nil || n != 100 {
			b.Fatalf("scan: %d keys, %v", n, err)
		}
	}
}

// BenchmarkSimulateAndResults is one endorsement's worth of state work:
// open a snapshot, read two keys, write two, build the read/write set.
func BenchmarkSimulateAndResults(b *testing.B) {
	db, s := loadBench(b, 10_000)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		k1, k2 := benchKey(rng.IntN(10_000)), benchKey(rng.IntN(10_000))
		snap := db.NewSnapshot()
		sim := s.NewSimulator(snap)
		if _, err := sim.GetState(benchNS, k1); err != nil {
			b.Fatal(err)
		}
		if _, err := sim.GetState(benchNS, k2); err != nil {
			b.Fatal(err)
		}
		if err := sim.PutState(benchNS, k1, benchValue); err != nil {
			b.Fatal(err)
		}
		if err := sim.PutState(benchNS, k2, benchValue); err != nil {
			b.Fatal(err)
		}
		if _, _, err := sim.Results(); err != nil {
			b.Fatal(err)
		}
		snap.Close()
	}
}

// BenchmarkCheckReadsAndApply500x2 validates and commits blocks of 500
// transactions that each read two keys and write them: CheckReads, Add,
// WriteTo and a synced batch commit per block. On the in-memory filesystem
// a sync costs nothing; the disk variant pays a real fsync per block.
func BenchmarkCheckReadsAndApply500x2(b *testing.B) {
	b.Run("memfs", func(b *testing.B) {
		benchCheckReadsAndApply(b, kv.NewCrashableMemFS(), "db")
	})
	b.Run("disk", func(b *testing.B) {
		benchCheckReadsAndApply(b, kv.DiskFS(), b.TempDir())
	})
}

func benchCheckReadsAndApply(b *testing.B, fs kv.FS, dir string) {
	const txs = 500
	db, err := kv.Open(dir, kv.Options{FS: fs})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := newState(b, "mychannel")

	// Block 1: tx t writes keys 2t and 2t+1.
	sets := make([][]envelope.NsRWSet, txs)
	for t := range sets {
		set := &kvrwsetpb.KVRWSet{}
		for j := range 2 {
			k := benchKey(2*t + j)
			set.Reads = append(set.Reads, &kvrwsetpb.KVRead{Key: k, Version: &kvrwsetpb.Version{}})
			set.Writes = append(set.Writes, &kvrwsetpb.KVWrite{Key: k, Value: benchValue})
		}
		sets[t] = []envelope.NsRWSet{{Namespace: benchNS, KV: set}}
	}
	ts := timestamppb.Now()
	commit := func(block uint64, check bool) {
		u := s.NewBlockUpdates(block)
		for t, rw := range sets {
			if check {
				code, reason, err := s.CheckReads(db, u, rw)
				if err != nil || code != peerpb.TxValidationCode_VALID {
					b.Fatalf("block %d tx %d: %v %s %v", block, t, code, reason, err)
				}
			}
			if err := u.Add(uint64(t), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ts, rw); err != nil {
				b.Fatal(err)
			}
		}
		batch := db.NewBatch()
		if err := u.WriteTo(batch); err != nil {
			b.Fatal(err)
		}
		if err := batch.Commit(true); err != nil {
			b.Fatal(err)
		}
		batch.Close()
		// Each read of the next block sees what its tx wrote in this one.
		for t, rw := range sets {
			for _, rd := range rw[0].KV.Reads {
				rd.Version.BlockNum, rd.Version.TxNum = block, uint64(t)
			}
		}
	}
	commit(1, false)

	block := uint64(2)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		commit(block, true)
		block++
	}
	b.ReportMetric(float64(txs*(block-2))/b.Elapsed().Seconds(), "tx/s")
}
