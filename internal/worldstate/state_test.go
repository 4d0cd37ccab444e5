package worldstate

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/compositekey"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	queryresultpb "github.com/chorusledger/chorus/proto/fabric/ledger/queryresult"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

func TestValidateNamespace(t *testing.T) {
	good := []string{"assets", "_lifecycle", "a", "my.cc+v1-2_X", strings.Repeat("n", 64)}
	for _, ns := range good {
		if err := ValidateNamespace(ns); err != nil {
			t.Errorf("ValidateNamespace(%q) = %v, want nil", ns, err)
		}
	}
	bad := []string{"", strings.Repeat("n", 65), "a b", "a\x00b", "é", "a/b", "a:b", "$$h"}
	f := newFixture(t)
	for _, ns := range bad {
		err := ValidateNamespace(ns)
		if err == nil || !strings.HasPrefix(err.Error(), "worldstate: invalid namespace") {
			t.Errorf("ValidateNamespace(%q) = %v, want an invalid-namespace error", ns, err)
		}
		if _, _, err := f.s.Get(f.db, ns, "k"); err == nil {
			t.Errorf("Get in namespace %q succeeded", ns)
		}
		if _, err := f.s.Range(f.db, ns, "", ""); err == nil {
			t.Errorf("Range in namespace %q succeeded", ns)
		}
		if _, err := f.s.History(f.db, ns, "k"); err == nil {
			t.Errorf("History in namespace %q succeeded", ns)
		}
		sim := f.s.NewSimulator(f.db)
		if _, err := sim.GetState(ns, "k"); err == nil {
			t.Errorf("GetState in namespace %q succeeded", ns)
		}
		if err := sim.PutState(ns, "k", []byte("v")); err == nil {
			t.Errorf("PutState in namespace %q succeeded", ns)
		}
		if _, err := sim.GetStateByRange(ns, "", ""); err == nil {
			t.Errorf("GetStateByRange in namespace %q succeeded", ns)
		}
		sim.Close()
	}
}

func TestValidateChannelName(t *testing.T) {
	for _, ch := range []string{"mychannel", "a", "ch-1.test", strings.Repeat("c", 249)} {
		if _, err := New(ch); err != nil {
			t.Errorf("New(%q) = %v", ch, err)
		}
	}
	for _, ch := range []string{"", "MyChannel", "1abc", "a\x00", "a_b", strings.Repeat("c", 250)} {
		if _, err := New(ch); err == nil {
			t.Errorf("New(%q) succeeded", ch)
		}
	}
	if got := string(ChannelPrefix("mychannel")); got != "cmychannel\x00" {
		t.Errorf("ChannelPrefix = %q", got)
	}
}

func TestGetAndRangeKeepNamespacesAndChannelsApart(t *testing.T) {
	f := newFixture(t)
	other := newState(t, "mychannel2")
	f.put("a", "k", "a1", "k\x00x", "a2")
	f.put("ab", "k", "ab1")
	u := other.NewBlockUpdates(1)
	must(t, u.Add(0, "t", nil, []envelope.NsRWSet{{Namespace: "a", KV: &kvrwsetpb.KVRWSet{
		Writes: []*kvrwsetpb.KVWrite{{Key: "k", Value: []byte("other")}, {Key: "j", Value: []byte("other")}},
	}}}))
	b := f.db.NewBatch()
	must(t, u.WriteTo(b))
	must(t, b.Commit(true))

	if v, ver := f.get("a", "k"); v != "a1" || *ver != (Version{1, 0}) {
		t.Errorf("a/k = %q %v", v, ver)
	}
	if v, _ := f.get("ab", "k"); v != "ab1" {
		t.Errorf("ab/k = %q", v)
	}
	if v, ver := f.get("a", "missing"); v != "" || ver != nil {
		t.Errorf("missing key = %q %v", v, ver)
	}
	if v, _, _ := other.Get(f.db, "a", "k"); string(v) != "other" {
		t.Errorf("other channel a/k = %q", v)
	}
	type kvv struct {
		k, v string
		ver  Version
	}
	scan := func(s *State, ns, start, end string) []kvv {
		it, err := s.Range(f.db, ns, start, end)
		must(t, err)
		var out []kvv
		for it.Next() {
			out = append(out, kvv{it.Key(), string(it.Value()), it.Version()})
		}
		must(t, it.Close())
		return out
	}
	if got, want := scan(f.s, "a", "", ""), []kvv{{"k", "a1", Version{1, 0}}, {"k\x00x", "a2", Version{1, 0}}}; !slices.Equal(got, want) {
		t.Errorf("range over a = %v, want %v", got, want)
	}
	if got := scan(f.s, "a", "k\x00", ""); len(got) != 1 || got[0].k != "k\x00x" {
		t.Errorf("range from k\\x00 = %v", got)
	}
	if got := scan(f.s, "a", "k", "k\x00x"); len(got) != 1 || got[0].k != "k" {
		t.Errorf("range [k, k\\x00x) = %v", got)
	}
	if got := scan(f.s, "a", "z", "a"); len(got) != 0 {
		t.Errorf("range with start > end = %v", got)
	}
	if got := scan(other, "a", "", ""); len(got) != 2 || got[0].k != "j" {
		t.Errorf("other channel = %v", got)
	}
}

func TestHistoryNewestFirst(t *testing.T) {
	f := newFixture(t)
	// Block 1: create; block 2: another key; block 3: update twice in one
	// block (tx 0 and tx 2); block 4: delete; block 5: recreate.
	f.put("assets", "asset1", "v1")
	f.put("assets", "asset1\x00", "neighbour", "asset10", "neighbour")
	w := func(v string) []envelope.NsRWSet {
		return []envelope.NsRWSet{{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{Writes: []*kvrwsetpb.KVWrite{{Key: "asset1", Value: []byte(v), IsDelete: v == ""}}}}}
	}
	ts := func(s int64) *timestamppb.Timestamp { return &timestamppb.Timestamp{Seconds: s, Nanos: 7} }
	f.commitBlock(txn{id: "t3a", ts: ts(30), rw: w("v2")}, txn{id: "t3b", rw: []envelope.NsRWSet{{Namespace: "other", KV: &kvrwsetpb.KVRWSet{}}}}, txn{id: "t3c", ts: ts(31), rw: w("v3")})
	f.commitBlock(txn{id: "t4", ts: ts(40), rw: w("")})
	f.commitBlock(txn{id: "t5", ts: ts(50), rw: w("v5")})

	h, err := f.s.History(f.db, "assets", "asset1")
	must(t, err)
	var got []HistoryEntry
	for h.Next() {
		got = append(got, h.Entry())
	}
	must(t, h.Close())
	want := []HistoryEntry{
		{Version{5, 0}, "t5", ts(50), false, []byte("v5")},
		{Version{4, 0}, "t4", ts(40), true, nil},
		{Version{3, 2}, "t3c", ts(31), false, []byte("v3")},
		{Version{3, 0}, "t3a", ts(30), false, []byte("v2")},
		{Version{1, 0}, "tx-1-0", &timestamppb.Timestamp{Seconds: 1_700_000_001}, false, []byte("v1")},
	}
	if len(got) != len(want) {
		t.Fatalf("history has %d entries, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Version != w.Version || g.TxID != w.TxID || !proto.Equal(g.Timestamp, w.Timestamp) || g.IsDelete != w.IsDelete || string(g.Value) != string(w.Value) {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	km := got[1].KeyModification()
	if !proto.Equal(km, &queryresultpb.KeyModification{TxId: "t4", Timestamp: ts(40), IsDelete: true}) {
		t.Errorf("KeyModification = %v", km)
	}
	if km := (HistoryEntry{TxID: "x"}).KeyModification(); km.Timestamp == nil {
		t.Error("KeyModification without a timestamp has none; the Node shim needs one")
	}
	if v, ver := f.get("assets", "asset1"); v != "v5" || *ver != (Version{5, 0}) {
		t.Errorf("state = %q %v", v, ver)
	}

	// The neighbours' histories are their own.
	for _, key := range []string{"asset1\x00", "asset10"} {
		h, err := f.s.History(f.db, "assets", key)
		must(t, err)
		n := 0
		for h.Next() {
			n++
			if e := h.Entry(); e.Version != (Version{2, 0}) {
				t.Errorf("history of %q: %v", key, e)
			}
		}
		must(t, h.Close())
		if n != 1 {
			t.Errorf("history of %q has %d entries, want 1", key, n)
		}
	}
	h, err = f.s.History(f.db, "assets", "never")
	must(t, err)
	if h.Next() {
		t.Error("history of an unwritten key is not empty")
	}
	must(t, h.Close())
}

// TestPartialCompositeKeyRange: stored and queried through a simulator, a
// partial composite key range holds exactly the keys of its attributes,
// and the simple-key convention (start "\x01") skips composite keys.
func TestPartialCompositeKeyRange(t *testing.T) {
	start, end, err := compositekey.PartialRange("color~name", []string{"blue"})
	must(t, err)
	f := newFixture(t)
	var kvs []string
	for _, a := range [][]string{{"blue", "a1"}, {"blue", "a2"}, {"bluegreen", "a3"}, {"red", "a4"}, {"blue", "z\u00e9"}} {
		k, err := compositekey.Create("color~name", a)
		must(t, err)
		kvs = append(kvs, k, "x")
	}
	kvs = append(kvs, "simple", "x")
	f.put("assets", kvs...)
	f.simulate(func(sim *Simulator) {
		q, err := sim.GetStateByRange("assets", start, end)
		must(t, err)
		var names []string
		for _, k := range drain(t, q, -1) {
			_, attrs, err := compositekey.Split(k)
			must(t, err)
			names = append(names, attrs[1])
		}
		if !slices.Equal(names, []string{"a1", "a2", "z\u00e9"}) {
			t.Errorf("partial composite query = %q", names)
		}
		// The simple-key convention (start "\x01") skips composite keys.
		q, err = sim.GetStateByRange("assets", "\x01", "")
		must(t, err)
		if got := drain(t, q, -1); !slices.Equal(got, []string{"simple"}) {
			t.Errorf("simple keys = %q", got)
		}
	})
}

func TestCorruptRecordsAreErrors(t *testing.T) {
	f := newFixture(t)
	f.put("assets", "good", "v")
	b := f.db.NewBatch()
	b.Set(appendStateKey(nil, f.s.statePrefix, "assets", "bad"), []byte{9, 9})
	b.Set(appendHistoryKey(nil, f.s.historyPrefix, "assets", "good", Version{9, 9}), []byte{1, 0x80})
	b.Set(append(appendHistoryKeyPrefix(nil, f.s.historyPrefix, "assets", "short"), 1, 2, 3), []byte{1})
	must(t, b.Commit(true))

	if _, _, err := f.s.Get(f.db, "assets", "bad"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get: %v, want ErrCorrupt", err)
	}
	it, err := f.s.Range(f.db, "assets", "", "")
	must(t, err)
	for it.Next() {
	}
	if err := it.Close(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Range: %v, want ErrCorrupt", err)
	}
	for _, key := range []string{"good", "short"} {
		h, err := f.s.History(f.db, "assets", key)
		must(t, err)
		for h.Next() {
		}
		if err := h.Err(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("History of %q: %v, want ErrCorrupt", key, err)
		}
		h.Close()
	}
	read := []envelope.NsRWSet{{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{Reads: []*kvrwsetpb.KVRead{{Key: "bad"}}}}}
	if code, _, err := f.s.CheckReads(f.db, nil, read); !errors.Is(err, ErrCorrupt) || code != peerpb.TxValidationCode_NOT_VALIDATED {
		t.Errorf("CheckReads: %v %v, want NOT_VALIDATED and ErrCorrupt", code, err)
	}
	rng := []envelope.NsRWSet{{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{RangeQueriesInfo: []*kvrwsetpb.RangeQueryInfo{{StartKey: "a", EndKey: "z", ItrExhausted: true}}}}}
	if _, _, err := f.s.CheckReads(f.db, nil, rng); !errors.Is(err, ErrCorrupt) {
		t.Errorf("CheckReads of a range: %v, want ErrCorrupt", err)
	}

	sim := f.s.NewSimulator(f.db)
	if _, err := sim.GetState("assets", "bad"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("GetState: %v", err)
	}
	if _, _, err := sim.Results(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Results after a corrupt read: %v, want ErrCorrupt", err)
	}
	sim = f.s.NewSimulator(f.db)
	q, err := sim.GetStateByRange("assets", "", "")
	must(t, err)
	drainErr := func() error {
		for q.Next() {
		}
		return q.Err()
	}
	if err := drainErr(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("simulated range: %v", err)
	}
	if _, _, err := sim.Results(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Results after a corrupt range: %v, want ErrCorrupt", err)
	}
}

// TestCommittedBlockSurvivesCrash checks that a block's state and history,
// written by WriteTo into a synced batch, survive a power cut right after
// Commit.
func TestCommittedBlockSurvivesCrash(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db, err := kv.Open("db", kv.Options{FS: fs})
	must(t, err)
	s := newState(t, "mychannel")
	u := s.NewBlockUpdates(1)
	must(t, u.Add(0, "tx0", timestamppb.Now(), []envelope.NsRWSet{{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{
		Writes: []*kvrwsetpb.KVWrite{{Key: "a", Value: []byte("1")}},
	}}}))
	b := db.NewBatch()
	must(t, u.WriteTo(b))
	must(t, b.Commit(true))
	crashed := kv.CrashClone(fs)
	db.Close()

	db2, err := kv.Open("db", kv.Options{FS: crashed})
	must(t, err)
	defer db2.Close()
	v, ver, err := s.Get(db2, "assets", "a")
	if err != nil || string(v) != "1" || *ver != (Version{1, 0}) {
		t.Fatalf("after crash: %q %v %v", v, ver, err)
	}
	h, err := s.History(db2, "assets", "a")
	must(t, err)
	if !h.Next() || h.Entry().TxID != "tx0" {
		t.Fatalf("history after crash: %v %v", h.Entry(), h.Err())
	}
	must(t, h.Close())
}

// TestSnapshotsSeeWholeBlocks reads through snapshots while blocks commit
// on another goroutine: every block writes the same value to two keys, so
// a snapshot that showed part of a block would show them different.
func TestSnapshotsSeeWholeBlocks(t *testing.T) {
	f := newFixture(t)
	const blocks = 200
	done := make(chan struct{})
	// The reader ticks at the start of every read and the writer commits one
	// block per tick, so reads and commits overlap throughout.
	tick := make(chan struct{}, 1)
	go func() {
		defer close(done)
		for i := 1; i <= blocks; i++ {
			<-tick
			u := f.s.NewBlockUpdates(uint64(i))
			v := []byte(strconv.Itoa(i))
			if err := u.Add(0, "t", nil, []envelope.NsRWSet{{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{
				Writes: []*kvrwsetpb.KVWrite{{Key: "a", Value: v}, {Key: "b", Value: v}},
			}}}); err != nil {
				t.Error(err)
				return
			}
			b := f.db.NewBatch()
			if err := u.WriteTo(b); err != nil {
				t.Error(err)
			}
			if err := b.Commit(true); err != nil {
				t.Error(err)
			}
			b.Close()
		}
	}()
	reads := 0
	for finished := false; !finished; reads++ {
		select {
		case <-done:
			finished = true // one last read sees the final block
		default:
		}
		select {
		case tick <- struct{}{}:
		default:
		}
		snap := f.db.NewSnapshot()
		sim := f.s.NewSimulator(snap)
		a, err := sim.GetState("assets", "a")
		must(t, err)
		b, err := sim.GetState("assets", "b")
		must(t, err)
		q, err := sim.GetStateByRange("assets", "", "")
		must(t, err)
		n := len(drain(t, q, -1))
		_, _, err = sim.Results()
		must(t, err)
		snap.Close()
		if string(a) != string(b) || (n != 0 && n != 2) {
			t.Fatalf("snapshot shows part of a block: a=%q b=%q, %d keys", a, b, n)
		}
		if finished && string(a) != strconv.Itoa(blocks) {
			t.Fatalf("after the last commit a = %q, want %d", a, blocks)
		}
	}
	t.Logf("%d snapshot reads during %d commits", reads, blocks)
}
