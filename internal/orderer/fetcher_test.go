package orderer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/nettest"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// blockSource is another orderer's Deliver service reduced to what a
// catch-up uses: it streams its chain from the requested block to the
// requested stop.
type blockSource struct {
	ordererpb.UnimplementedAtomicBroadcastServer
	blocks []*commonpb.Block
	stall  bool // answer nothing, as an orderer itself behind would
}

func (s *blockSource) Deliver(stream ordererpb.AtomicBroadcast_DeliverServer) error {
	env, err := stream.Recv()
	if err != nil {
		return err
	}
	if s.stall {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	payload := &commonpb.Payload{}
	seek := &ordererpb.SeekInfo{}
	if err := proto.Unmarshal(env.Payload, payload); err != nil {
		return err
	}
	if err := proto.Unmarshal(payload.Data, seek); err != nil {
		return err
	}
	start, stop := seek.Start.GetSpecified().GetNumber(), seek.Stop.GetSpecified().GetNumber()
	for n := start; n <= stop && n < uint64(len(s.blocks)); n++ {
		if err := stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Block{Block: s.blocks[n]}}); err != nil {
			return err
		}
	}
	return stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Status{Status: commonpb.Status_SUCCESS}})
}

// serveBlocks starts a Deliver service over a chain of n blocks and
// returns its address and the chain.
func serveBlocks(t *testing.T, n int) (string, []*commonpb.Block) {
	t.Helper()
	return serveSource(t, n, false)
}

func serveSource(t *testing.T, n int, stall bool) (string, []*commonpb.Block) {
	t.Helper()
	blocks := []*commonpb.Block{ledger.NewBlock(0, nil, [][]byte{[]byte("genesis")})}
	for i := 1; i < n; i++ {
		blocks = append(blocks, ledger.NewBlock(uint64(i), ledger.HeaderHash(blocks[i-1].Header), [][]byte{[]byte{byte(i)}}))
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ordererpb.RegisterAtomicBroadcastServer(srv, &blockSource{blocks: blocks, stall: stall})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), blocks
}

// testFetcher fetches from whatever endpoints returns, trusting every
// block's signatures (the hash chain is still checked), starting after
// genesis.
func testFetcher(t *testing.T, genesis *commonpb.Block, endpoints func() []string) *deliverFetcher {
	return &deliverFetcher{
		signer:        testSigner(t),
		creds:         insecure.NewCredentials(),
		log:           slog.New(slog.DiscardHandler),
		endpoints:     endpoints,
		verifier:      func(*commonpb.Block) error { return nil },
		tip:           func() (uint64, []byte) { return 1, ledger.HeaderHash(genesis.Header) },
		maxRetryDelay: time.Millisecond,
	}
}

// TestFetchOutlastsUnreachableOrderers: while every other orderer is
// unreachable, far longer than the ten rounds after which fetching used
// to give up, the fetcher keeps trying; once one answers, it hands over
// the missing blocks in order.
func TestFetchOutlastsUnreachableOrderers(t *testing.T) {
	addr, blocks := serveBlocks(t, 4)
	down := nettest.RefusingAddress(t)
	var calls atomic.Int32
	f := testFetcher(t, blocks[0], func() []string {
		if calls.Add(1) <= 40 {
			return []string{down}
		}
		return []string{addr}
	})
	var got []uint64
	err := f.Fetch(context.Background(), "ch", 1, 3, func(b *commonpb.Block) error {
		got = append(got, b.Header.Number)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("fetched blocks %v, want [1 2 3]", got)
	}
	if n := calls.Load(); n <= 40 {
		t.Fatalf("%d attempts; the source was only reachable after 40", n)
	}
}

// TestFetchLeavesAStalledOrderer: an orderer that takes the request and
// sends nothing is left, after the idle timeout, for the next.
func TestFetchLeavesAStalledOrderer(t *testing.T) {
	stalled, _ := serveSource(t, 4, true)
	addr, blocks := serveBlocks(t, 4)
	f := testFetcher(t, blocks[0], func() []string { return []string{stalled, addr} })
	f.idleTimeout = 200 * time.Millisecond
	var got []uint64
	start := time.Now()
	err := f.Fetch(context.Background(), "ch", 1, 3, func(b *commonpb.Block) error {
		got = append(got, b.Header.Number)
		return nil
	})
	if err != nil || len(got) != 3 {
		t.Fatalf("fetched %v: %v", got, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("fetched in %v: the stalled orderer was not asked first", d)
	}
}

// TestFetchStopsWithItsContext: a fetch that cannot succeed ends when its
// context does, and says so.
func TestFetchStopsWithItsContext(t *testing.T) {
	genesis := ledger.NewBlock(0, nil, [][]byte{[]byte("genesis")})
	down := nettest.RefusingAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	f := testFetcher(t, genesis, func() []string {
		if calls.Add(1) == 30 {
			cancel()
		}
		return []string{down}
	})
	err := f.Fetch(ctx, "ch", 1, 3, func(*commonpb.Block) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want an error wrapping context.Canceled", err)
	}
}

// TestBlockWriterRestore: an orderer behind a consensus snapshot fetches
// the blocks up to the snapshot's height, then records the snapshot's
// index; a catch-up that cannot finish ends when the channel stops, or
// after the start-up limit.
func TestBlockWriterRestore(t *testing.T) {
	addr, blocks := serveBlocks(t, 4)
	down := nettest.RefusingAddress(t)
	open := func(endpoint string) *blockWriter {
		t.Helper()
		db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		l, err := ledger.Open(db, "ch")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Append(blocks[0], ledger.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		w, err := newBlockWriter("ch", db, l, testSigner(t), testFetcher(t, blocks[0], func() []string { return []string{endpoint} }), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	snapshot := encodeSnapshot(4, ledger.HeaderHash(blocks[3].Header))

	t.Run("catches up", func(t *testing.T) {
		w := open(addr)
		var appended []uint64
		w.onBlock = func(b *commonpb.Block) { appended = append(appended, b.Header.Number) }
		if err := w.Restore(snapshot, 10); err != nil {
			t.Fatal(err)
		}
		if h := w.ledger.Height(); h != 4 || len(appended) != 3 {
			t.Fatalf("height %d, appended %v; want 4 and blocks 1..3", h, appended)
		}
		if w.Applied() != 10 {
			t.Fatalf("applied index %d, want the snapshot's 10", w.Applied())
		}
	})
	t.Run("a different tip is refused", func(t *testing.T) {
		w := open(addr)
		err := w.Restore(encodeSnapshot(4, []byte("another chain")), 10)
		if err == nil || w.Applied() == 10 {
			t.Fatalf("restored onto a chain whose tip differs from the snapshot's: %v", err)
		}
	})
	t.Run("stops with the channel", func(t *testing.T) {
		w := open(down)
		errc := make(chan error, 1)
		go func() { errc <- w.Restore(snapshot, 10) }()
		select {
		case err := <-errc:
			t.Fatalf("Restore returned before the channel stopped: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		w.stopFetching()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) || w.Applied() == 10 {
				t.Fatalf("got %v (applied %d), want a cancelled catch-up", err, w.Applied())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Restore still running after the channel stopped")
		}
	})
	t.Run("start-up limit", func(t *testing.T) {
		w := open(down)
		var cancel context.CancelFunc
		w.startCtx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := w.Restore(snapshot, 10); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the start-up limit's deadline", err)
		}
	})
}
