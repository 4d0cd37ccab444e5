package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/nettest"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// deliverSource is an orderer's Deliver service reduced to a chain held
// in memory: it answers a request for the newest block, and streams the
// chain from a requested block, waiting at its tip for blocks appended
// later, as an orderer does. It does not check who asks.
type deliverSource struct {
	ordererpb.UnimplementedAtomicBroadcastServer
	mu     sync.Mutex
	blocks []*commonpb.Block
	grew   chan struct{} // closed, and replaced, when blocks grow

	tipAsks atomic.Int32 // requests for the newest block
	streams atomic.Int32 // requests for blocks from a given one on

	tipDown       atomic.Bool // the newest block is refused (SERVICE_UNAVAILABLE), as while starting
	refuseStreams atomic.Bool // streams are refused (INTERNAL_SERVER_ERROR), as when its ledger fails
}

func (s *deliverSource) chain() ([]*commonpb.Block, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocks, s.grew
}

func (s *deliverSource) append(blocks ...*commonpb.Block) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocks = append(s.blocks[:len(s.blocks):len(s.blocks)], blocks...)
	close(s.grew)
	s.grew = make(chan struct{})
}

func (s *deliverSource) Deliver(stream ordererpb.AtomicBroadcast_DeliverServer) error {
	env, err := stream.Recv()
	if err != nil {
		return err
	}
	payload, seek := &commonpb.Payload{}, &ordererpb.SeekInfo{}
	if err := proto.Unmarshal(env.Payload, payload); err != nil {
		return err
	}
	if err := proto.Unmarshal(payload.Data, seek); err != nil {
		return err
	}
	send := func(b *commonpb.Block) error {
		return stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Block{Block: b}})
	}
	if seek.Start.GetNewest() != nil {
		s.tipAsks.Add(1)
		if s.tipDown.Load() {
			return stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Status{Status: commonpb.Status_SERVICE_UNAVAILABLE}})
		}
		blocks, _ := s.chain()
		if err := send(blocks[len(blocks)-1]); err != nil {
			return err
		}
		return stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Status{Status: commonpb.Status_SUCCESS}})
	}
	s.streams.Add(1)
	if s.refuseStreams.Load() {
		return stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Status{Status: commonpb.Status_INTERNAL_SERVER_ERROR}})
	}
	for n := seek.Start.GetSpecified().GetNumber(); ; {
		blocks, grew := s.chain()
		for ; n < uint64(len(blocks)); n++ {
			if err := send(blocks[n]); err != nil {
				return err
			}
		}
		select {
		case <-grew:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// pullFixture is a channel whose orderers are deliverSources (and, if
// asked, one silent address second in the channel's list: an orderer
// whose process hangs), and the chain they serve parts of.
type pullFixture struct {
	*channelFixture
	sources []*deliverSource
	chain   []*commonpb.Block // genesis and n blocks after it
}

func newPullFixture(t *testing.T, sources, blocks int, withHungOrderer bool) *pullFixture {
	t.Helper()
	var listeners []net.Listener
	var addrs []string
	for range sources {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, lis)
		addrs = append(addrs, lis.Addr().String())
	}
	if withHungOrderer {
		addrs = slices.Insert(addrs, 1, nettest.SilentAddress(t))
	}
	f := &pullFixture{channelFixture: newChannelFixture(t, addrs...)}
	f.chain = []*commonpb.Block{f.genesis}
	for range blocks {
		f.chain = append(f.chain, f.nextBlock(t, f.chain[len(f.chain)-1]))
	}
	for _, lis := range listeners {
		src := &deliverSource{blocks: f.chain[:1], grew: make(chan struct{})}
		srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{f.ordererTLS}})))
		ordererpb.RegisterAtomicBroadcastServer(srv, src)
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		f.sources = append(f.sources, src)
	}
	return f
}

// startPeer starts the peer, which checks a silent block stream every
// stallAfter.
func (f *pullFixture) startPeer(t *testing.T, stallAfter time.Duration) *Peer {
	t.Helper()
	p, _, _ := f.start(t, t.TempDir(), kv.DiskFS(), func(o *Options) { o.stallAfter = stallAfter })
	return p
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A peer whose block stream stops delivering (its orderer cut off from the
// others, which go on) while another orderer has more blocks leaves it
// after two checks, for the orderer found ahead: not for the next in
// turn, here an orderer that hangs, which would cost the 10 s bound of
// the height request before the peer moved on again.
func TestPullLeavesAStalledStreamForTheOrdererAhead(t *testing.T) {
	const stallAfter = 200 * time.Millisecond
	f := newPullFixture(t, 2, 5, true) // orderers: cut off, hung, ahead
	cutOff, ahead := f.sources[0], f.sources[1]
	cutOff.append(f.chain[1:3]...)
	ahead.append(f.chain[1:]...)

	p := f.startPeer(t, stallAfter)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	if err := p.WaitForHeight(ctx, "mychannel", uint64(len(f.chain))); err != nil {
		t.Fatalf("the peer did not get the blocks from the orderer ahead: %v", err)
	}
	t.Logf("height %d after %s (checks every %s)", len(f.chain), time.Since(start).Round(time.Millisecond), stallAfter)
	if n := cutOff.streams.Load(); n != 1 {
		t.Errorf("the cut-off orderer was asked for %d streams, want 1", n)
	}
	if n := ahead.streams.Load(); n != 1 {
		t.Errorf("the orderer ahead was asked for %d streams, want 1", n)
	}
}

// A stream at the tip, with every orderer at the same height, is kept
// however long it is silent.
func TestPullKeepsASilentStreamAtTheTip(t *testing.T) {
	const stallAfter = 50 * time.Millisecond
	f := newPullFixture(t, 2, 2, false)
	for _, src := range f.sources {
		src.append(f.chain[1:]...)
	}
	p := f.startPeer(t, stallAfter)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitForHeight(ctx, "mychannel", uint64(len(f.chain))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the peer checked the other orderer's height six times", func() bool { return f.sources[1].tipAsks.Load() >= 6 })
	if n, m := f.sources[0].streams.Load(), f.sources[1].streams.Load(); n != 1 || m != 0 {
		t.Errorf("streams asked of the orderers: %d and %d, want 1 and 0", n, m)
	}
}

// Another orderer ahead at one check only, the stream's own orderer
// delivering the block before the next, is the ordinary race of two
// orderers writing the same block: the stream is kept.
func TestPullKeepsAStreamBehindAtOneCheck(t *testing.T) {
	const stallAfter = 600 * time.Millisecond
	f := newPullFixture(t, 2, 3, false)
	own, other := f.sources[0], f.sources[1]
	own.append(f.chain[1:3]...)
	other.append(f.chain[1:3]...)
	p := f.startPeer(t, stallAfter)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitForHeight(ctx, "mychannel", 3); err != nil {
		t.Fatal(err)
	}

	asked := other.tipAsks.Load()
	other.append(f.chain[3])
	waitUntil(t, "a check found the other orderer ahead", func() bool { return other.tipAsks.Load() > asked })
	time.Sleep(stallAfter / 3) // the check has counted it
	own.append(f.chain[3])
	if err := p.WaitForHeight(ctx, "mychannel", 4); err != nil {
		t.Fatal(err)
	}
	asked = other.tipAsks.Load()
	waitUntil(t, "two more checks", func() bool { return other.tipAsks.Load() >= asked+2 })
	if n, m := own.streams.Load(), other.streams.Load(); n != 1 || m != 0 {
		t.Errorf("streams asked of the orderers: %d and %d, want 1 and 0", n, m)
	}
}

type slowFile struct {
	kv.File
	delay time.Duration
}

func (f *slowFile) Write(p []byte) (int, error) {
	time.Sleep(f.delay)
	return f.File.Write(p)
}

func (f *slowFile) WriteAt(p []byte, off int64) (int, error) {
	time.Sleep(f.delay)
	return f.File.WriteAt(p, off)
}

// A stream whose next block waits for a slow committer, while the other
// orderers are far ahead, is not stalled: its orderer is not left.
func TestPullKeepsAStreamWaitingForTheCommitter(t *testing.T) {
	const stallAfter = 20 * time.Millisecond
	// More blocks than the queue to the committer and its pipeline hold.
	f := newPullFixture(t, 2, 24, false)
	for _, src := range f.sources {
		src.append(f.chain[1:]...)
	}
	// A committer that cannot keep up: every write to a block segment
	// file takes four checks.
	disk := &blockFileDisk{FS: kv.DiskFS(), wrap: func(f kv.File) kv.File { return &slowFile{File: f, delay: 4 * stallAfter} }}
	p, _, _ := f.start(t, t.TempDir(), disk, func(o *Options) { o.stallAfter = stallAfter })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.WaitForHeight(ctx, "mychannel", uint64(len(f.chain))); err != nil {
		t.Fatal(err)
	}
	if n, m := f.sources[0].streams.Load(), f.sources[1].streams.Load(); n != 1 || m != 0 {
		t.Errorf("streams asked of the orderers: %d and %d, want 1 and 0", n, m)
	}
}

func TestOrdererPicker(t *testing.T) {
	addrs := []string{"o0:7050", "o1:7050", "o2:7050"}
	var p ordererPicker
	pick := func(want string) {
		t.Helper()
		if got := p.next(addrs); got != want {
			t.Fatalf("picked %s, want %s", got, want)
		}
	}
	ended := errors.New("stream ended")
	pick("o0:7050")
	p.ended("o0:7050", true, true, ended) // a stream that worked, then ended (a restart)
	pick("o1:7050")
	p.ended("o1:7050", false, false, ended) // hung: its height request timed out
	if d := p.pause(); d != 200*time.Millisecond {
		t.Errorf("pause %v after a stream that delivered nothing, want 200ms", d)
	}
	pick("o2:7050")
	p.ended("o2:7050", true, true, ended)
	if d := p.pause(); d != 100*time.Millisecond {
		t.Errorf("pause %v after a stream that delivered, want 100ms", d)
	}
	pick("o0:7050")
	p.ended("o0:7050", true, true, ended)
	pick("o2:7050") // o1 is still suspect, however many streams ago it hung
	p.ended("o2:7050", true, true, &streamStalledError{endpoint: "o2:7050", ahead: "o1:7050"})
	pick("o1:7050") // found ahead: suspect or not, it has the blocks
	p.ended("o1:7050", true, true, ended)
	pick("o0:7050") // in turn after o2, which stalled and is suspect
	p.ended("o0:7050", false, false, ended)
	pick("o1:7050") // it answered last time; o0 is suspect now
	p.ended("o1:7050", false, false, ended)
	pick("o1:7050") // every one is suspect: simply in turn
	p.ended("o1:7050", true, true, &streamStalledError{endpoint: "o1:7050", ahead: "o9:7050"})
	addrs = []string{"o0:7050", "o2:7050"} // o1 left the channel's configuration
	pick("o0:7050")                        // the orderer found ahead is not in the configuration: in turn
	// Orderers that answer but fail every stream stay as they were, and
	// the pause grows.
	before := maps.Clone(p.suspect)
	for range 12 {
		p.ended(p.next(addrs), true, false, errors.New("orderer ended the stream with INTERNAL_SERVER_ERROR"))
	}
	if d := p.pause(); d != time.Second {
		t.Errorf("pause %v after a dozen refused streams, want 1s", d)
	}
	if !maps.Equal(before, p.suspect) {
		t.Errorf("suspects %v after streams that answered and delivered nothing, want %v as before", p.suspect, before)
	}
	if p.suspect["o1:7050"] {
		t.Error("an orderer no longer in the configuration is still remembered")
	}
}

// An orderer that was unavailable when first asked (suspect) is tried
// again while another answers its height request but fails every stream:
// after a round of streams that delivered nothing, the peer goes in turn.
func TestPullReturnsFromAnOrdererThatFailsEveryStream(t *testing.T) {
	f := newPullFixture(t, 2, 3, false)
	healthy, failing := f.sources[0], f.sources[1]
	healthy.append(f.chain[1:]...)
	failing.append(f.chain[1:]...)
	healthy.tipDown.Store(true) // restarting when the peer first asks
	failing.refuseStreams.Store(true)
	p := f.startPeer(t, 5*time.Second)
	waitUntil(t, "the peer asked the healthy orderer", func() bool { return healthy.tipAsks.Load() >= 1 })
	healthy.tipDown.Store(false) // back up
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := p.WaitForHeight(ctx, "mychannel", uint64(len(f.chain))); err != nil {
		t.Fatalf("the peer never went back to the healthy orderer (%d streams asked of it, %d of the failing one): %v",
			healthy.streams.Load(), failing.streams.Load(), err)
	}
}
