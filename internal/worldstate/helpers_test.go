package worldstate

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

func openDB(t testing.TB) *kv.DB {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newState(t testing.TB, channel string) *State {
	t.Helper()
	s, err := New(channel)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is a channel state over a fresh in-memory database, with a block
// counter for commitBlock.
type fixture struct {
	t     testing.TB
	db    *kv.DB
	s     *State
	block uint64
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t, db: openDB(t), s: newState(t, "mychannel"), block: 1}
}

// txn is one transaction of a block given to commitBlock.
type txn struct {
	id string
	ts *timestamppb.Timestamp
	rw []envelope.NsRWSet
}

// commitBlock validates txs as one block against committed state, commits
// the valid ones' writes in one synced batch, and returns each
// transaction's code and reason.
func (f *fixture) commitBlock(txs ...txn) ([]peerpb.TxValidationCode, []string) {
	f.t.Helper()
	block := f.block
	f.block++
	u := f.s.NewBlockUpdates(block)
	codes := make([]peerpb.TxValidationCode, len(txs))
	reasons := make([]string, len(txs))
	for i, tx := range txs {
		code, reason, err := f.s.CheckReads(f.db, u, tx.rw)
		if err != nil {
			f.t.Fatalf("block %d tx %d: CheckReads: %v", block, i, err)
		}
		codes[i], reasons[i] = code, reason
		if code != peerpb.TxValidationCode_VALID {
			continue
		}
		id := tx.id
		if id == "" {
			id = fmt.Sprintf("tx-%d-%d", block, i)
		}
		ts := tx.ts
		if ts == nil {
			ts = &timestamppb.Timestamp{Seconds: int64(1_700_000_000 + block), Nanos: int32(i)}
		}
		if err := u.Add(uint64(i), id, ts, tx.rw); err != nil {
			f.t.Fatalf("block %d tx %d: Add: %v", block, i, err)
		}
	}
	b := f.db.NewBatch()
	defer b.Close()
	if err := u.WriteTo(b); err != nil {
		f.t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		f.t.Fatal(err)
	}
	u.BatchDone() // as ledger.Append does
	return codes, reasons
}

// put commits one block of one transaction writing the given key/value
// pairs (an empty value deletes) in namespace ns, and returns its block
// number.
func (f *fixture) put(ns string, kvs ...string) uint64 {
	f.t.Helper()
	if len(kvs)%2 != 0 {
		f.t.Fatal("put: odd number of arguments")
	}
	set := &kvrwsetpb.KVRWSet{}
	for i := 0; i < len(kvs); i += 2 {
		w := &kvrwsetpb.KVWrite{Key: kvs[i], Value: []byte(kvs[i+1])}
		w.IsDelete = kvs[i+1] == ""
		set.Writes = append(set.Writes, w)
	}
	block := f.block
	codes, reasons := f.commitBlock(txn{rw: []envelope.NsRWSet{{Namespace: ns, KV: set}}})
	if codes[0] != peerpb.TxValidationCode_VALID {
		f.t.Fatalf("put: %v %s", codes[0], reasons[0])
	}
	return block
}

// simulate runs fn in a simulator over a snapshot and returns the results
// decoded again, as a validator would see them.
func (f *fixture) simulate(fn func(sim *Simulator)) ([]byte, []envelope.NsRWSet) {
	f.t.Helper()
	snap := f.db.NewSnapshot()
	defer snap.Close()
	sim := f.s.NewSimulator(snap)
	fn(sim)
	_, b, err := sim.Results()
	if err != nil {
		f.t.Fatal(err)
	}
	_, ns, err := envelope.ParseRWSet(b)
	if err != nil {
		f.t.Fatal(err)
	}
	return b, ns
}

// get reads a committed value as a string ("" when absent) and its version.
func (f *fixture) get(ns, key string) (string, *Version) {
	f.t.Helper()
	v, ver, err := f.s.Get(f.db, ns, key)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(v), ver
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustGet(t testing.TB, sim *Simulator, ns, key string) string {
	t.Helper()
	v, err := sim.GetState(ns, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// drain iterates q to its end (or n keys when n >= 0) and returns the keys.
func drain(t testing.TB, q *QueryIterator, n int) []string {
	t.Helper()
	var keys []string
	for n != 0 && q.Next() {
		keys = append(keys, q.Key())
		n--
	}
	must(t, q.Err())
	return keys
}

// kvset returns the KVRWSet of ns in a decoded read/write set, or nil.
func kvset(ns []envelope.NsRWSet, name string) *kvrwsetpb.KVRWSet {
	for _, n := range ns {
		if n.Namespace == name {
			return n.KV
		}
	}
	return nil
}

func decodeRWSet(t testing.TB, b []byte) *rwsetpb.TxReadWriteSet {
	t.Helper()
	rws, _, err := envelope.ParseRWSet(b)
	if err != nil {
		t.Fatal(err)
	}
	return rws
}

func ver(block, tx uint64) *Version { return &Version{BlockNum: block, TxNum: tx} }
