package ledger

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// crashPoint is one filesystem image taken at a sync point during an
// append.
type crashPoint struct {
	sp    kv.SyncPoint
	after bool   // taken just after the sync returned (else just before)
	block uint64 // the block being appended
	fs    *kv.MemFS
	isWAL bool // a sync of a write-ahead log file
}

func (p crashPoint) String() string {
	when := "before"
	if p.after {
		when = "after"
	}
	return fmt.Sprintf("#%d %s %s (%s)", p.sp.Seq, filepath.Base(p.sp.Path), p.sp.Op, when)
}

// stateWriter stands in for the world state: it writes one key per block
// into the block's batch, so the test can see that it commits atomically
// with the block.
type stateWriter uint64

func stateKey(num uint64) []byte { return []byte(fmt.Sprintf("c%s\x00k%08d", testChannel, num)) }

func (w stateWriter) WriteTo(b *kv.Batch) error {
	b.Set(stateKey(uint64(w)), []byte("state"))
	return nil
}

// flushWriter flushes the memtable from inside an append, before the
// batch commits, so that the sync points of a flush (sstable, MANIFEST,
// directory, new WAL) fall inside the append's crash window.
type flushWriter struct{ db *kv.DB }

func (w flushWriter) WriteTo(*kv.Batch) error { return w.db.Flush() }

// TestCrashAtEverySyncPoint appends blocks 0..8 on a filesystem that can
// lose everything unsynced, and during the append of each block takes a
// power-cut image just before and just after every sync. Each image must
// reopen as a consistent ledger (Verify passes with signatures and commit
// hashes) whose height is exactly the last block whose batch was synced:
// k before the sync of the write-ahead log that carries block k's batch,
// k+1 after it. So, for the images of block k in sync order: every height
// is k or k+1, the first is k, the last is k+1, they never decrease, and
// the one step from k to k+1 happens across a single sync of a WAL file
// (NNNNNN.log), never across a sync of anything else. The world-state
// write of block k must be durable exactly when the block is, and each
// image must take the next append.
//
// Sync points observed with Pebble v2 (sequence numbers vary):
//   - an ordinary block: two, its segment ("NNNNNNNN.blk", sync-data),
//     at height k, then the WAL ("NNNNNN.log", sync-data) that makes its
//     batch durable;
//   - block 0, which creates the first segment: before those two, the
//     segment's directory ("mychannel"), the "blocks" directory above it
//     and the database directory ("db"), all at height 0;
//   - block 3, whose append flushes the memtable first (flushWriter):
//     after its segment sync, the old WAL (synced as it is retired), the
//     database directory (for the new WAL), the new sstable
//     ("NNNNNN.sst", sync-data), the directory again, the MANIFEST
//     ("MANIFEST-NNNNNN", sync) - all at height 3 - and then the new WAL
//     with the batch: height 4;
//   - blocks 6 (2.5 MB) and 7, which do not fit in the segment before
//     theirs (segments are limited to 1 MiB here) and each start a new
//     one: the three directory syncs again, then the segment and the WAL.
//     An image taken after such a segment exists but before the WAL sync
//     reopens at height k with the new segment removed.
//
// The test logs the full list.
func TestCrashAtEverySyncPoint(t *testing.T) {
	mem := kv.NewCrashableMemFS()
	var (
		mu      sync.Mutex
		points  []crashPoint
		armed   atomic.Bool
		current atomic.Uint64
	)
	take := func(after bool) func(kv.SyncPoint) {
		return func(sp kv.SyncPoint) {
			if !armed.Load() {
				return
			}
			clone := kv.CrashClone(mem)
			mu.Lock()
			points = append(points, crashPoint{sp: sp, after: after, block: current.Load(), fs: clone, isWAL: strings.HasSuffix(sp.Path, ".log")})
			mu.Unlock()
		}
	}
	hooks := &kv.SyncHooks{FS: mem, Before: take(false), After: take(true)}
	db := openMemDB(t, hooks)
	l := openLedger(t, db)
	l.files.maxBytes = 1 << 20
	c := newChain(t, newTestSigner(t, "OrdererMSP"))

	const flushBlock, bigBlock = 3, 6
	var blocks []*commonpb.Block
	blocks = append(blocks, c.genesis())
	for k := 1; k <= 8; k++ {
		n, pad := 3, 0
		if k == bigBlock {
			n, pad = 800, 3000
		}
		blocks = append(blocks, c.next(c.txs(n, pad), nil))
	}
	for k, b := range blocks {
		writers := []BatchWriter{stateWriter(k)}
		if k == flushBlock {
			writers = append(writers, flushWriter{db})
		}
		current.Store(uint64(k))
		armed.Store(true)
		peerAppend(t, l, b, writers...)
		armed.Store(false)
	}
	if segs, err := l.files.list(); err != nil || !slices.Equal(segs, []uint32{0, 1, 2}) {
		t.Fatalf("segments after the appends: %v (%v), want 0, 1 and 2", segs, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	byBlock := map[uint64][]crashPoint{}
	for _, p := range points {
		byBlock[p.block] = append(byBlock[p.block], p)
	}
	var listing []string
	kinds := map[string]bool{}
	for k := range blocks {
		ps := byBlock[uint64(k)]
		if len(ps) == 0 {
			t.Fatalf("block %d: no sync point during its synced append", k)
		}
		lo, hi := uint64(k), uint64(k)+1
		heights := make([]uint64, len(ps))
		for i, p := range ps {
			heights[i] = checkCrashImage(t, p, blocks)
			listing = append(listing, fmt.Sprintf("block %d: %v → height %d", k, p, heights[i]))
			kinds[syncKind(p.sp)] = true
			if heights[i] != lo && heights[i] != hi {
				t.Errorf("block %d, %v: height %d, want %d or %d", k, p, heights[i], lo, hi)
			}
		}
		if heights[0] != lo || heights[len(ps)-1] != hi {
			t.Errorf("block %d: height %d at the first image and %d at the last, want %d and %d", k, heights[0], heights[len(ps)-1], lo, hi)
		}
		steps := 0
		for i := 1; i < len(ps); i++ {
			switch {
			case heights[i] < heights[i-1]:
				t.Errorf("block %d: height fell from %d to %d at %v", k, heights[i-1], heights[i], ps[i])
			case heights[i] > heights[i-1]:
				steps++
				// The step must be across one WAL sync: image i-1 is
				// just before it and image i just after it.
				if !ps[i].after || ps[i-1].after || ps[i].sp.Seq != ps[i-1].sp.Seq || !ps[i].isWAL {
					t.Errorf("block %d: height rose between %v and %v, not across a WAL sync", k, ps[i-1], ps[i])
				} else {
					listing[len(listing)-len(ps)+i] += "   ← block durable here"
				}
			}
		}
		if steps != 1 {
			t.Errorf("block %d: height rose %d times", k, steps)
		}
	}
	if len(byBlock[flushBlock]) < 6 {
		t.Errorf("the flush inside block %d's append passed only %d sync images", flushBlock, len(byBlock[flushBlock]))
	}
	t.Logf("%d crash images at %d sync points during %d appends:\n  %s", len(points), len(points)/2, len(blocks), strings.Join(listing, "\n  "))
	t.Logf("kinds of sync point seen: %v", kinds)
}

// syncKind names what a sync point synced: "WAL sync-data", ...
func syncKind(sp kv.SyncPoint) string {
	base := filepath.Base(sp.Path)
	kind := "directory"
	switch {
	case strings.HasSuffix(base, ".log"):
		kind = "WAL"
	case strings.HasSuffix(base, ".sst"):
		kind = "sstable"
	case strings.HasPrefix(base, "MANIFEST"):
		kind = "MANIFEST"
	case strings.HasPrefix(base, "OPTIONS"):
		kind = "OPTIONS"
	case strings.Contains(base, "."):
		kind = base
	}
	return kind + " " + sp.Op
}

// checkCrashImage reopens a crash image, verifies it, checks that the
// world-state write of each block is there exactly when the block is, and
// that the ledger continues: the next block appends. It returns the
// height found.
func checkCrashImage(t *testing.T, p crashPoint, blocks []*commonpb.Block) uint64 {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: p.fs})
	if err != nil {
		t.Fatalf("%v: reopen: %v", p, err)
	}
	defer db.Close()
	l, err := Open(db, testChannel)
	if err != nil {
		t.Fatalf("%v: open ledger: %v", p, err)
	}
	h := l.Height()
	rep, err := l.Verify(verifyAll)
	if err != nil {
		t.Fatalf("%v: ledger at height %d does not verify: %v", p, h, err)
	}
	if rep.Blocks != h {
		t.Fatalf("%v: verified %d blocks at height %d", p, rep.Blocks, h)
	}
	for k := range blocks {
		_, err := db.Get(stateKey(uint64(k)))
		if has := err == nil; has != (uint64(k) < h) {
			t.Fatalf("%v: at height %d the state write of block %d is durable: %v", p, h, k, has)
		} else if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatal(err)
		}
	}
	// Segments after the last indexed block's are gone.
	segs, err := l.files.list()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case h == 0 && len(segs) > 0:
		t.Fatalf("%v: an empty ledger kept segments %v", p, segs)
	case h > 0 && (len(segs) == 0 || segs[len(segs)-1] != storedLocator(t, db, h-1).segment):
		t.Fatalf("%v: segments %v, but the last block is in segment %d", p, segs, storedLocator(t, db, h-1).segment)
	}
	if h < uint64(len(blocks)) {
		if err := l.Append(blocks[h], AppendOptions{FillCommitHash: true, Writers: []BatchWriter{stateWriter(h)}}); err != nil {
			t.Fatalf("%v: append block %d after the crash: %v", p, h, err)
		}
	}
	return h
}

// TestCrashOrdererAppends is the orderer's path: each block is appended
// with NoSync (its batch is not synced; the block is durable in the Raft
// log) and then an unrelated synced write to the same database, as the
// next Raft save, makes the batch durable. A power cut at any sync point
// must leave a ledger that opens and verifies, whose height never falls
// from one image to the next, and which holds block k once the synced
// write after it has returned.
func TestCrashOrdererAppends(t *testing.T) {
	mem := kv.NewCrashableMemFS()
	type image struct {
		fs      *kv.MemFS
		block   int
		settled bool // taken after the synced write that follows block's append
	}
	var (
		mu      sync.Mutex
		images  []image
		current atomic.Int64
		settled atomic.Bool
	)
	take := func(kv.SyncPoint) {
		clone := kv.CrashClone(mem)
		mu.Lock()
		images = append(images, image{fs: clone, block: int(current.Load()), settled: settled.Load()})
		mu.Unlock()
	}
	hooks := &kv.SyncHooks{FS: mem, Before: take, After: take}
	db := openMemDB(t, hooks)
	l := openLedger(t, db)
	l.files.maxBytes = 64 << 10
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	blocks := []*commonpb.Block{c.genesis()}
	for k := 1; k <= 6; k++ {
		blocks = append(blocks, c.next(c.txs(40, 500), nil))
	}
	for k, b := range blocks {
		current.Store(int64(k))
		settled.Store(false)
		if err := l.Append(b, AppendOptions{NoSync: true}); err != nil {
			t.Fatal(err)
		}
		raft := db.NewBatch()
		raft.Set([]byte(fmt.Sprintf("r%s\x00h", testChannel)), []byte(fmt.Sprintf("applied %d", k)))
		if err := raft.Commit(true); err != nil {
			t.Fatal(err)
		}
		settled.Store(true)
		take(kv.SyncPoint{})
	}
	l.Close()
	db.Close()
	last := uint64(0)
	for i, im := range images {
		db, err := kv.Open("db", kv.Options{FS: im.fs})
		if err != nil {
			t.Fatalf("image %d (block %d): reopen: %v", i, im.block, err)
		}
		l, err := Open(db, testChannel)
		if err != nil {
			t.Fatalf("image %d (block %d): open: %v", i, im.block, err)
		}
		h := l.Height()
		if _, err := l.Verify(verifyAll); err != nil {
			t.Fatalf("image %d (block %d): height %d does not verify: %v", i, im.block, h, err)
		}
		switch {
		case h < last:
			t.Fatalf("image %d (block %d): height fell from %d to %d", i, im.block, last, h)
		case im.settled && h < uint64(im.block)+1:
			t.Fatalf("image %d: block %d's batch was made durable, yet the height is %d", i, im.block, h)
		case h > uint64(im.block)+1:
			t.Fatalf("image %d: height %d while appending block %d", i, h, im.block)
		}
		if h < uint64(len(blocks)) {
			if err := l.Append(blocks[h], AppendOptions{NoSync: true}); err != nil {
				t.Fatalf("image %d: append block %d after the crash: %v", i, h, err)
			}
		}
		last = h
		l.Close()
		db.Close()
	}
	t.Logf("%d images over %d NoSync appends", len(images), len(blocks))
}
