package kv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
)

func openMem(t *testing.T, fs kv.FS) *kv.DB {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGetSetDeleteIterate(t *testing.T) {
	db := openMem(t, kv.NewCrashableMemFS())
	defer db.Close()
	b := db.NewBatch()
	for i := 0; i < 10; i++ {
		b.Set([]byte(fmt.Sprintf("a/%02d", i)), []byte(fmt.Sprint(i)))
	}
	b.Set([]byte("b/x"), []byte("outside"))
	if b.Count() != 11 {
		t.Fatalf("count %d", b.Count())
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("a/03")); err != nil || string(v) != "3" {
		t.Fatalf("get: %q %v", v, err)
	}
	if _, err := db.Get([]byte("a/99")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}

	snap := db.NewSnapshot()
	defer snap.Close()
	b = db.NewBatch()
	b.Delete([]byte("a/03"))
	b.DeleteRange([]byte("a/05"), []byte("a/08"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}

	keys := func(r kv.Reader) string {
		it, err := r.NewIter([]byte("a/"), kv.PrefixEnd([]byte("a/")))
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for ok := it.First(); ok; ok = it.Next() {
			ks = append(ks, string(it.Key()[2:]))
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(ks, ",")
	}
	if got := keys(db); got != "00,01,02,04,08,09" {
		t.Fatalf("after deletes: %s", got)
	}
	if got := keys(snap); got != "00,01,02,03,04,05,06,07,08,09" {
		t.Fatalf("snapshot saw later writes: %s", got)
	}
	if v, err := snap.Get([]byte("a/03")); err != nil || string(v) != "3" {
		t.Fatalf("snapshot get: %q %v", v, err)
	}
}

func TestSetEncodedWritesIntoTheBatch(t *testing.T) {
	db := openMem(t, kv.NewCrashableMemFS())
	defer db.Close()
	value := make([]byte, 3000)
	for i := range value {
		value[i] = byte(i * 7)
	}
	big := bytes.Repeat([]byte{'b'}, 100_000)
	b := db.NewBatchWithSize(64)
	b.Set([]byte("before"), []byte("1"))
	err := b.SetEncoded([]byte("encoded"), len(value), func(v []byte) error {
		if len(v) != len(value) {
			return fmt.Errorf("given %d bytes", len(v))
		}
		copy(v, value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The batch outgrows its buffer after the encoded value.
	b.Set([]byte("after"), big)
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	for k, want := range map[string][]byte{"before": []byte("1"), "encoded": value, "after": big} {
		if v, err := db.Get([]byte(k)); err != nil || !bytes.Equal(v, want) {
			t.Fatalf("%s: %d bytes, %v", k, len(v), err)
		}
	}

	// A failed encoding is returned.
	b = db.NewBatch()
	defer b.Close()
	failure := errors.New("cannot encode")
	if err := b.SetEncoded([]byte("half"), 10, func([]byte) error { return failure }); !errors.Is(err, failure) {
		t.Fatalf("SetEncoded returned %v", err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
		{[]byte{}, nil},
	} {
		if got := kv.PrefixEnd(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMem(t, fs)
	b := db.NewBatch()
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], kv.SchemaVersion+1)
	b.Set([]byte("\x00chorus/schema-version"), v[:])
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := kv.Open("db", kv.Options{FS: fs})
	if !errors.Is(err, kv.ErrNewerSchema) || !strings.Contains(err.Error(), "run a newer chorus") {
		t.Fatalf("opened a newer database: %v", err)
	}
}

// TestCrashKeepsSyncedBatchesOnly cuts power after a synced and an unsynced
// batch: the synced one survives whole, the unsynced one is gone.
func TestCrashKeepsSyncedBatchesOnly(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMem(t, fs)
	b := db.NewBatch()
	b.Set([]byte("k1"), []byte("synced"))
	b.Set([]byte("k2"), []byte("synced"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b = db.NewBatch()
	b.Set([]byte("k3"), []byte("not synced"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	crashed := kv.CrashClone(fs)
	db.Close()

	db = openMem(t, crashed)
	defer db.Close()
	for _, k := range []string{"k1", "k2"} {
		if v, err := db.Get([]byte(k)); err != nil || string(v) != "synced" {
			t.Fatalf("%s after crash: %q %v", k, v, err)
		}
	}
	if _, err := db.Get([]byte("k3")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("unsynced write survived a power cut: %v", err)
	}
}

// TestSyncHooksSeeEveryCommit checks that a synced commit passes through a
// sync point, and that a clone taken just before that sync lacks the
// batch while one taken after it has it.
func TestSyncHooksSeeEveryCommit(t *testing.T) {
	mem := kv.NewCrashableMemFS()
	var before, after []*kv.MemFS
	var points []kv.SyncPoint
	arm := false
	hooks := &kv.SyncHooks{
		FS: mem,
		Before: func(p kv.SyncPoint) {
			if arm {
				points = append(points, p)
				before = append(before, kv.CrashClone(mem))
			}
		},
		After: func(kv.SyncPoint) {
			if arm {
				after = append(after, kv.CrashClone(mem))
			}
		},
	}
	db := openMem(t, hooks)
	arm = true
	b := db.NewBatch()
	b.Set([]byte("block"), []byte("1"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	arm = false
	db.Close()
	if len(points) == 0 {
		t.Fatal("a synced commit passed no sync point")
	}
	t.Logf("sync points of one commit: %v", points)
	has := func(fs *kv.MemFS) bool {
		d := openMem(t, fs)
		defer d.Close()
		_, err := d.Get([]byte("block"))
		return err == nil
	}
	if has(before[0]) {
		t.Fatal("batch durable before its first sync")
	}
	if !has(after[len(after)-1]) {
		t.Fatal("batch not durable after its last sync")
	}
}
