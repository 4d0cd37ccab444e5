package worldstate

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
)

func TestSimulatorDoesNotSeeOwnWrites(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "a", "committed")
	_, ns := f.simulate(func(sim *Simulator) {
		must(t, sim.PutState("assets", "a", []byte("mine")))
		must(t, sim.PutState("assets", "b", []byte("mine")))
		if v := mustGet(t, sim, "assets", "a"); v != "committed" {
			t.Errorf("GetState after own write = %q, want the committed value", v)
		}
		if v := mustGet(t, sim, "assets", "b"); v != "" {
			t.Errorf("GetState of own new key = %q, want absent", v)
		}
		q, err := sim.GetStateByRange("assets", "", "")
		must(t, err)
		if keys := drain(t, q, -1); !slices.Equal(keys, []string{"a"}) {
			t.Errorf("range sees %q, want only the committed key", keys)
		}
	})
	set := kvset(ns, "assets")
	want := &kvrwsetpb.KVRWSet{
		Reads: []*kvrwsetpb.KVRead{{Key: "a", Version: &kvrwsetpb.Version{BlockNum: 1}}, {Key: "b"}},
		RangeQueriesInfo: []*kvrwsetpb.RangeQueryInfo{{
			StartKey: "", EndKey: "", ItrExhausted: true,
			ReadsInfo: &kvrwsetpb.RangeQueryInfo_RawReads{RawReads: &kvrwsetpb.QueryReads{KvReads: []*kvrwsetpb.KVRead{{Key: "a", Version: &kvrwsetpb.Version{BlockNum: 1}}}}},
		}},
		Writes: []*kvrwsetpb.KVWrite{{Key: "a", Value: []byte("mine")}, {Key: "b", Value: []byte("mine")}},
	}
	if !proto.Equal(set, want) {
		t.Errorf("rwset =\n%v\nwant\n%v", set, want)
	}
}

func TestFirstReadRecordedWithVersion(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "a", "1")
	// Read through the live database, so that a block committed during the
	// simulation is visible: the first read's version is the one kept.
	sim := f.s.NewSimulator(f.db)
	if v := mustGet(t, sim, "assets", "a"); v != "1" {
		t.Fatalf("a = %q", v)
	}
	mustGet(t, sim, "assets", "absent")
	f.put("assets", "a", "2", "absent", "now here")
	if v := mustGet(t, sim, "assets", "a"); v != "2" {
		t.Fatalf("live read of a = %q", v)
	}
	mustGet(t, sim, "assets", "absent")
	rws, b, err := sim.Results()
	must(t, err)
	if len(rws.NsRwset) != 1 || !bytes.Equal(b, mustMarshal(t, rws)) {
		t.Fatalf("results bytes do not match the message")
	}
	set := &kvrwsetpb.KVRWSet{}
	must(t, proto.Unmarshal(rws.NsRwset[0].Rwset, set))
	want := []*kvrwsetpb.KVRead{
		{Key: "a", Version: &kvrwsetpb.Version{BlockNum: 1, TxNum: 0}},
		{Key: "absent"},
	}
	if len(set.Reads) != 2 || !proto.Equal(set.Reads[0], want[0]) || !proto.Equal(set.Reads[1], want[1]) {
		t.Errorf("reads = %v, want %v", set.Reads, want)
	}
}

func TestWriteRules(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "gone", "x")
	_, ns := f.simulate(func(sim *Simulator) {
		must(t, sim.PutState("assets", "last", []byte("1")))
		must(t, sim.PutState("assets", "last", []byte("2")))
		must(t, sim.DelState("assets", "delput"))
		must(t, sim.PutState("assets", "delput", []byte("back")))
		must(t, sim.PutState("assets", "putdel", []byte("x")))
		must(t, sim.DelState("assets", "putdel"))
		must(t, sim.PutState("assets", "empty", []byte{}))
		must(t, sim.PutState("assets", "nil", nil))
		must(t, sim.DelState("assets", "gone"))
		must(t, sim.PutState("assets", "\x00composite\x00k\x00", []byte("c")))
		if err := sim.PutState("assets", "", []byte("x")); err == nil || !strings.Contains(err.Error(), "empty key") {
			t.Errorf("PutState with an empty key: %v", err)
		}
		if err := sim.DelState("assets", ""); err == nil {
			t.Error("DelState with an empty key succeeded")
		}
		if err := sim.PutState("assets", "bad\xff", []byte("x")); err == nil {
			t.Error("PutState with an invalid UTF-8 key succeeded")
		}
		if _, err := sim.GetState("assets", "bad\xff"); err == nil {
			t.Error("GetState with an invalid UTF-8 key succeeded")
		}
		if _, err := sim.GetStateByRange("assets", "a", "bad\xff"); err == nil {
			t.Error("GetStateByRange with an invalid UTF-8 bound succeeded")
		}
		if v := mustGet(t, sim, "assets", ""); v != "" {
			t.Errorf("GetState of the empty key = %q", v)
		}
	})
	got := kvset(ns, "assets").Writes
	want := []*kvrwsetpb.KVWrite{
		{Key: "\x00composite\x00k\x00", Value: []byte("c")},
		{Key: "delput", Value: []byte("back")},
		{Key: "empty", IsDelete: true},
		{Key: "gone", IsDelete: true},
		{Key: "last", Value: []byte("2")},
		{Key: "nil", IsDelete: true},
		{Key: "putdel", IsDelete: true},
	}
	if len(got) != len(want) {
		t.Fatalf("writes = %v, want %v", got, want)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("write %d = %v, want %v", i, got[i], want[i])
		}
	}
	if reads := kvset(ns, "assets").Reads; len(reads) != 1 || reads[0].Key != "" || reads[0].Version != nil {
		t.Errorf("reads = %v", reads)
	}

	// Applied, the writes do what they say.
	f.commitBlock(txn{rw: ns})
	for key, want := range map[string]string{"last": "2", "delput": "back", "putdel": "", "empty": "", "nil": "", "gone": ""} {
		if v, _ := f.get("assets", key); v != want {
			t.Errorf("after commit %q = %q, want %q", key, v, want)
		}
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	must(t, err)
	return b
}

func TestResultsAreDeterministic(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "a", "1", "b", "2", "c", "3", "d", "4")
	f.put("tokens", "alice", "10")

	run := func(order []int) []byte {
		ops := []func(sim *Simulator){
			func(sim *Simulator) { mustGet(t, sim, "assets", "a") },
			func(sim *Simulator) { mustGet(t, sim, "assets", "zz") },
			func(sim *Simulator) { mustGet(t, sim, "tokens", "alice") },
			func(sim *Simulator) { must(t, sim.PutState("assets", "b", []byte("B"))) },
			func(sim *Simulator) { must(t, sim.PutState("assets", "y", []byte("Y"))) },
			func(sim *Simulator) { must(t, sim.DelState("assets", "c")) },
			func(sim *Simulator) { must(t, sim.PutState("zeta", "k", []byte("v"))) },
		}
		b, _ := f.simulate(func(sim *Simulator) {
			for _, i := range order {
				ops[i](sim)
			}
			// One range read, always last so that range order is fixed.
			q, err := sim.GetStateByRange("assets", "b", "d")
			must(t, err)
			drain(t, q, -1)
		})
		return b
	}
	first := run([]int{0, 1, 2, 3, 4, 5, 6})
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1, 0}, {3, 0, 6, 2, 5, 1, 4}} {
		if got := run(order); !bytes.Equal(got, first) {
			t.Errorf("order %v gave different bytes:\n%x\n%x", order, got, first)
		}
	}

	rws := decodeRWSet(t, first)
	var names []string
	for _, n := range rws.NsRwset {
		names = append(names, n.Namespace)
	}
	if !slices.Equal(names, []string{"assets", "tokens", "zeta"}) {
		t.Errorf("namespaces = %q, want sorted, read-only tokens included", names)
	}
	if rws.DataModel != rwsetpb.TxReadWriteSet_KV {
		t.Errorf("data model %v", rws.DataModel)
	}
	// Each namespace's bytes are the deterministic encoding of its KVRWSet.
	for _, n := range rws.NsRwset {
		set := &kvrwsetpb.KVRWSet{}
		must(t, proto.Unmarshal(n.Rwset, set))
		if !bytes.Equal(mustMarshal(t, set), n.Rwset) {
			t.Errorf("namespace %q: rwset bytes are not canonical", n.Namespace)
		}
	}
}

func TestRangeRecording(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "a", "1", "b", "2", "c", "3", "d", "4")
	f.put("assets", "c", "3'")
	v1 := &kvrwsetpb.Version{BlockNum: 1}
	v2 := &kvrwsetpb.Version{BlockNum: 2}
	raw := func(reads ...*kvrwsetpb.KVRead) *kvrwsetpb.RangeQueryInfo_RawReads {
		return &kvrwsetpb.RangeQueryInfo_RawReads{RawReads: &kvrwsetpb.QueryReads{KvReads: reads}}
	}
	_, ns := f.simulate(func(sim *Simulator) {
		// 1. Run to the end: exhausted, end_key = requested end.
		q, err := sim.GetStateByRange("assets", "b", "d")
		must(t, err)
		if keys := drain(t, q, -1); !slices.Equal(keys, []string{"b", "c"}) {
			t.Errorf("range [b, d) = %q", keys)
		}
		if q.Next() {
			t.Error("Next after the end returned true")
		}
		// 2. Stopped early: not exhausted, end_key = last key returned.
		q, err = sim.GetStateByRange("assets", "", "")
		must(t, err)
		if keys := drain(t, q, 2); !slices.Equal(keys, []string{"a", "b"}) {
			t.Errorf("first two keys = %q", keys)
		}
		if string(q.Value()) != "2" {
			t.Errorf("value of b = %q", q.Value())
		}
		must(t, q.Close())
		if q.Next() {
			t.Error("Next after Close returned true")
		}
		// 3. Never advanced: observed nothing, not recorded.
		_, err = sim.GetStateByRange("assets", "a", "z")
		must(t, err)
		// 4. Empty range run to its end: recorded, without reads.
		q, err = sim.GetStateByRange("assets", "x", "z")
		must(t, err)
		drain(t, q, -1)
		// 5. The same range as 1 again: kept once.
		q, err = sim.GetStateByRange("assets", "b", "d")
		must(t, err)
		drain(t, q, -1)
		// 6. Left open: Results closes it; what it returned is recorded.
		q, err = sim.GetStateByRange("assets", "c", "")
		must(t, err)
		drain(t, q, 1)
	})
	got := kvset(ns, "assets").RangeQueriesInfo
	want := []*kvrwsetpb.RangeQueryInfo{
		{StartKey: "b", EndKey: "d", ItrExhausted: true, ReadsInfo: raw(&kvrwsetpb.KVRead{Key: "b", Version: v1}, &kvrwsetpb.KVRead{Key: "c", Version: v2})},
		{StartKey: "", EndKey: "b", ReadsInfo: raw(&kvrwsetpb.KVRead{Key: "a", Version: v1}, &kvrwsetpb.KVRead{Key: "b", Version: v1})},
		{StartKey: "x", EndKey: "z", ItrExhausted: true},
		{StartKey: "c", EndKey: "c", ReadsInfo: raw(&kvrwsetpb.KVRead{Key: "c", Version: v2})},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d range records, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("range %d =\n%v\nwant\n%v", i, got[i], want[i])
		}
	}
	if len(kvset(ns, "assets").Reads) != 0 {
		t.Error("range reads leaked into the key reads")
	}
}

func TestSimulatorLifecycle(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "a", "1")
	snap := f.db.NewSnapshot()
	defer snap.Close()
	// A block committed after the snapshot is invisible to the simulator.
	f.put("assets", "a", "2")
	sim := f.s.NewSimulator(snap)
	if v := mustGet(t, sim, "assets", "a"); v != "1" {
		t.Errorf("snapshot read = %q, want 1", v)
	}
	h, err := sim.GetHistoryForKey("assets", "a")
	must(t, err)
	if !h.Next() || h.Entry().Version != (Version{1, 0}) {
		t.Errorf("history through the snapshot: %v %v", h.Entry(), h.Err())
	}
	q, err := sim.GetStateByRange("assets", "", "")
	must(t, err)
	rws, b, err := sim.Results()
	must(t, err)
	rws2, b2, err := sim.Results()
	if err != nil || rws2 != rws || !bytes.Equal(b, b2) {
		t.Errorf("second Results differs: %v", err)
	}
	if q.Next() || h.Next() {
		t.Error("iterators still usable after Results")
	}
	if _, err := sim.GetState("assets", "a"); err == nil {
		t.Error("GetState after Results succeeded")
	}
	if err := sim.PutState("assets", "a", []byte("x")); err == nil {
		t.Error("PutState after Results succeeded")
	}
	if _, err := sim.GetStateByRange("assets", "", ""); err == nil {
		t.Error("GetStateByRange after Results succeeded")
	}
	if _, err := sim.GetHistoryForKey("assets", "a"); err == nil {
		t.Error("GetHistoryForKey after Results succeeded")
	}
	must(t, sim.Close())

	closed := f.s.NewSimulator(snap)
	if _, err := closed.GetState("assets", "a"); err != nil {
		t.Fatal(err)
	}
	must(t, closed.Close())
	if _, _, err := closed.Results(); err == nil {
		t.Error("Results after Close succeeded")
	}

	// No namespace touched: an empty read/write set.
	empty := f.s.NewSimulator(snap)
	rws, b, err = empty.Results()
	if err != nil || len(rws.NsRwset) != 0 || len(b) != 0 {
		t.Errorf("empty simulation: %v %x %v", rws, b, err)
	}
}
