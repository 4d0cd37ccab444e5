package peer

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/kv"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// blockWritesFail returns the disk under a peer's database whose writes
// to the ledger's block segment files fail with ENOSPC once armed, as a
// full disk's did when tried by hand on a small tmpfs.
func blockWritesFail(armed *atomic.Bool) kv.FS {
	return &blockFileDisk{FS: kv.DiskFS(), wrap: func(f kv.File) kv.File { return &failingFile{File: f, armed: armed} }}
}

type failingFile struct {
	kv.File
	armed *atomic.Bool
}

// Write and WriteAt, once armed, write the first half of what they are
// given and fail: a torn write, as a disk that fills up mid-write leaves.
func (f *failingFile) Write(p []byte) (int, error) {
	if f.armed.Load() {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f *failingFile) WriteAt(p []byte, off int64) (int, error) {
	if f.armed.Load() {
		n, _ := f.File.WriteAt(p[:len(p)/2], off)
		return n, syscall.ENOSPC
	}
	return f.File.WriteAt(p, off)
}

// deliver hands the channel's committer its next block, empty and signed
// by the orderer, as the puller would after checking it.
func (f *channelFixture) deliver(t *testing.T, c *channel) *commonpb.Block {
	t.Helper()
	tip, err := c.ledger.Block(c.ledger.Height() - 1)
	if err != nil {
		t.Fatal(err)
	}
	b := f.nextBlock(t, tip)
	checked, err := c.checkBlock(b, b.Header.Number, b.Header.PreviousHash)
	if err != nil {
		t.Fatal(err)
	}
	c.blocks <- checked
	return b
}

// A block whose append fails (the disk full) stops the channel through its
// real commit path, with the file and the cause in the reason, and loses
// nothing: restarted on a disk with room, the peer has its ledger intact,
// verifies it, and commits the block it could not write.
func TestFailedBlockWriteStopsTheChannelAndLosesNothing(t *testing.T) {
	f := newChannelFixture(t) // its orderer is never reachable: the test hands blocks to the committer itself
	dir := t.TempDir()
	var armed atomic.Bool
	disk := blockWritesFail(&armed)
	p, c, stop := f.start(t, dir, disk)
	f.deliver(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.waitForHeight(ctx, 2); err != nil {
		t.Fatal(err)
	}

	armed.Store(true)
	f.deliver(t, c)
	err := p.WaitForHeight(ctx, "mychannel", 3)
	if !errors.Is(err, ErrChannelStopped) {
		t.Fatalf("wait for block 2: %v, want the channel stopped", err)
	}
	for _, want := range []string{"block 2", ".blk", "no space left on device", "restart the peer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the stop %q does not say %q", err, want)
		}
	}
	if h := c.ledger.Height(); h != 2 {
		t.Errorf("height %d after the failed append, want 2", h)
	}
	if got := c.info().Status; got != "stopped" {
		t.Errorf("status %q, want stopped", got)
	}
	stop()

	armed.Store(false)
	p, c, _ = f.start(t, dir, disk)
	if err := c.stopped(); err != nil {
		t.Fatalf("restarted: %v", err)
	}
	if h := c.ledger.Height(); h != 2 {
		t.Fatalf("restarted at height %d, want 2", h)
	}
	if report, err := p.Verify("mychannel"); err != nil || report.Blocks != 2 {
		t.Fatalf("ledger after the restart: %v %+v", err, report)
	}
	f.deliver(t, c)
	if err := p.WaitForHeight(ctx, "mychannel", 3); err != nil {
		t.Fatalf("block 2 after the restart: %v", err)
	}
	if report, err := p.Verify("mychannel"); err != nil || report.Blocks != 3 {
		t.Fatalf("ledger with block 2: %v %+v", err, report)
	}
}
