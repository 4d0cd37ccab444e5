package worldstate

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// TestKeyFilterAnswersAsTheDatabase: a State with a key filter reads
// exactly what one without reads, through the database and through
// snapshots of earlier heights, for keys written before the filter was
// made and after, deleted keys, keys written again after a delete, and
// keys never written; and validates reads of them alike.
func TestKeyFilterAnswersAsTheDatabase(t *testing.T) {
	f := newFixture(t)
	plain := f.s
	f.put("assets", "before1", "v1", "before2", "v2", "gone", "g")
	f.put("other", "before1", "o1")
	filtered, err := plain.WithKeyFilter(f.db)
	must(t, err)
	f.s = filtered // commits go through the filtered State from here on

	early := f.db.NewSnapshot()
	defer early.Close()
	f.put("assets", "after1", "a1", "gone", "")
	middle := f.db.NewSnapshot()
	defer middle.Close()
	f.put("assets", "after2", "a2", "gone", "back")
	for i := range 200 {
		f.put("bulk", fmt.Sprintf("k%03d", i), "x")
	}

	keys := []struct{ ns, key string }{
		{"assets", "before1"}, {"assets", "before2"}, {"assets", "gone"}, {"assets", "after1"},
		{"assets", "after2"}, {"assets", "never"}, {"other", "before1"}, {"other", "after1"},
		{"bulk", "k000"}, {"bulk", "k199"}, {"bulk", "k200"}, {"nowhere", "before1"},
	}
	for i := range 1000 {
		keys = append(keys, struct{ ns, key string }{"assets", fmt.Sprintf("new-%d", i)})
	}
	for _, r := range []struct {
		name string
		r    kv.Reader
	}{{"database", f.db}, {"snapshot before the filter's first block", early}, {"snapshot in between", middle}} {
		for _, k := range keys {
			gotV, gotVer, gotErr := filtered.Get(r.r, k.ns, k.key)
			wantV, wantVer, wantErr := plain.Get(r.r, k.ns, k.key)
			if gotErr != nil || wantErr != nil {
				t.Fatalf("%s: %s/%s: %v, %v", r.name, k.ns, k.key, gotErr, wantErr)
			}
			if !slices.Equal(gotV, wantV) || (gotVer == nil) != (wantVer == nil) || (gotVer != nil && *gotVer != *wantVer) {
				t.Errorf("%s: %s/%s = %q %v, want %q %v", r.name, k.ns, k.key, gotV, gotVer, wantV, wantVer)
			}
		}
	}

	// A transaction that read "after1" and "never" as absent conflicts on
	// the first only; the same through both States.
	reads := []envelope.NsRWSet{{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{
		Reads: []*kvrwsetpb.KVRead{{Key: "never"}, {Key: "after1"}},
	}}}
	for _, s := range []*State{plain, filtered} {
		code, reason, err := s.CheckReads(f.db, s.NewBlockUpdates(f.block), reads)
		must(t, err)
		if code != peerpb.TxValidationCode_MVCC_READ_CONFLICT {
			t.Errorf("read of a key created since: %v %s", code, reason)
		}
	}
	absentOnly := []envelope.NsRWSet{{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{Reads: []*kvrwsetpb.KVRead{{Key: "never"}}}}}
	for _, s := range []*State{plain, filtered} {
		if code, reason, err := s.CheckReads(f.db, s.NewBlockUpdates(f.block), absentOnly); err != nil || code != peerpb.TxValidationCode_VALID {
			t.Errorf("read of a key still absent: %v %s %v", code, reason, err)
		}
	}
}

// BenchmarkGetAbsent reads keys that were never written, from a state of a
// million keys, without and with the key filter.
func BenchmarkGetAbsent(b *testing.B) {
	db, s := loadBench(b, benchKeys)
	filtered, err := s.WithKeyFilter(db)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range []struct {
		name string
		s    *State
	}{{"database", s}, {"filtered", filtered}} {
		b.Run(st.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if v, ver, err := st.s.Get(db, benchNS, fmt.Sprintf("new%07d", i)); err != nil || v != nil || ver != nil {
					b.Fatalf("%v %v %v", v, ver, err)
				}
			}
		})
	}
}
