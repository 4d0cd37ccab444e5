package orderer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// scriptedOrderer answers each envelope of a stream in order, after a
// random short delay, by its payload: "ok..." SUCCESS, "bad..."
// BAD_REQUEST with the payload as info, "busy..." SERVICE_UNAVAILABLE;
// "kill" ends the stream without an answer; "slow..." SUCCESS after
// 300 ms. A silent one reads every envelope and answers none, as a hung
// process would.
type scriptedOrderer struct {
	ordererpb.UnimplementedAtomicBroadcastServer
	streams  atomic.Int32
	received atomic.Int32
	silent   atomic.Bool
}

func (o *scriptedOrderer) Broadcast(stream ordererpb.AtomicBroadcast_BroadcastServer) error {
	o.streams.Add(1)
	answers := make(chan *ordererpb.BroadcastResponse, 1000)
	sent := make(chan error, 1)
	go func() {
		var err error
		for res := range answers {
			if err == nil {
				err = stream.Send(res)
			}
		}
		sent <- err
	}()
	defer func() { close(answers); <-sent }()
	for {
		env, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		o.received.Add(1)
		p := string(env.Payload)
		switch {
		case o.silent.Load():
		case p == "kill":
			return errors.New("killed")
		case strings.HasPrefix(p, "ok"):
			answers <- &ordererpb.BroadcastResponse{Status: commonpb.Status_SUCCESS}
		case strings.HasPrefix(p, "slow"):
			time.Sleep(300 * time.Millisecond)
			answers <- &ordererpb.BroadcastResponse{Status: commonpb.Status_SUCCESS}
		case strings.HasPrefix(p, "busy"):
			answers <- &ordererpb.BroadcastResponse{Status: commonpb.Status_SERVICE_UNAVAILABLE, Info: p}
		default:
			answers <- &ordererpb.BroadcastResponse{Status: commonpb.Status_BAD_REQUEST, Info: p}
		}
	}
}

func startScripted(t *testing.T) (*scriptedOrderer, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	o := &scriptedOrderer{}
	ordererpb.RegisterAtomicBroadcastServer(srv, o)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return o, lis.Addr().String()
}

// TestBroadcastClientSharesStreams checks that concurrent envelopes share
// one stream and each gets its own answer, and that a failed stream fails
// its envelopes and is replaced.
func TestBroadcastClientSharesStreams(t *testing.T) {
	o, addr := startScripted(t)
	c := NewBroadcastClient([]string{addr}, insecure.NewCredentials())
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := fmt.Sprintf("ok-%d", i)
			if i%3 == 0 {
				payload = fmt.Sprintf("bad-%d", i)
			}
			err := c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte(payload)})
			var se *StatusError
			switch {
			case i%3 != 0 && err != nil:
				errs <- fmt.Sprintf("%s: %v", payload, err)
			case i%3 == 0 && (!errors.As(err, &se) || se.Status != commonpb.Status_BAD_REQUEST || se.Info != payload):
				errs <- fmt.Sprintf("%s: got %v, want its own BAD_REQUEST", payload, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := o.streams.Load(); n != 1 {
		t.Errorf("%d streams opened for 400 envelopes, want 1", n)
	}

	// A stream that breaks fails the envelope waiting on it; the next
	// envelope gets a new stream.
	err := c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte("kill")})
	if err == nil || !strings.Contains(err.Error(), "no orderer could order the envelope") {
		t.Fatalf("envelope on a broken stream: %v", err)
	}
	if err := c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte("ok-after")}); err != nil {
		t.Fatalf("after the stream broke: %v", err)
	}
	if n := o.streams.Load(); n != 2 {
		t.Errorf("%d streams opened, want 2", n)
	}
}

// TestBroadcastClientFailsOver checks that an unavailable orderer's
// answer sends the envelope to the next one, and a refusal does not.
func TestBroadcastClientFailsOver(t *testing.T) {
	_, first := startScripted(t)
	second, addr2 := startScripted(t)
	c := NewBroadcastClient([]string{first, addr2}, insecure.NewCredentials())
	defer c.Close()
	ctx := context.Background()
	// "busy" is unavailable on both: the error names both answers.
	err := c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte("busy-1")})
	if err == nil || strings.Count(err.Error(), "SERVICE_UNAVAILABLE") != 2 {
		t.Fatalf("busy everywhere: %v", err)
	}
	if second.streams.Load() != 1 {
		t.Error("the second orderer was not tried")
	}
	err = c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte("bad-1")})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != commonpb.Status_BAD_REQUEST {
		t.Fatalf("refused: %v", err)
	}
}

// TestBroadcastClientLeavesASilentOrderer checks that envelopes waiting on
// an orderer that never answers move on to the next one once the attempt
// timeout passes, and that the next envelopes start with the orderer that
// answered.
func TestBroadcastClientLeavesASilentOrderer(t *testing.T) {
	silent, first := startScripted(t)
	silent.silent.Store(true)
	second, addr2 := startScripted(t)
	c := NewBroadcastClient([]string{first, addr2}, insecure.NewCredentials())
	c.SetAttemptTimeout(200 * time.Millisecond)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte(fmt.Sprintf("ok-%d", i))}); err != nil {
				t.Errorf("envelope %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := second.received.Load(); n != 10 {
		t.Errorf("the second orderer received %d envelopes, want all 10", n)
	}
	asked := silent.received.Load()
	for i := range 5 {
		if err := c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte(fmt.Sprintf("ok-after-%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if n := silent.received.Load(); n != asked {
		t.Errorf("the silent orderer received %d more envelopes after it was left", n-asked)
	}

	// Without an attempt timeout the caller's deadline is the only bound.
	c2 := NewBroadcastClient([]string{first, addr2}, insecure.NewCredentials())
	defer c2.Close()
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if err := c2.Broadcast(short, &commonpb.Envelope{Payload: []byte("ok-stuck")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("without an attempt timeout: %v, want the deadline", err)
	}
}

// TestBroadcastClientShortDeadlineFailsOnlyItself checks that a caller
// whose deadline cuts its wait short moves only its own envelope on: the
// stream, and the envelopes of patient callers on it, stay with an orderer
// that is slow but answers.
func TestBroadcastClientShortDeadlineFailsOnlyItself(t *testing.T) {
	slow, addr := startScripted(t)
	c := NewBroadcastClient([]string{addr}, insecure.NewCredentials())
	c.SetAttemptTimeout(10 * time.Second)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	patient := make(chan error, 1)
	go func() { patient <- c.Broadcast(ctx, &commonpb.Envelope{Payload: []byte("slow-patient")}) }()
	for slow.received.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if err := c.Broadcast(short, &commonpb.Envelope{Payload: []byte("slow-hurried")}); err == nil {
		t.Error("the hurried envelope was answered within 100 ms")
	}
	if err := <-patient; err != nil {
		t.Errorf("the patient envelope: %v", err)
	}
	if n := slow.streams.Load(); n != 1 {
		t.Errorf("%d streams opened, want 1: the hurried caller failed the shared stream", n)
	}
}
