package worldstate

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

const cachedNS = "_lifecycle"

// newCachedFixture returns a fixture whose commits go through a State
// caching cachedNS, and the same State without the cache.
func newCachedFixture(t *testing.T) (f *fixture, plain *State) {
	f = newFixture(t)
	plain = f.s
	cached, err := plain.WithNamespaceCache(f.db, cachedNS)
	must(t, err)
	f.s = cached
	return f, plain
}

// sameRead fails t unless both reads returned the same value and version.
func sameRead(t *testing.T, what string, gotV []byte, gotVer *Version, wantV []byte, wantVer *Version) {
	t.Helper()
	if !slices.Equal(gotV, wantV) || (gotVer == nil) != (wantVer == nil) || (gotVer != nil && *gotVer != *wantVer) {
		t.Errorf("%s = %q %v, want %q %v", what, gotV, gotVer, wantV, wantVer)
	}
}

// TestNamespaceCacheAnswersAsTheDatabase: a State with a namespace cache
// reads exactly what one without reads, through the database, through its
// own snapshots taken before and after writes of the cached namespace, and
// through plain kv snapshots, each key read twice (the second read is the
// cache's when it may answer); and validates reads alike.
func TestNamespaceCacheAnswersAsTheDatabase(t *testing.T) {
	f, plain := newCachedFixture(t)
	f.put(cachedNS, "definitions/assets", "v1", "approvals/a", "yes")
	f.put("assets", "asset1", "blue")

	early := f.s.NewSnapshot(f.db)
	defer early.Close()
	earlyKV := f.db.NewSnapshot()
	defer earlyKV.Close()
	// Fill the cache through the database, then change what it holds.
	for _, key := range []string{"definitions/assets", "approvals/a", "definitions/other"} {
		if _, _, err := f.s.Get(f.db, cachedNS, key); err != nil {
			t.Fatal(err)
		}
	}
	f.put(cachedNS, "definitions/assets", "v2", "approvals/a", "", "definitions/other", "o1")
	middle := f.s.NewSnapshot(f.db)
	defer middle.Close()
	f.put("assets", "asset2", "red") // a block that leaves the cached namespace alone
	late := f.s.NewSnapshot(f.db)
	defer late.Close()

	keys := []struct{ ns, key string }{
		{cachedNS, "definitions/assets"}, {cachedNS, "approvals/a"}, {cachedNS, "definitions/other"},
		{cachedNS, "definitions/never"}, {"assets", "asset1"}, {"assets", "asset2"},
	}
	for _, r := range []struct {
		name string
		r    kv.Reader
	}{
		{"database", f.db}, {"early snapshot", early}, {"early kv snapshot", earlyKV},
		{"middle snapshot", middle}, {"late snapshot", late}, {"database again", f.db},
	} {
		for range 2 {
			for _, k := range keys {
				gotV, gotVer, gotErr := f.s.Get(r.r, k.ns, k.key)
				wantV, wantVer, wantErr := plain.Get(r.r, k.ns, k.key)
				if gotErr != nil || wantErr != nil {
					t.Fatalf("%s: %s/%s: %v, %v", r.name, k.ns, k.key, gotErr, wantErr)
				}
				sameRead(t, r.name+": "+k.ns+"/"+k.key, gotV, gotVer, wantV, wantVer)
			}
		}
	}

	// A definition read at v1 conflicts now, through both States.
	reads := []envelope.NsRWSet{{Namespace: cachedNS, KV: &kvrwsetpb.KVRWSet{
		Reads: []*kvrwsetpb.KVRead{{Key: "definitions/assets", Version: &kvrwsetpb.Version{BlockNum: 1, TxNum: 0}}},
	}}}
	for _, s := range []*State{plain, f.s} {
		code, reason, err := s.CheckReads(f.db, s.NewBlockUpdates(f.block), reads)
		must(t, err)
		if code != peerpb.TxValidationCode_MVCC_READ_CONFLICT {
			t.Errorf("read of a definition changed since: %v %s", code, reason)
		}
	}
}

// TestNamespaceCacheAnswersFromMemory: once read through the database, a
// key of a cached namespace is answered without it (a write that bypasses
// the State, which its contract forbids, shows it), the value answered
// belongs to the caller, and a write through the State's BlockUpdates is
// seen at once.
func TestNamespaceCacheAnswersFromMemory(t *testing.T) {
	f, plain := newCachedFixture(t)
	f.put(cachedNS, "definitions/assets", "v1")
	if v, _ := f.get(cachedNS, "definitions/assets"); v != "v1" {
		t.Fatalf("first read = %q", v)
	}

	bypass := plain.NewBlockUpdates(99)
	must(t, bypass.Add(0, "bypass", nil, []envelope.NsRWSet{{Namespace: cachedNS, KV: &kvrwsetpb.KVRWSet{
		Writes: []*kvrwsetpb.KVWrite{{Key: "definitions/assets", Value: []byte("behind the cache's back")}},
	}}}))
	b := f.db.NewBatch()
	must(t, bypass.WriteTo(b))
	must(t, b.Commit(true))
	b.Close()

	v, _, err := f.s.Get(f.db, cachedNS, "definitions/assets")
	must(t, err)
	if string(v) != "v1" {
		t.Fatalf("second read = %q, want the cached v1", v)
	}
	v[0] = 'X'
	if v, _ := f.get(cachedNS, "definitions/assets"); v != "v1" {
		t.Fatalf("after the caller changed its copy: %q", v)
	}
	if v, _ := f.get(cachedNS, "definitions/assets"); v != "v1" {
		t.Fatalf("read = %q", v)
	}
	block := f.put(cachedNS, "definitions/assets", "v2")
	if v, got := f.get(cachedNS, "definitions/assets"); v != "v2" || *got != *ver(block, 0) {
		t.Fatalf("after a block wrote it: %q %v", v, got)
	}
}

// TestNamespaceCacheWhileABlockCommits: between WriteTo and BatchDone the
// cache answers nothing and keeps nothing; a snapshot taken then reads the
// database; after BatchDone it fills again.
func TestNamespaceCacheWhileABlockCommits(t *testing.T) {
	f, plain := newCachedFixture(t)
	f.put(cachedNS, "k", "old")
	f.get(cachedNS, "k") // cached

	u := f.s.NewBlockUpdates(f.block)
	must(t, u.Add(0, "tx-new", nil, []envelope.NsRWSet{{Namespace: cachedNS, KV: &kvrwsetpb.KVRWSet{
		Writes: []*kvrwsetpb.KVWrite{{Key: "k", Value: []byte("new")}},
	}}}))
	b := f.db.NewBatch()
	defer b.Close()
	must(t, u.WriteTo(b))
	if v, _ := f.get(cachedNS, "k"); v != "old" { // read before the commit, from the database
		t.Fatalf("before the commit: %q", v)
	}
	during := f.s.NewSnapshot(f.db)
	defer during.Close()
	if during.cacheable {
		t.Error("a snapshot taken while a block writing the cached namespace commits is cacheable")
	}
	must(t, b.Commit(true))
	if v, _ := f.get(cachedNS, "k"); v != "new" {
		t.Fatalf("after the commit, before BatchDone: %q (a read before the commit was kept)", v)
	}
	v, _, err := f.s.Get(during, cachedNS, "k")
	must(t, err)
	if string(v) != "old" {
		t.Fatalf("snapshot taken before the commit = %q", v)
	}
	u.BatchDone()
	u.BatchDone() // a second call changes nothing
	if f.s.cache.writing != 0 {
		t.Fatalf("writing = %d after BatchDone", f.s.cache.writing)
	}
	for range 2 {
		gotV, gotVer, err := f.s.Get(f.db, cachedNS, "k")
		must(t, err)
		wantV, wantVer, err := plain.Get(f.db, cachedNS, "k")
		must(t, err)
		sameRead(t, "after BatchDone", gotV, gotVer, wantV, wantVer)
	}
	if len(f.s.cache.values) != 1 {
		t.Errorf("cache holds %d values after a read, want 1", len(f.s.cache.values))
	}
}

// TestNamespaceCacheConsistentUnderCommits runs reads through snapshots
// and through the database while blocks commit, each writing the same
// number to a key of the cached namespace and to one of another: a
// snapshot must see both equal (the cache answers neither older nor newer
// than the snapshot), and reads through the database never go back.
func TestNamespaceCacheConsistentUnderCommits(t *testing.T) {
	f, _ := newCachedFixture(t)
	const blocks = 300
	write := func(n int) {
		v := []byte(strconv.Itoa(n))
		f.commitBlock(txn{rw: []envelope.NsRWSet{
			{Namespace: "assets", KV: &kvrwsetpb.KVRWSet{Writes: []*kvrwsetpb.KVWrite{{Key: "counter", Value: v}}}},
			{Namespace: cachedNS, KV: &kvrwsetpb.KVRWSet{Writes: []*kvrwsetpb.KVWrite{{Key: "counter", Value: v}}}},
		}})
	}
	write(0)
	readInt := func(r kv.Reader, ns string) (int, error) {
		v, _, err := f.s.Get(r, ns, "counter")
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(string(v))
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				snap := f.s.NewSnapshot(f.db)
				for range 3 {
					cached, err1 := readInt(snap, cachedNS)
					other, err2 := readInt(snap, "assets")
					if err1 != nil || err2 != nil {
						errs <- fmt.Errorf("snapshot reads: %v, %v", err1, err2)
						snap.Close()
						return
					}
					if cached != other {
						errs <- fmt.Errorf("one snapshot read %d in the cached namespace and %d beside it", cached, other)
						snap.Close()
						return
					}
				}
				snap.Close()
				now, err := readInt(f.db, cachedNS)
				if err != nil || now < last {
					errs <- fmt.Errorf("database read %d after %d (%v)", now, last, err)
					return
				}
				last = now
			}
		})
	}
	for n := 1; n <= blocks; n++ {
		write(n)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := readInt(f.db, cachedNS); err != nil || n != blocks {
		t.Errorf("final read %d, %v", n, err)
	}
}

// TestWithNamespaceCacheRefusesABadNamespace: a namespace name that no
// key can have is refused.
func TestWithNamespaceCacheRefusesABadNamespace(t *testing.T) {
	if _, err := newState(t, "mychannel").WithNamespaceCache(openDB(t), "bad/name"); err == nil {
		t.Error("a namespace with '/' was accepted")
	}
}

// TestNamespaceCacheKeepsNothingReadAcrossACommit: a value read by a
// reader whose view predates a commit of the cached namespace is not kept,
// whether the commit is still under way or over when the value arrives.
func TestNamespaceCacheKeepsNothingReadAcrossACommit(t *testing.T) {
	c := &namespaceCache{values: make(map[cacheKey]cachedValue)}
	k := cacheKey{ns: cachedNS, key: "k"}
	stale := cachedValue{value: []byte("before")}

	gen, stable := c.generation()
	if !stable {
		t.Fatal("a new cache is not stable")
	}
	c.beginWrite()
	c.store(gen, k, stale) // the commit is under way
	c.endWrite()
	c.store(gen, k, stale) // the commit is over
	now, _ := c.generation()
	if v, ok := c.lookup(now, k); ok {
		t.Fatalf("the cache kept %q, read before a commit", v.value)
	}
	if _, ok := c.lookup(gen, k); ok {
		t.Fatal("the cache answers for a generation that has passed")
	}
	c.store(now, k, cachedValue{value: []byte("after")})
	if v, ok := c.lookup(now, k); !ok || string(v.value) != "after" {
		t.Fatalf("a value read in the current generation: %q %v", v.value, ok)
	}
}

// TestStopNamespaceCache: once stopped, the cache answers nothing, so a
// write that bypasses BlockUpdates (a channel's deletion) is seen at once;
// and a full cache starts again instead of refusing new keys.
func TestStopNamespaceCache(t *testing.T) {
	f, plain := newCachedFixture(t)
	f.put(cachedNS, "k", "v1")
	f.get(cachedNS, "k") // cached
	f.s.StopNamespaceCache()
	bypass := plain.NewBlockUpdates(99)
	must(t, bypass.Add(0, "bypass", nil, []envelope.NsRWSet{{Namespace: cachedNS, KV: &kvrwsetpb.KVRWSet{
		Writes: []*kvrwsetpb.KVWrite{{Key: "k", IsDelete: true}},
	}}}))
	b := f.db.NewBatch()
	must(t, bypass.WriteTo(b))
	must(t, b.Commit(true))
	b.Close()
	if v, ver := f.get(cachedNS, "k"); v != "" || ver != nil {
		t.Fatalf("after the cache stopped and the key was deleted: %q %v", v, ver)
	}
	snap := f.s.NewSnapshot(f.db)
	defer snap.Close()
	if snap.cacheable {
		t.Error("a snapshot of a stopped cache is cacheable")
	}

	c := &namespaceCache{values: make(map[cacheKey]cachedValue)}
	for i := range maxCachedValues + 1 {
		c.store(0, cacheKey{ns: cachedNS, key: strconv.Itoa(i)}, cachedValue{})
	}
	if _, ok := c.lookup(0, cacheKey{ns: cachedNS, key: strconv.Itoa(maxCachedValues)}); !ok || len(c.values) != 1 {
		t.Errorf("a full cache: the newest key cached %v, %d keys held", ok, len(c.values))
	}
}
