package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	ledgerpb "github.com/chorusledger/chorus/proto/chorus/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
)

func TestAppendAndRead(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMemDB(t, fs)
	l := openLedger(t, db)
	if l.Height() != 0 || l.Info().CurrentBlockHash != nil {
		t.Fatalf("new ledger: %+v", l.Info())
	}
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	var blocks []*commonpb.Block
	g := c.genesis()
	peerAppend(t, l, g)
	blocks = append(blocks, g)
	for i := 0; i < 4; i++ {
		b := c.next(c.txs(3, 0), []peerpb.TxValidationCode{0, peerpb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, 0})
		if err := l.Append(b, AppendOptions{FillCommitHash: true, Reasons: []string{"", "missing Org2MSP.peer", ""}}); err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	info := l.Info()
	if info.Height != 5 || !bytes.Equal(info.CurrentBlockHash, HeaderHash(blocks[4].Header)) || !bytes.Equal(info.PreviousBlockHash, HeaderHash(blocks[3].Header)) {
		t.Fatalf("info %+v", info)
	}
	// The commit hash was filled into the caller's blocks and chains.
	var prev []byte
	for i, b := range blocks {
		ch, err := BlockCommitHash(b)
		if err != nil || ch == nil {
			t.Fatalf("block %d: commit hash %x %v", i, ch, err)
		}
		want, _ := CommitHash(prev, b)
		if !bytes.Equal(ch, want) {
			t.Fatalf("block %d: commit hash does not chain", i)
		}
		prev = ch
	}
	if !bytes.Equal(info.CommitHash, prev) {
		t.Fatal("info commit hash is not the last block's")
	}
	for i, b := range blocks {
		raw, err := l.BlockBytes(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := envelope.Marshal(b); !bytes.Equal(raw, want) {
			t.Fatalf("block %d stored bytes differ from the block given", i)
		}
		byHash, err := l.BlockByHash(HeaderHash(b.Header))
		if err != nil || !proto.Equal(byHash, b) {
			t.Fatalf("BlockByHash %d: %v", i, err)
		}
	}
	if _, err := l.Block(5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("block 5: %v", err)
	}
	if _, err := l.BlockByHash(make([]byte, 32)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	rec, err := l.TxByID(txIDOfSeed(5)) // second transaction of block 2
	if err != nil {
		t.Fatal(err)
	}
	want := &ledgerpb.TxRecord{BlockNumber: 2, TxNumber: 1, ValidationCode: int32(peerpb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE), Reason: "missing Org2MSP.peer"}
	if !proto.Equal(rec, want) {
		t.Fatalf("TxByID = %v, want %v", rec, want)
	}
	if _, err := l.TxByID("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tx: %v", err)
	}
	// Iterate from the middle, and stop early.
	var nums []uint64
	for b, err := range l.Blocks(2) {
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, b.Header.Number)
	}
	if fmt.Sprint(nums) != "[2 3 4]" {
		t.Fatalf("Blocks(2) gave %v", nums)
	}
	for b := range l.Blocks(0) {
		if b.Header.Number == 1 {
			break
		}
	}
	for range l.Blocks(5) {
		t.Fatal("Blocks past the tip yielded")
	}
	rep, err := l.Verify(verifyAll)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blocks != 5 || rep.Transactions != 13 || rep.Valid != 9 || rep.Invalid != 4 || rep.SignaturesChecked != 4 || rep.MerkleRootsChecked != 4 || rep.CommitHashesChecked != 5 || !rep.IndexesChecked {
		t.Fatalf("report %+v", rep)
	}
	// Reopen: the same chain.
	db.Close()
	db = openMemDB(t, fs)
	defer db.Close()
	l2 := openLedger(t, db)
	if got := l2.Info(); got.Height != info.Height || !bytes.Equal(got.CurrentBlockHash, info.CurrentBlockHash) || !bytes.Equal(got.CommitHash, info.CommitHash) {
		t.Fatalf("reopened info %+v, want %+v", got, info)
	}
	peerAppend(t, l2, c.next(c.txs(1, 0), nil))
}

func TestAppendRejects(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))

	withPrev := NewBlock(0, []byte("not empty"), nil)
	if err := l.Append(withPrev, AppendOptions{}); !errors.Is(err, ErrPreviousHash) {
		t.Fatalf("genesis with a previous hash: %v", err)
	}
	buildLedger(t, l, c, 2, 2)
	info := l.Info()

	good := c.next(c.txs(2, 0), nil)
	cases := []struct {
		name   string
		block  func() *commonpb.Block
		opts   AppendOptions
		is     error
		substr string
	}{
		{"wrong number", func() *commonpb.Block {
			b := proto.Clone(good).(*commonpb.Block)
			b.Header.Number = 7
			return b
		}, AppendOptions{}, ErrBlockNumber, "append block 7 to channel mychannel: wrong block number: the ledger's height is 3"},
		{"replayed block", func() *commonpb.Block { b, _ := l.Block(2); return b }, AppendOptions{}, ErrBlockNumber, "height is 3"},
		{"wrong previous hash", func() *commonpb.Block {
			b := proto.Clone(good).(*commonpb.Block)
			b.Header.PreviousHash[0] ^= 1
			return b
		}, AppendOptions{}, ErrPreviousHash, "block 2 hashes to"},
		{"wrong data hash", func() *commonpb.Block {
			b := proto.Clone(good).(*commonpb.Block)
			b.Data.Data = b.Data.Data[:1]
			return b
		}, AppendOptions{}, ErrDataHash, "the 1 transactions hash to"},
		{"no header", func() *commonpb.Block { return &commonpb.Block{} }, AppendOptions{}, ErrInvalidBlock, "no header"},
		{"short filter", func() *commonpb.Block {
			b := proto.Clone(good).(*commonpb.Block)
			b.Metadata.Metadata[2] = []byte{0}
			return b
		}, AppendOptions{}, ErrInvalidBlock, "transaction filter has 1 entries for 2 transactions"},
		{"reason for a valid tx", func() *commonpb.Block { return proto.Clone(good).(*commonpb.Block) },
			AppendOptions{Reasons: []string{"", "why"}}, ErrInvalidBlock, "transaction 1, which is not marked invalid"},
		{"reasons miscounted", func() *commonpb.Block { return proto.Clone(good).(*commonpb.Block) },
			AppendOptions{Reasons: []string{""}}, ErrInvalidBlock, "1 reasons for 2 transactions"},
		{"commit hash without filter", func() *commonpb.Block {
			b := proto.Clone(good).(*commonpb.Block)
			b.Metadata.Metadata[2] = nil
			return b
		}, AppendOptions{FillCommitHash: true}, ErrInvalidBlock, "needs the transaction filter"},
		{"failing writer", func() *commonpb.Block { return proto.Clone(good).(*commonpb.Block) },
			AppendOptions{Writers: []BatchWriter{writerFunc(func(b *kv.Batch) error {
				b.Set([]byte("cmychannel\x00k"), []byte("v"))
				return errors.New("state update refused")
			})}}, nil, "writer 0: state update refused"},
	}
	for _, tc := range cases {
		err := l.Append(tc.block(), tc.opts)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.substr) || !strings.HasPrefix(err.Error(), "ledger: ") {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
	}
	if got := l.Info(); got.Height != info.Height || !bytes.Equal(got.CurrentBlockHash, info.CurrentBlockHash) {
		t.Fatalf("a refused append changed the ledger: %+v", got)
	}
	if _, err := db.Get(l.keys.block(3)); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("a refused block was stored: %v", err)
	}
	if _, err := db.Get([]byte("cmychannel\x00k")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatal("a failed writer's write was committed")
	}
	peerAppend(t, l, good)
	if _, err := l.Verify(verifyAll); err != nil {
		t.Fatal(err)
	}
}

type writerFunc func(*kv.Batch) error

func (f writerFunc) WriteTo(b *kv.Batch) error { return f(b) }

// TestWritersCommitWithTheBlock: the world state's writes land in the same
// batch as the block.
func TestWritersCommitWithTheBlock(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	peerAppend(t, l, c.genesis(), writerFunc(func(b *kv.Batch) error {
		b.Set([]byte("cmychannel\x00state"), []byte("genesis"))
		return nil
	}))
	if v, err := db.Get([]byte("cmychannel\x00state")); err != nil || string(v) != "genesis" {
		t.Fatalf("state write: %q %v", v, err)
	}
}

// doneWriter is a BatchDoneWriter that records, at BatchDone, whether its
// write had committed.
type doneWriter struct {
	db        *kv.DB
	key       string
	fail      bool
	wrote     int
	done      int
	committed bool
}

func (w *doneWriter) WriteTo(b *kv.Batch) error {
	w.wrote++
	b.Set([]byte(w.key), []byte("v"))
	if w.fail {
		return errors.New("refused")
	}
	return nil
}

func (w *doneWriter) BatchDone() {
	w.done++
	_, err := w.db.Get([]byte(w.key))
	w.committed = err == nil
}

// TestAppendTellsWritersTheBatchIsDone: Append calls BatchDone once on
// each writer whose WriteTo it called, after the batch committed, or after
// a writer failed and nothing committed; never on a writer it did not ask
// to write.
func TestAppendTellsWritersTheBatchIsDone(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	ok1 := &doneWriter{db: db, key: "cmychannel\x00a"}
	ok2 := &doneWriter{db: db, key: "cmychannel\x00b"}
	peerAppend(t, l, c.genesis(), ok1, writerFunc(func(*kv.Batch) error { return nil }), ok2)
	for _, w := range []*doneWriter{ok1, ok2} {
		if w.wrote != 1 || w.done != 1 || !w.committed {
			t.Errorf("writer of %q: wrote %d, done %d, committed at BatchDone %v", w.key, w.wrote, w.done, w.committed)
		}
	}

	before := &doneWriter{db: db, key: "cmychannel\x00c"}
	failing := &doneWriter{db: db, key: "cmychannel\x00d", fail: true}
	after := &doneWriter{db: db, key: "cmychannel\x00e"}
	b := c.next([][]byte{endorserTx(t, 1, nil, 0)}, []peerpb.TxValidationCode{0})
	if err := l.Append(b, AppendOptions{FillCommitHash: true, Writers: []BatchWriter{before, failing, after}}); err == nil {
		t.Fatal("a failing writer's append succeeded")
	}
	for _, w := range []*doneWriter{before, failing} {
		if w.wrote != 1 || w.done != 1 || w.committed {
			t.Errorf("writer of %q: wrote %d, done %d, committed at BatchDone %v", w.key, w.wrote, w.done, w.committed)
		}
	}
	if after.wrote != 0 || after.done != 0 {
		t.Errorf("the writer after the failing one: wrote %d, done %d", after.wrote, after.done)
	}
}

func TestTxIndexFirstOccurrence(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	peerAppend(t, l, c.genesis())
	dup := endorserTx(t, 77, []write{{"assets", "k", []byte("first"), false}}, 0)
	dupLater := endorserTx(t, 77, []write{{"assets", "k", []byte("second"), false}}, 0) // same id, other bytes
	other := endorserTx(t, 78, nil, 0)
	// Block 1: the id twice (the second is DUPLICATE_TXID), block 2: again.
	b1 := c.next([][]byte{other, dup, dup}, []peerpb.TxValidationCode{0, 0, peerpb.TxValidationCode_DUPLICATE_TXID})
	if err := l.Append(b1, AppendOptions{FillCommitHash: true, Reasons: []string{"", "", "duplicate of block 1 transaction 1"}}); err != nil {
		t.Fatal(err)
	}
	b2 := c.next([][]byte{dupLater}, []peerpb.TxValidationCode{peerpb.TxValidationCode_DUPLICATE_TXID})
	if err := l.Append(b2, AppendOptions{FillCommitHash: true, Reasons: []string{"duplicate"}}); err != nil {
		t.Fatal(err)
	}
	rec, err := l.TxByID(txIDOfSeed(77))
	if err != nil {
		t.Fatal(err)
	}
	if rec.BlockNumber != 1 || rec.TxNumber != 1 || rec.ValidationCode != 0 || rec.Reason != "" {
		t.Fatalf("record %v: not the first occurrence", rec)
	}
	if _, err := l.Verify(verifyAll); err != nil {
		t.Fatal(err)
	}
	// An orderer validates nothing: its records say NOT_VALIDATED.
	db2 := openMemDB(t, kv.NewCrashableMemFS())
	defer db2.Close()
	o := openLedger(t, db2)
	oc := newChain(t, newTestSigner(t, "OrdererMSP"))
	g := oc.genesis()
	g.Metadata.Metadata[2] = nil
	if err := o.Append(g, AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	ob := oc.next([][]byte{other}, nil)
	ob.Metadata.Metadata[2] = nil
	if err := o.Append(ob, AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	rec, err = o.TxByID(txIDOfSeed(78))
	if err != nil || rec.ValidationCode != int32(peerpb.TxValidationCode_NOT_VALIDATED) {
		t.Fatalf("orderer record %v %v", rec, err)
	}
	rep, err := o.Verify(verifyAll)
	if err != nil || rep.NotValidated != 2 || rep.CommitHashesChecked != 0 {
		t.Fatalf("orderer ledger: %+v %v", rep, err)
	}
}

func TestWaitForHeight(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	peerAppend(t, l, c.genesis())

	if err := l.WaitForHeight(context.Background(), 1); err != nil {
		t.Fatalf("height already reached: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- l.WaitForHeight(context.Background(), 3) }()
	peerAppend(t, l, c.next(c.txs(1, 0), nil))
	select {
	case err := <-done:
		t.Fatalf("woke at height 2 waiting for 3: %v", err)
	default:
	}
	peerAppend(t, l, c.next(c.txs(1, 0), nil))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not woken by the append")
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- l.WaitForHeight(ctx, 10) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := l.WaitForHeight(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}

	// A cursor streams from any height and waits at the tip.
	cur := l.Cursor(1)
	for want := uint64(1); want < 3; want++ {
		b, err := cur.Next(context.Background())
		if err != nil || b.Header.Number != want {
			t.Fatalf("cursor: %v %v", b.GetHeader(), err)
		}
	}
	got := make(chan *commonpb.Block, 1)
	go func() {
		b, err := cur.Next(context.Background())
		if err != nil {
			done <- err
			return
		}
		got <- b
	}()
	peerAppend(t, l, c.next(c.txs(1, 0), nil))
	select {
	case b := <-got:
		if b.Header.Number != 3 {
			t.Fatalf("cursor gave block %d", b.Header.Number)
		}
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("cursor not woken")
	}

	// Close wakes waiters and stops appends.
	go func() { done <- l.WaitForHeight(context.Background(), 100) }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("wait across Close: %v", err)
	}
	if err := l.Append(c.next(nil, nil), AppendOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v", err)
	}
	if _, err := l.Block(3); err != nil {
		t.Fatalf("read after Close: %v", err)
	}
}

// TestConcurrentReadersDuringAppends runs readers against one appender;
// under -race it also checks the synchronisation. Every reader must see a
// consistent chain: the info's current hash is the hash of block
// Height-1, whose transactions TxByID finds (through the id filter), and
// nothing above the height is visible.
func TestConcurrentReadersDuringAppends(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	peerAppend(t, l, c.genesis())
	if err := l.FilterTxIDs(); err != nil {
		t.Fatal(err)
	}
	const blocks = 40
	blockList := make([]*commonpb.Block, blocks)
	for i := range blockList {
		blockList[i] = c.next(c.txs(2, 0), nil)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				info := l.Info()
				b, err := l.Block(info.Height - 1)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(HeaderHash(b.Header), info.CurrentBlockHash) {
					errs <- fmt.Errorf("info at height %d names a hash that block %d does not have", info.Height, info.Height-1)
					return
				}
				if _, err := l.Block(info.Height); err == nil && l.Height() == info.Height {
					errs <- fmt.Errorf("block %d readable at height %d", info.Height, info.Height)
					return
				}
				if _, err := l.BlockByHash(info.CurrentBlockHash); err != nil {
					errs <- err
					return
				}
				if info.Height > 1 {
					if rec, err := l.TxByID(txIDOfSeed(uint64(2*(info.Height-1) - 1))); err != nil || rec.BlockNumber != info.Height-1 {
						errs <- fmt.Errorf("tx of block %d: %v %v", info.Height-1, rec, err)
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // verification from a snapshot while blocks arrive
		defer wg.Done()
		for i := 0; i < 3 && ctx.Err() == nil; i++ {
			rep, err := l.Verify(VerifyOptions{})
			if err != nil {
				errs <- err
				return
			}
			if rep.Blocks != rep.Height {
				errs <- fmt.Errorf("verified %d blocks of a chain of %d", rep.Blocks, rep.Height)
				return
			}
		}
	}()
	wg.Add(1)
	go func() { // a Deliver-like follower
		defer wg.Done()
		cur := l.Cursor(0)
		for want := uint64(0); want <= blocks; want++ {
			b, err := cur.Next(ctx)
			if err != nil {
				errs <- err
				return
			}
			if b.Header.Number != want {
				errs <- fmt.Errorf("cursor gave block %d, want %d", b.Header.Number, want)
				return
			}
		}
	}()
	for _, b := range blockList {
		peerAppend(t, l, b)
	}
	if err := l.WaitForHeight(ctx, blocks+1); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}
}

func TestOpenDetectsDamage(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMemDB(t, fs)
	l := openLedger(t, db)
	buildLedger(t, l, newChain(t, newTestSigner(t, "OrdererMSP")), 3, 1)
	db.Close()

	damage := func(name string, f func(b *kv.Batch, k keys), want error) {
		t.Helper()
		db := openMemDB(t, kv.CrashClone(fs))
		defer db.Close()
		b := db.NewBatch()
		f(b, newKeys(testChannel))
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		_, err := Open(db, testChannel)
		if !errors.Is(err, want) {
			t.Fatalf("%s: Open gave %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	damage("last block deleted", func(b *kv.Batch, k keys) { b.Delete(k.block(3)) }, ErrCorrupt)
	damage("block beyond height", func(b *kv.Batch, k keys) { b.Set(k.block(4), []byte{}) }, ErrCorrupt)
	damage("chain info garbage", func(b *kv.Batch, k keys) { b.Set(k.info(), []byte{0xff}) }, ErrCorrupt)
	damage("newer format", func(b *kv.Batch, k keys) {
		v, _ := proto.Marshal(&ledgerpb.ChainInfo{FormatVersion: ChainInfoVersion + 1, Height: 4})
		b.Set(k.info(), v)
	}, ErrNewerFormat)
	damage("chain info lost", func(b *kv.Batch, k keys) { b.Delete(k.info()) }, ErrCorrupt)

	for _, bad := range []string{"", "a\x00b", strings.Repeat("x", 250), "\xff"} {
		if _, err := Open(nil, bad); err == nil {
			t.Errorf("channel name %q accepted", bad)
		}
	}
}

func TestChannelsAndVerifyPath(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer := newTestSigner(t, "OrdererMSP")
	names := []string{"ch.b", "cha", "ch", "ch-a"} // prefixes of one another
	for _, name := range names {
		l, err := Open(db, name)
		if err != nil {
			t.Fatal(err)
		}
		buildLedger(t, l, newChain(t, signer), 2, 2)
	}
	// Other packages' keys around ours are not channels.
	b := db.NewBatch()
	b.Set([]byte("cmychannel\x00state"), []byte("x"))
	b.Set([]byte("rch\x00h"), []byte("x"))
	b.Set([]byte("a"), []byte("x"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	got, err := Channels(db)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[ch ch-a ch.b cha]" {
		t.Fatalf("channels %v", got)
	}
	// Damage one channel's last block.
	bb := db.NewBatch()
	bb.Set(newKeys("cha").block(2), []byte("garbage"))
	if err := bb.Commit(true); err != nil {
		t.Fatal(err)
	}
	db.Close()

	reports, err := VerifyPath(dir, "", verifyAll)
	if len(reports) != 4 {
		t.Fatalf("%d reports", len(reports))
	}
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Channel != "cha" || ve.Block != 2 || ve.Check != CheckDecode {
		t.Fatalf("VerifyPath: %v", err)
	}
	t.Logf("VerifyPath: %v", err)
	for _, r := range reports {
		if r.Channel != "cha" && r.Blocks != 3 {
			t.Errorf("report %+v", r)
		}
	}
	reports, err = VerifyPath(dir, "ch-a", verifyAll)
	if err != nil || len(reports) != 1 || reports[0].Channel != "ch-a" {
		t.Fatalf("one channel: %v %v", reports, err)
	}
	if _, err := VerifyPath(dir, "absent", verifyAll); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent channel: %v", err)
	}
	if _, err := VerifyPath(t.TempDir(), "", verifyAll); err == nil {
		t.Fatal("verified an empty directory")
	}
}

// DataHashChecked is the caller's word that it checked the block's data
// hash: Append then does not hash the data again. A caller that gave it
// wrongly stores a block that Verify reports.
func TestAppendDataHashChecked(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	buildLedger(t, l, c, 1, 2)
	if err := l.Append(c.next(c.txs(2, 0), nil), AppendOptions{FillCommitHash: true, DataHashChecked: true}); err != nil {
		t.Fatalf("a good block with its data hash checked by the caller: %v", err)
	}
	if _, err := Verify(db, testChannel, verifyAll); err != nil {
		t.Fatalf("verify: %v", err)
	}

	bad := c.next(c.txs(2, 0), nil)
	bad.Data.Data[0], bad.Data.Data[1] = bad.Data.Data[1], bad.Data.Data[0] // the same transactions, hashed in another order
	if err := l.Append(proto.Clone(bad).(*commonpb.Block), AppendOptions{FillCommitHash: true}); !errors.Is(err, ErrDataHash) {
		t.Fatalf("without DataHashChecked: %v, want ErrDataHash", err)
	}
	if err := l.Append(bad, AppendOptions{FillCommitHash: true, DataHashChecked: true}); err != nil {
		t.Fatalf("with DataHashChecked the data is not hashed again, so the append goes through: %v", err)
	}
	if _, err := Verify(db, testChannel, verifyAll); err == nil || !strings.Contains(err.Error(), "data hash") {
		t.Fatalf("verify of a ledger holding a block whose data hash is wrong: %v, want a data hash error", err)
	}
}
