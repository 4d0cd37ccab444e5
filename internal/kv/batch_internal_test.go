package kv

import (
	"bytes"
	"testing"
)

// TestSetEncodedRecordsWhatSetRecords compares the encoding of two
// batches, one written with Set and one with SetEncoded: the same bytes
// reach the write-ahead log and the memtable.
func TestSetEncodedRecordsWhatSetRecords(t *testing.T) {
	db, err := Open("db", Options{FS: NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := bytes.Repeat([]byte("value "), 500)
	set, encoded := db.NewBatch(), db.NewBatchWithSize(4096)
	defer set.Close()
	defer encoded.Close()
	for _, b := range []*Batch{set, encoded} {
		b.DeleteRange([]byte("a"), []byte("b"))
	}
	set.Set([]byte("key"), value)
	if err := encoded.SetEncoded([]byte("key"), len(value), func(v []byte) error { copy(v, value); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Batch{set, encoded} {
		b.Set([]byte("last"), []byte("x"))
	}
	if !bytes.Equal(set.b.Repr(), encoded.b.Repr()) {
		t.Fatalf("the batches differ:\nSet        %x\nSetEncoded %x", set.b.Repr(), encoded.b.Repr())
	}
}
