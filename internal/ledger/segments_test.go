package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
)

// TestSegmentsRollAndReopen appends across several segments, reopens, and
// reads every block back: by number, by iteration, and through Verify.
func TestSegmentsRollAndReopen(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMemDB(t, fs)
	l := openLedger(t, db)
	l.files.maxBytes = 8 << 10 // a few blocks each
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	buildLedger(t, l, c, 12, 3)
	segs, err := l.files.list()
	if err != nil || len(segs) < 3 {
		t.Fatalf("segments %v (%v): want the blocks spread over at least 3", segs, err)
	}
	want := make([][]byte, l.Height())
	for i := range want {
		if want[i], err = l.BlockBytes(uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	db, l = reopen(t, fs, db, l)
	if l.Height() != uint64(len(want)) {
		t.Fatalf("height %d after reopening, want %d", l.Height(), len(want))
	}
	n := 0
	for b, err := range l.Blocks(0) {
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := l.BlockBytes(b.Header.Number)
		if !slices.Equal(raw, want[n]) {
			t.Fatalf("block %d reads back different bytes", n)
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("iterated %d blocks, want %d", n, len(want))
	}
	// The appender continues in the last segment.
	peerAppend(t, l, c.next(c.txs(3, 0), nil))
	if rep, err := l.Verify(verifyAll); err != nil || rep.Blocks != uint64(len(want))+1 {
		t.Fatalf("after reopening and appending: %v (%+v)", err, rep)
	}
	after, _ := l.files.list()
	if len(after) > len(segs)+1 {
		t.Fatalf("segments %v after one more block, before %v", after, segs)
	}
}

// reopen closes l and db and opens them again on fs, to be closed when
// the test ends.
func reopen(t *testing.T, fs kv.FS, db *kv.DB, l *Ledger) (*kv.DB, *Ledger) {
	t.Helper()
	l.Close()
	db.Close()
	db = openMemDB(t, fs)
	t.Cleanup(func() { db.Close() })
	l = openLedger(t, db)
	t.Cleanup(func() { l.Close() })
	return db, l
}

// TestSegmentDamage damages segment files the way a disk or a careless
// hand does and checks that reads and Verify name the segment and the
// fault, and that a ledger whose last block is damaged refuses to open.
func TestSegmentDamage(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMemDB(t, fs)
	l := openLedger(t, db)
	l.files.maxBytes = 8 << 10
	buildLedger(t, l, newChain(t, newTestSigner(t, "OrdererMSP")), 12, 3)
	const k = 5
	last := l.Height() - 1
	l.Close()
	db.Close()

	cases := []struct {
		name   string
		damage func(t *testing.T, db *kv.DB)
		substr string
	}{
		{"a flipped byte", func(t *testing.T, db *kv.DB) {
			loc := storedLocator(t, db, k)
			raw := storedBlock(t, db, k)
			writeSegment(t, db, loc.segment, int64(loc.offset)+recordHeaderSize+int64(len(raw)/2), []byte{raw[len(raw)/2] ^ 0x10})
		}, "fails its checksum"},
		{"a wrong length", func(t *testing.T, db *kv.DB) {
			loc := storedLocator(t, db, k)
			writeSegment(t, db, loc.segment, int64(loc.offset), []byte{0, 0, 0, 1})
		}, "holds 1 bytes, the index says"},
		{"a missing segment", func(t *testing.T, db *kv.DB) {
			loc := storedLocator(t, db, k)
			s := newSegments(db, testChannel)
			if err := db.FS().Remove(db.FS().PathJoin(s.dir, segmentName(loc.segment))); err != nil {
				t.Fatal(err)
			}
		}, "is missing"},
		{"a truncated segment", func(t *testing.T, db *kv.DB) {
			// Cut the segment ten bytes into block k's record.
			loc := storedLocator(t, db, k)
			s := newSegments(db, testChannel)
			path := db.FS().PathJoin(s.dir, segmentName(loc.segment))
			keep := make([]byte, loc.offset+10)
			f, err := db.FS().Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.ReadAt(keep, 0)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if f, err = db.FS().Create(path, kv.WriteCategory); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(keep); err != nil {
				t.Fatal(err)
			}
		}, "ends within the record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openMemDB(t, kv.CrashClone(fs))
			defer db.Close()
			tc.damage(t, db)
			l := openLedger(t, db) // the last block is intact
			defer l.Close()
			_, err := l.BlockBytes(k)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("reading block %d: %v, want ErrCorrupt saying %q", k, err, tc.substr)
			}
			_, err = Verify(db, testChannel, verifyAll)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Block != k || ve.Check != CheckDecode || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("Verify: %v, want block %d failing %s with %q", err, k, CheckDecode, tc.substr)
			}
			t.Logf("%v", err)
		})
	}

	t.Run("the last block", func(t *testing.T) {
		db := openMemDB(t, kv.CrashClone(fs))
		defer db.Close()
		loc := storedLocator(t, db, last)
		writeSegment(t, db, loc.segment, int64(loc.offset)+recordHeaderSize, []byte{0xee})
		_, err := Open(db, testChannel)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "fails its checksum") {
			t.Fatalf("opening with the last block damaged: %v, want ErrCorrupt", err)
		}
		t.Logf("%v", err)
	})
}

// TestInlineBlocksStillRead stores every block inline under its key, as
// builds before segment files did, and checks that the ledger opens,
// verifies, reads them, and appends the next block into a segment,
// ignoring (and removing) segment files nothing points at.
func TestInlineBlocksStillRead(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMemDB(t, fs)
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	buildLedger(t, l, c, 4, 3)
	h := l.Height()
	b := db.NewBatch()
	for i := range h {
		b.Set(l.keys.block(i), storedBlock(t, db, i))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	// What the old build left: no segment is referenced any more.
	db, l = reopen(t, fs, db, l)
	if segs, _ := l.files.list(); len(segs) != 0 {
		t.Fatalf("segments %v kept although no block is in one", segs)
	}
	if rep, err := l.Verify(verifyAll); err != nil || rep.Blocks != h {
		t.Fatalf("inline blocks: %v (%+v)", err, rep)
	}
	peerAppend(t, l, c.next(c.txs(3, 0), nil))
	if v, _ := db.Get(l.keys.block(h)); !isLocator(v) {
		t.Fatalf("the block appended after inline ones is stored inline")
	}
	if rep, err := l.Verify(verifyAll); err != nil || rep.Blocks != h+1 {
		t.Fatalf("inline blocks and a segment: %v (%+v)", err, rep)
	}
}

// dbWithGenesis returns a database in memory holding a genesis block in
// each of the channels.
func dbWithGenesis(t *testing.T, channels ...string) *kv.DB {
	t.Helper()
	db := openMemDB(t, kv.NewCrashableMemFS())
	for _, ch := range channels {
		l, err := Open(db, ch)
		if err != nil {
			t.Fatal(err)
		}
		peerAppend(t, l, newChain(t, newTestSigner(t, "OrdererMSP")).genesis())
		l.Close()
	}
	return db
}

// TestRemoveBlockFiles removes a channel's segments and only its own.
func TestRemoveBlockFiles(t *testing.T) {
	db := dbWithGenesis(t, testChannel, "other")
	defer db.Close()
	if err := RemoveBlockFiles(db, testChannel); err != nil {
		t.Fatal(err)
	}
	mine, _ := newSegments(db, testChannel).list()
	other, _ := newSegments(db, "other").list()
	if len(mine) != 0 || len(other) != 1 {
		t.Fatalf("after removing %s's files: its segments %v, other's %v", testChannel, mine, other)
	}
}

func TestChannelDirName(t *testing.T) {
	for in, want := range map[string]string{
		"mychannel":   "mychannel",
		"a.b-c_D9":    "a.b-c_D9",
		"..":          "%2e2e",
		"a/b":         "%612f62",
		"%6d":         "%253664",
		"écho":        "%c3a963686f",
		"with space":  "%77697468207370616365",
		"sys-channel": "sys-channel",
	} {
		if got := channelDirName(in); got != want {
			t.Errorf("channelDirName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSegmentReadersBounded reads the blocks of many segments from
// several goroutines at once: every read returns the stored bytes, and no
// more than maxOpenSegments segments stay open.
func TestSegmentReadersBounded(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	l.files.maxBytes = 4 << 10 // about one block per segment
	buildLedger(t, l, newChain(t, newTestSigner(t, "OrdererMSP")), 40, 3)
	segs, _ := l.files.list()
	if len(segs) < 4*maxOpenSegments {
		t.Fatalf("%d segments; the test needs many more than %d", len(segs), maxOpenSegments)
	}
	want := make([][]byte, l.Height())
	for i := range want {
		want[i] = storedBlock(t, db, uint64(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 3 * len(want) {
				num := uint64((k*7 + g*13) % len(want))
				raw, err := l.BlockBytes(num)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(raw, want[num]) {
					errs <- fmt.Errorf("block %d reads back different bytes", num)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	openReaders := func() int {
		l.files.mu.Lock()
		defer l.files.mu.Unlock()
		return len(l.files.readers)
	}
	if open := openReaders(); open > maxOpenSegments {
		t.Fatalf("%d segments open, at most %d wanted", open, maxOpenSegments)
	}
	// After Close reads still work, and keep nothing open.
	l.Close()
	for i := range want {
		if raw, err := l.BlockBytes(uint64(i)); err != nil || !bytes.Equal(raw, want[i]) {
			t.Fatalf("block %d after Close: %v", i, err)
		}
	}
	if open := openReaders(); open != 0 {
		t.Fatalf("%d segments kept open after Close", open)
	}
}

// TestRemoveOrphanBlockFiles leaves a channel's segments without its keys,
// as a node stopped in the middle of removing the channel would, and
// checks that only those are swept.
func TestRemoveOrphanBlockFiles(t *testing.T) {
	db := dbWithGenesis(t, testChannel, "gone")
	defer db.Close()
	b := db.NewBatch()
	b.DeleteRange(KeyPrefix("gone"), kv.PrefixEnd(KeyPrefix("gone")))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveOrphanBlockFiles(db)
	if err != nil || !slices.Equal(removed, []string{"gone"}) {
		t.Fatalf("removed %v (%v), want [gone]", removed, err)
	}
	if segs, _ := newSegments(db, testChannel).list(); len(segs) != 1 {
		t.Fatalf("the live channel's segments: %v", segs)
	}
	if rep, err := openLedger(t, db).Verify(verifyAll); err != nil || rep.Blocks != 1 {
		t.Fatalf("the live channel after the sweep: %v", err)
	}
}

// TestBlockBytesWithHeadroom checks that the block follows BlockHeadroom
// free bytes, for a block in a segment and for one stored inline.
func TestBlockBytesWithHeadroom(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	defer l.Close()
	buildLedger(t, l, newChain(t, newTestSigner(t, "OrdererMSP")), 2, 3)
	b := db.NewBatch()
	b.Set(l.keys.block(1), storedBlock(t, db, 1)) // block 1 inline
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	for num := range l.Height() {
		buf, err := l.BlockBytesWithHeadroom(num)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[BlockHeadroom:], storedBlock(t, db, num)) {
			t.Fatalf("block %d does not follow the headroom", num)
		}
		for i := range BlockHeadroom {
			buf[i] = 0xee // the caller may overwrite it
		}
		if raw, _ := l.BlockBytes(num); !bytes.Equal(raw, storedBlock(t, db, num)) {
			t.Fatalf("block %d changed after its headroom was written", num)
		}
	}
}
