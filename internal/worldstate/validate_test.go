package worldstate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/envelope"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

const (
	valid    = peerpb.TxValidationCode_VALID
	mvcc     = peerpb.TxValidationCode_MVCC_READ_CONFLICT
	phantom  = peerpb.TxValidationCode_PHANTOM_READ_CONFLICT
	badRWSet = peerpb.TxValidationCode_BAD_RWSET
	badWrite = peerpb.TxValidationCode_INVALID_WRITESET
)

// readModifyWrite simulates a transaction that reads key and writes it.
func (f *fixture) readModifyWrite(ns, key, value string) []envelope.NsRWSet {
	_, rw := f.simulate(func(sim *Simulator) {
		mustGet(f.t, sim, ns, key)
		must(f.t, sim.PutState(ns, key, []byte(value)))
	})
	return rw
}

func expect(t *testing.T, codes []peerpb.TxValidationCode, reasons []string, want ...any) {
	t.Helper()
	if len(want) != 2*len(codes) {
		t.Fatalf("expect: %d codes, %d expectations", len(codes), len(want))
	}
	for i := range codes {
		code, reason := want[2*i].(peerpb.TxValidationCode), want[2*i+1].(string)
		if codes[i] != code || reasons[i] != reason {
			t.Errorf("tx %d: got %v %q\n              want %v %q", i, codes[i], reasons[i], code, reason)
		}
	}
}

func TestMVCCAgainstCommittedState(t *testing.T) {
	f := newFixture(t)
	for range 4 {
		f.put("other", "pad", "x") // move on to block 5
	}
	f.put("assets", "asset1", "v0") // block 5
	stale := f.readModifyWrite("assets", "asset1", "stale")
	absent := f.readModifyWrite("assets", "asset2", "new")
	deleted := f.readModifyWrite("assets", "asset1", "late")
	unchanged := f.readModifyWrite("assets", "asset3", "x")

	// Block 6: padding; block 7: asset1 written by tx 2, asset2 created.
	f.put("other", "pad", "y")
	f.commitBlock(txn{}, txn{}, txn{rw: f.readModifyWrite("assets", "asset1", "v7")}, txn{rw: f.readModifyWrite("assets", "asset2", "created")})

	codes, reasons := f.commitBlock(txn{rw: stale}, txn{rw: absent}, txn{rw: unchanged})
	expect(t, codes, reasons,
		mvcc, `key "asset1" in namespace "assets" read at version 5:0, now at 7:2`,
		mvcc, `key "asset2" in namespace "assets" read when absent, now at 7:3`,
		valid, "",
	)

	f.put("assets", "asset1", "") // delete in block 9
	codes, reasons = f.commitBlock(txn{rw: deleted})
	expect(t, codes, reasons, mvcc, `key "asset1" in namespace "assets" read at version 5:0, now absent`)
	if v, _ := f.get("assets", "asset1"); v != "" {
		t.Errorf("invalid transaction's write applied: %q", v)
	}
}

func TestMVCCAgainstEarlierTxOfSameBlock(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "asset1", "v0", "asset2", "v0")
	t0 := f.readModifyWrite("assets", "asset2", "t0")
	t1 := f.readModifyWrite("assets", "asset1", "t1") // valid
	t2 := f.readModifyWrite("assets", "asset1", "t2") // same read as t1
	_, t3 := f.simulate(func(sim *Simulator) {        // reads a key t1 wrote, in a second namespace
		mustGet(t, sim, "tokens", "x")
		mustGet(t, sim, "assets", "asset1")
	})
	_, t4 := f.simulate(func(sim *Simulator) { mustGet(t, sim, "assets", "asset9") }) // absent, deleted by t5
	_, t5 := f.simulate(func(sim *Simulator) { must(t, sim.DelState("assets", "asset9")) })
	_, t6 := f.simulate(func(sim *Simulator) { mustGet(t, sim, "assets", "asset9") }) // after t5's delete

	codes, reasons := f.commitBlock(txn{rw: t0}, txn{rw: t1}, txn{rw: t2}, txn{rw: t3}, txn{rw: t4}, txn{rw: t5}, txn{rw: t6})
	expect(t, codes, reasons,
		valid, "",
		valid, "",
		mvcc, `key "asset1" in namespace "assets" read at version 1:0, written by transaction 1 of this block`,
		mvcc, `key "asset1" in namespace "assets" read at version 1:0, written by transaction 1 of this block`,
		valid, "",
		valid, "",
		mvcc, `key "asset9" in namespace "assets" read when absent, written by transaction 5 of this block`,
	)
	if v, ver := f.get("assets", "asset1"); v != "t1" || *ver != (Version{2, 1}) {
		t.Errorf("asset1 = %q %v, want t1 at 2:1", v, ver)
	}
}

// rangeTx simulates a transaction reading the range [start, end) of
// "assets", stopping after n keys when n >= 0, and writing "out".
func (f *fixture) rangeTx(start, end string, n int) []envelope.NsRWSet {
	_, rw := f.simulate(func(sim *Simulator) {
		q, err := sim.GetStateByRange("assets", start, end)
		must(f.t, err)
		drain(f.t, q, n)
		must(f.t, sim.PutState("assets", "out", []byte("x")))
	})
	return rw
}

func TestPhantomReads(t *testing.T) {
	type step struct {
		name string
		// change commits blocks after the simulation; block 1 holds
		// b, d, f, h (in "assets") at version 1:0.
		change      func(f *fixture)
		start, end  string
		n           int
		code        peerpb.TxValidationCode
		reason      string
		sameBlockTx func(f *fixture) []envelope.NsRWSet // run as tx 0 of the validating block
	}
	write := func(kvs ...string) func(f *fixture) { return func(f *fixture) { f.put("assets", kvs...) } }
	blind := func(kvs ...string) func(f *fixture) []envelope.NsRWSet {
		return func(f *fixture) []envelope.NsRWSet {
			_, rw := f.simulate(func(sim *Simulator) {
				for i := 0; i < len(kvs); i += 2 {
					must(t, sim.PutState("assets", kvs[i], []byte(kvs[i+1])))
				}
			})
			return rw
		}
	}
	steps := []step{
		{name: "nothing changed", change: write("a", "x", "z", "x", "out", "y"), start: "b", end: "h", n: -1, code: valid},
		{name: "nothing changed, unbounded", start: "", end: "", n: -1, code: valid},
		{name: "key inserted", change: write("e", "x"), start: "b", end: "h", n: -1, code: phantom,
			reason: `range ["b", "h") in namespace "assets": key "e" inserted, now at 2:0`},
		{name: "key inserted at start", change: write("b0", "x"), start: "b", end: "", n: -1, code: phantom,
			reason: `range ["b", end of namespace) in namespace "assets": key "b0" inserted, now at 2:0`},
		{name: "key inserted after the last", change: write("x", "x"), start: "c", end: "", n: -1, code: phantom,
			reason: `range ["c", end of namespace) in namespace "assets": key "x" inserted, now at 2:0`},
		{name: "key deleted", change: write("d", ""), start: "b", end: "h", n: -1, code: phantom,
			reason: `range ["b", "h") in namespace "assets": key "d" read at version 1:0, now absent`},
		{name: "last key deleted", change: write("f", ""), start: "b", end: "g", n: -1, code: phantom,
			reason: `range ["b", "g") in namespace "assets": key "f" read at version 1:0, now absent`},
		{name: "key updated", change: write("f", "new"), start: "b", end: "h", n: -1, code: phantom,
			reason: `range ["b", "h") in namespace "assets": key "f" read at version 1:0, now at 2:0`},
		{name: "empty range gets a key", change: write("c", "x"), start: "c", end: "d", n: -1, code: phantom,
			reason: `range ["c", "d") in namespace "assets": key "c" inserted, now at 2:0`},
		{name: "end key excluded", change: write("h", "new"), start: "b", end: "h", n: -1, code: valid},
		{name: "early stop: change past the last key read", change: write("e", "x", "f", "new"), start: "b", end: "", n: 2, code: valid},
		{name: "early stop: last key read updated", change: write("d", "new"), start: "b", end: "", n: 2, code: phantom,
			reason: `range ["b", "d"] in namespace "assets" (iteration stopped at "d"): key "d" read at version 1:0, now at 2:0`},
		{name: "early stop: insert before the last key read", change: write("c", "x"), start: "b", end: "", n: 2, code: phantom,
			reason: `range ["b", "d"] in namespace "assets" (iteration stopped at "d"): key "c" inserted, now at 2:0`},
		{name: "insert by an earlier tx of the block", start: "b", end: "h", n: -1, code: phantom,
			sameBlockTx: blind("c", "x"),
			reason:      `range ["b", "h") in namespace "assets": key "c" inserted by transaction 0 of this block`},
		{name: "delete by an earlier tx of the block", start: "b", end: "h", n: -1, code: phantom,
			sameBlockTx: blind("d", ""),
			reason:      `range ["b", "h") in namespace "assets": key "d" read at version 1:0, deleted by transaction 0 of this block`},
		{name: "update by an earlier tx of the block", start: "b", end: "h", n: -1, code: phantom,
			sameBlockTx: blind("f", "new"),
			reason:      `range ["b", "h") in namespace "assets": key "f" read at version 1:0, written by transaction 0 of this block`},
		{name: "earlier tx of the block writes outside the range", start: "b", end: "h", n: -1, code: valid,
			sameBlockTx: blind("a", "x", "h", "x", "z", "")},
		{name: "committed insert hidden by a delete in the block", change: write("c", "x"), start: "b", end: "h", n: -1, code: valid,
			sameBlockTx: blind("c", "")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f := newFixture(t)
			f.put("assets", "b", "1", "d", "1", "f", "1", "h", "1")
			rw := f.rangeTx(st.start, st.end, st.n)
			if st.change != nil {
				st.change(f)
			}
			if st.sameBlockTx == nil {
				codes, reasons := f.commitBlock(txn{rw: rw})
				expect(t, codes, reasons, st.code, st.reason)
				return
			}
			// The earlier tx must not be invalidated by the change itself.
			first := st.sameBlockTx(f)
			codes, reasons := f.commitBlock(txn{rw: first}, txn{rw: rw})
			expect(t, codes, reasons, valid, "", st.code, st.reason)
		})
	}
}

func TestCheckReadsRejectsMalformedSets(t *testing.T) {
	f := newFixture(t)
	set := func(ns string, kv *kvrwsetpb.KVRWSet) envelope.NsRWSet {
		return envelope.NsRWSet{Namespace: ns, KV: kv}
	}
	cases := []struct {
		name   string
		rw     []envelope.NsRWSet
		code   peerpb.TxValidationCode
		reason string
	}{
		{"bad namespace", []envelope.NsRWSet{set("a b", &kvrwsetpb.KVRWSet{})}, badRWSet,
			`invalid namespace "a b": character ' ' at offset 1 is not one of A-Z a-z 0-9 _ . + -`},
		{"repeated namespace", []envelope.NsRWSet{set("a", nil), set("a", nil)}, badRWSet, `namespace "a" appears twice in the read/write set`},
		{"merkle summary", []envelope.NsRWSet{set("a", &kvrwsetpb.KVRWSet{RangeQueriesInfo: []*kvrwsetpb.RangeQueryInfo{{
			ReadsInfo: &kvrwsetpb.RangeQueryInfo_ReadsMerkleHashes{ReadsMerkleHashes: &kvrwsetpb.QueryReadsMerkleSummary{}},
		}}})}, badRWSet, `range query 0 in namespace "a" carries a Merkle summary of its reads, which Chorus does not validate`},
		{"empty key", []envelope.NsRWSet{set("a", &kvrwsetpb.KVRWSet{Writes: []*kvrwsetpb.KVWrite{{Key: "", Value: []byte("x")}}})}, badWrite,
			`write to an empty key in namespace "a"`},
		{"metadata", []envelope.NsRWSet{set("a", &kvrwsetpb.KVRWSet{MetadataWrites: []*kvrwsetpb.KVMetadataWrite{{Key: "k"}}})}, badWrite,
			`namespace "a" has key metadata writes, which Chorus does not support`},
		{"nil sets are empty", []envelope.NsRWSet{set("a", nil)}, valid, ""},
	}
	for _, c := range cases {
		code, reason, err := f.s.CheckReads(f.db, f.s.NewBlockUpdates(1), c.rw)
		if err != nil || code != c.code || reason != c.reason {
			t.Errorf("%s: got %v %q %v, want %v %q", c.name, code, reason, err, c.code, c.reason)
		}
		u := f.s.NewBlockUpdates(1)
		if err := u.Add(0, "t", nil, c.rw); (err == nil) != (c.code == valid) {
			t.Errorf("%s: Add error %v", c.name, err)
		}
	}
}

func TestAddRules(t *testing.T) {
	f := newFixture(t)
	other := newState(t, "otherchannel")
	u := f.s.NewBlockUpdates(3)
	if u.Block() != 3 {
		t.Errorf("Block = %d", u.Block())
	}
	must(t, u.Add(2, "a", nil, nil))
	for _, n := range []uint64{2, 1} {
		if err := u.Add(n, "b", nil, nil); err == nil || !strings.Contains(err.Error(), "added after transaction 2") {
			t.Errorf("Add(%d) after 2: %v", n, err)
		}
	}
	if _, _, err := other.CheckReads(f.db, u, nil); err == nil {
		t.Error("CheckReads with another channel's updates succeeded")
	}
}

// TestWriteToIsDeterministic applies the same block to two databases and
// compares everything stored.
func TestWriteToIsDeterministic(t *testing.T) {
	rw := func(i int) []envelope.NsRWSet {
		var out []envelope.NsRWSet
		for _, ns := range []string{"zeta", "alpha", "mid"} {
			set := &kvrwsetpb.KVRWSet{}
			for j := 5; j > 0; j-- {
				set.Writes = append(set.Writes, &kvrwsetpb.KVWrite{Key: fmt.Sprintf("k%d\x00%d", j, i%2), Value: []byte(fmt.Sprint(i))})
			}
			out = append(out, envelope.NsRWSet{Namespace: ns, KV: set})
		}
		return out
	}
	dump := func() (string, int) {
		f := newFixture(t)
		u := f.s.NewBlockUpdates(7)
		for i := range 4 {
			must(t, u.Add(uint64(i), fmt.Sprint("tx", i), timestamppb.Now(), rw(i)))
		}
		b := f.db.NewBatch()
		defer b.Close()
		must(t, u.WriteTo(b))
		size := b.Size()
		must(t, b.Commit(true))
		it, err := f.db.NewIter([]byte("c"), []byte("d"))
		must(t, err)
		defer it.Close()
		var sb strings.Builder
		for ok := it.First(); ok; ok = it.Next() {
			k, v := it.Key(), it.Value()
			if k[len(ChannelPrefix("mychannel"))] == historyTag {
				v = v[:2] // the timestamps differ
			}
			fmt.Fprintf(&sb, "%q=%q\n", k, v)
		}
		return sb.String(), size
	}
	d1, s1 := dump()
	d2, s2 := dump()
	if d1 != d2 || s1 != s2 {
		t.Errorf("two applications of one block differ:\n%s\n%s", d1, d2)
	}
	// 3 namespaces × 10 keys of state, 3 × 5 × 4 history records.
	if n := strings.Count(d1, "\n"); n != 30+60 {
		t.Errorf("%d records stored, want 90", n)
	}
}

// TestMergedRangeMatchesOracle compares the validator's merge of committed
// state and pending writes with a naive computation on maps.
func TestMergedRangeMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"", "\x00", "\x00a", "a", "a\x00", "a\x00b", "ab", "b", "b\xff", "c"}
	for round := range 40 {
		f := newFixture(t)
		committed := map[string]Version{}
		var kvs []string
		for _, k := range keys[1:] {
			if rng.IntN(2) == 0 {
				kvs = append(kvs, k, "v")
				committed[k] = Version{1, 0}
			}
		}
		if len(kvs) > 0 {
			f.put("ns", kvs...)
		}
		u := f.s.NewBlockUpdates(2)
		pending := map[string]*pendingWrite{}
		for tx := range 3 {
			set := &kvrwsetpb.KVRWSet{}
			for _, k := range keys[1:] {
				if rng.IntN(4) == 0 {
					del := rng.IntN(2) == 0
					w := &kvrwsetpb.KVWrite{Key: k, IsDelete: del}
					if !del {
						w.Value = []byte("p")
					}
					set.Writes = append(set.Writes, w)
					pending[k] = &pendingWrite{txNum: uint64(tx), isDelete: del}
				}
			}
			must(t, u.Add(uint64(tx), "t", nil, []envelope.NsRWSet{{Namespace: "ns", KV: set}}))
		}
		for range 20 {
			start, end := keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]
			inclusive := rng.IntN(2) == 0
			var want []string
			for _, k := range keys[1:] {
				if k < start || end != "" && (k > end || k == end && !inclusive) {
					continue
				}
				if p, ok := pending[k]; ok {
					if !p.isDelete {
						want = append(want, fmt.Sprintf("%q@%v", k, Version{2, p.txNum}))
					}
					continue
				}
				if v, ok := committed[k]; ok {
					want = append(want, fmt.Sprintf("%q@%v", k, v))
				}
			}
			m, err := f.s.newMerged(f.db, u, "ns", start, end, inclusive)
			must(t, err)
			var got []string
			for {
				e, ok, err := m.next()
				must(t, err)
				if !ok {
					break
				}
				got = append(got, fmt.Sprintf("%q@%v", e.key, e.ver))
			}
			m.close()
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: [%q, %q] inclusive=%v: got %v, want %v", round, start, end, inclusive, got, want)
			}
		}
	}
}
