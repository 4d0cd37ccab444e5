package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// SchemaVersion is the on-disk format this build writes. It only moves
// forward; a database stamped with a larger number is refused.
const SchemaVersion uint32 = 1

// schemaKey holds the schema version, big-endian.
var schemaKey = []byte("\x00chorus/schema-version")

// ErrNotFound is returned by Get for a key that is absent.
var ErrNotFound = errors.New("kv: not found")

// ErrNewerSchema is wrapped by Open when the database was written by a newer
// version of Chorus.
var ErrNewerSchema = errors.New("kv: database written by a newer schema")

// Options configures Open.
type Options struct {
	// FS is the filesystem; nil means the operating system's.
	FS FS
	// Logger receives Pebble's own messages; nil discards them.
	Logger *slog.Logger
	// CacheBytes sizes the block cache; 0 means 64 MiB.
	CacheBytes int64
	// ReadOnly opens without writing anything, not even the schema stamp.
	ReadOnly bool
	// MemTableBytes sizes the memtable; 0 means 64 MiB. A large memtable
	// lets short-lived keys (Raft log entries, deleted after a snapshot)
	// die in memory instead of being flushed and compacted.
	MemTableBytes uint64
}

// DB is an open database.
type DB struct {
	pdb      *pebble.DB
	fs       FS
	dir      string
	readOnly bool
}

// Open opens (creating if needed) the database in dir.
func Open(dir string, opts Options) (*DB, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	cacheBytes := opts.CacheBytes
	if cacheBytes <= 0 {
		cacheBytes = 64 << 20
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	memtable := opts.MemTableBytes
	if memtable == 0 {
		memtable = 64 << 20
	}
	po := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		Logger:             pebbleLogger{opts.Logger},
		ReadOnly:           opts.ReadOnly,
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       memtable,
	}
	// No block compression: what Chorus stores is mostly signed envelopes
	// and certificates, which snappy barely shrinks, while compressing and
	// decompressing them was a sixth of an orderer's CPU under load
	// (docs/performance.md).
	// Bloom filters (10 bits a key, about 1% false positives) on every
	// level: most point reads under load are of keys that do not exist (a
	// new transaction id checked for duplicates, a new asset's key read by
	// its contract), and without a filter each one reads an index and a
	// data block of every table whose key range covers it.
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if opts.ReadOnly {
		po.FormatMajorVersion = pebble.FormatDefault
	}
	pdb, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", dir, err)
	}
	db := &DB{pdb: pdb, fs: fs, dir: dir, readOnly: opts.ReadOnly}
	if err := db.checkSchema(opts.ReadOnly); err != nil {
		pdb.Close()
		return nil, fmt.Errorf("kv: open %s: %w", dir, err)
	}
	return db, nil
}

func (db *DB) checkSchema(readOnly bool) error {
	v, err := db.Get(schemaKey)
	switch {
	case errors.Is(err, ErrNotFound):
		if readOnly {
			return nil
		}
		var buf [4]byte
		binary.BigEndian.PutUint32(buf[:], SchemaVersion)
		return db.pdb.Set(schemaKey, buf[:], pebble.Sync)
	case err != nil:
		return err
	case len(v) != 4:
		return fmt.Errorf("schema version record has %d bytes, want 4: not a Chorus database?", len(v))
	}
	if got := binary.BigEndian.Uint32(v); got > SchemaVersion {
		return fmt.Errorf("%w: the database is at schema version %d and this build of chorus understands up to %d; run a newer chorus", ErrNewerSchema, got, SchemaVersion)
	}
	return nil
}

// FS is the filesystem the database lives on.
func (db *DB) FS() FS { return db.fs }

// Dir is the database's directory. Pebble ignores names it did not
// write, so subsystems may keep their own files in subdirectories of it
// (the ledger's block segments live in Dir/blocks); a copy of the
// directory is then a copy of the whole node's storage.
func (db *DB) Dir() string { return db.dir }

// ReadOnly reports whether the database was opened read-only; subsystems
// keeping files beside it must not change them either.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Close closes the database. Iterators and snapshots must be closed first.
func (db *DB) Close() error {
	if err := db.pdb.Close(); err != nil {
		return fmt.Errorf("kv: close: %w", err)
	}
	return nil
}

// Get returns a copy of the value of key, or ErrNotFound.
func (db *DB) Get(key []byte) ([]byte, error) { return get(db.pdb, key) }

// NewIter returns an iterator over keys in [lower, upper); a nil bound is
// open.
func (db *DB) NewIter(lower, upper []byte) (*Iter, error) { return newIter(db.pdb, lower, upper) }

// NewSnapshot returns a consistent, read-only view of the database as of
// now. Close it when done: it pins old data.
func (db *DB) NewSnapshot() *Snapshot { return &Snapshot{s: db.pdb.NewSnapshot()} }

// NewBatch starts an atomic group of writes.
func (db *DB) NewBatch() *Batch { return &Batch{b: db.pdb.NewBatch()} }

// NewBatchWithSize starts an atomic group of writes whose encoding takes
// about size bytes, allocating that much at once instead of growing the
// batch's buffer as writes arrive.
func (db *DB) NewBatchWithSize(size int) *Batch {
	return &Batch{b: db.pdb.NewBatchWithSize(size)}
}

// Flush writes the memtable to disk. Tests use it to exercise reads from
// sorted tables; normal operation never needs it.
func (db *DB) Flush() error { return db.pdb.Flush() }

// Metrics returns Pebble's metrics in its own text form, for diagnostics.
func (db *DB) Metrics() string { return db.pdb.Metrics().String() }

// Reader is what can be read: the live database or a snapshot.
type Reader interface {
	Get(key []byte) ([]byte, error)
	NewIter(lower, upper []byte) (*Iter, error)
}

var (
	_ Reader = (*DB)(nil)
	_ Reader = (*Snapshot)(nil)
)

// Snapshot is a consistent, read-only view of the database.
type Snapshot struct {
	s *pebble.Snapshot
}

// Get returns a copy of the value of key as of the snapshot, or ErrNotFound.
func (s *Snapshot) Get(key []byte) ([]byte, error) { return get(s.s, key) }

// NewIter returns an iterator over [lower, upper) as of the snapshot.
func (s *Snapshot) NewIter(lower, upper []byte) (*Iter, error) { return newIter(s.s, lower, upper) }

// Close releases the snapshot.
func (s *Snapshot) Close() error { return s.s.Close() }

type pebbleReader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func get(r pebbleReader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("kv: get: %w", err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	return out, closer.Close()
}

func newIter(r pebbleReader, lower, upper []byte) (*Iter, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("kv: new iterator: %w", err)
	}
	return &Iter{it: it}, nil
}

// Iter walks keys in order. Key and Value are valid only until the next
// move; copy them to keep them.
type Iter struct {
	it *pebble.Iterator
}

func (i *Iter) First() bool            { return i.it.First() }
func (i *Iter) Last() bool             { return i.it.Last() }
func (i *Iter) Next() bool             { return i.it.Next() }
func (i *Iter) Prev() bool             { return i.it.Prev() }
func (i *Iter) SeekGE(key []byte) bool { return i.it.SeekGE(key) }
func (i *Iter) SeekLT(key []byte) bool { return i.it.SeekLT(key) }
func (i *Iter) Valid() bool            { return i.it.Valid() }
func (i *Iter) Key() []byte            { return i.it.Key() }
func (i *Iter) Value() []byte          { return i.it.Value() }
func (i *Iter) Error() error           { return i.it.Error() }

// Close releases the iterator and returns any error met while iterating.
func (i *Iter) Close() error { return i.it.Close() }

// Batch is an atomic group of writes. Nothing is visible until Commit, and
// then everything is.
type Batch struct {
	b *pebble.Batch
}

// Set writes key = value. The batch copies both.
func (b *Batch) Set(key, value []byte) {
	if err := b.b.Set(key, value, nil); err != nil {
		panic("kv: set on a committed batch: " + err.Error())
	}
}

// SetEncoded writes key = a value of n bytes that encode writes straight
// into the batch's memory, saving the copy Set makes of a value encoded
// elsewhere first; the batch records exactly what Set would. encode must
// fill all n bytes, must not use the batch, and must not keep value
// after it returns. When it fails, the batch holds a half-written value:
// SetEncoded returns encode's error and the batch must be closed without
// being committed.
func (b *Batch) SetEncoded(key []byte, n int, encode func(value []byte) error) error {
	op := b.b.SetDeferred(len(key), n)
	copy(op.Key, key)
	if err := encode(op.Value); err != nil {
		return err
	}
	if err := op.Finish(); err != nil { // only an indexed batch can fail, and kv makes none
		panic("kv: index a batch's record: " + err.Error())
	}
	return nil
}

// Delete removes key.
func (b *Batch) Delete(key []byte) {
	if err := b.b.Delete(key, nil); err != nil {
		panic("kv: delete on a committed batch: " + err.Error())
	}
}

// DeleteRange removes every key in [start, end).
func (b *Batch) DeleteRange(start, end []byte) {
	if err := b.b.DeleteRange(start, end, nil); err != nil {
		panic("kv: delete range on a committed batch: " + err.Error())
	}
}

// Count is the number of writes in the batch.
func (b *Batch) Count() int { return int(b.b.Count()) }

// Size is the encoded size of the batch in bytes.
func (b *Batch) Size() int { return b.b.Len() }

// Commit applies the batch atomically. With sync it returns only once the
// batch is durable on disk; a crash after that keeps it, a crash before it
// loses all of it, never part.
func (b *Batch) Commit(sync bool) error {
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if err := b.b.Commit(opts); err != nil {
		return fmt.Errorf("kv: commit batch: %w", err)
	}
	return nil
}

// Close releases the batch; uncommitted writes are dropped.
func (b *Batch) Close() error { return b.b.Close() }

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, for use as an iterator's upper bound; nil when there is none.
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// pebbleLogger routes Pebble's messages to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l != nil {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	if p.l != nil {
		p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.l != nil {
		p.l.Error(msg, "component", "pebble", "fatal", true)
	}
	panic("kv: pebble fatal error: " + msg)
}
