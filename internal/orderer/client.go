package orderer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/chorusledger/chorus/internal/node/transport"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// StatusError is an orderer's refusal of an envelope.
type StatusError struct {
	Endpoint string
	Status   commonpb.Status
	Info     string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("orderer %s: %s: %s", e.Endpoint, e.Status, e.Info)
}

// BroadcastClient submits envelopes to a channel's orderers, failing over
// from one to the next when an orderer is unreachable or unavailable. A
// refusal (bad request, forbidden, too large) is returned at once: another
// orderer would refuse it too.
//
// Envelopes to one orderer share one long-lived Broadcast stream, sent
// one after another without waiting: the orderer answers a stream's
// envelopes in order, so the client matches each answer to the oldest
// envelope still waiting. A stream that fails fails its waiting envelopes
// (which then fail over) and is replaced on the next use.
type BroadcastClient struct {
	endpoints []string
	dialOpts  []grpc.DialOption
	// attemptTimeout bounds the wait for one orderer's answer (0: the
	// caller's context alone); see SetAttemptTimeout.
	attemptTimeout time.Duration

	mu      sync.Mutex
	conns   map[string]*grpc.ClientConn
	streams map[string]*broadcastStream
	next    int // the endpoint to try first: the last one that worked
	closed  bool
}

// NewBroadcastClient returns a client for the given orderer endpoints.
func NewBroadcastClient(endpoints []string, creds credentials.TransportCredentials, opts ...grpc.DialOption) *BroadcastClient {
	return &BroadcastClient{
		endpoints: endpoints,
		dialOpts:  append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...),
		conns:     map[string]*grpc.ClientConn{},
		streams:   map[string]*broadcastStream{},
	}
}

// SetAttemptTimeout bounds the wait for one orderer's answer to an
// envelope: d, or half of what is left of the caller's context if that is
// less, so that another orderer has time too. An orderer that does not
// answer within d is taken for hung: its stream is failed, so that every
// envelope waiting on it moves on to the next orderer, and the next
// envelopes start with an orderer that answered. A wait shortened by the
// caller's deadline moves only that caller's envelope on. An envelope moved on may
// be ordered twice, should the silent orderer order it after all; peers
// mark the second copy DUPLICATE_TXID (DESIGN §5). Call it before the
// client is used.
func (c *BroadcastClient) SetAttemptTimeout(d time.Duration) { c.attemptTimeout = d }

func (c *BroadcastClient) conn(ep string) (*grpc.ClientConn, error) {
	if cc, ok := c.conns[ep]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(ep, c.dialOpts...)
	if err != nil {
		return nil, err
	}
	c.conns[ep] = cc
	return cc, nil
}

// stream returns the live stream to ep, opening one if needed.
func (c *BroadcastClient) stream(ep string) (*broadcastStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("the broadcast client is closed")
	}
	if s, ok := c.streams[ep]; ok && !s.isDead() {
		return s, nil
	}
	cc, err := c.conn(ep)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	raw, err := ordererpb.NewAtomicBroadcastClient(cc).Broadcast(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &broadcastStream{stream: raw, cancel: cancel, dead: make(chan struct{})}
	go s.receive()
	c.streams[ep] = s
	return s, nil
}

// Broadcast submits env and returns nil once an orderer answered SUCCESS
// (the envelope's block is committed and durable there). It tries every
// endpoint at most once per call, starting with the last that worked.
func (c *BroadcastClient) Broadcast(ctx context.Context, env *commonpb.Envelope) error {
	c.mu.Lock()
	start := c.next
	c.mu.Unlock()
	var errs []error
	for i := range c.endpoints {
		idx := (start + i) % len(c.endpoints)
		ep := c.endpoints[idx]
		err := c.attempt(ctx, ep, env)
		if err == nil {
			c.mu.Lock()
			c.next = idx
			c.mu.Unlock()
			return nil
		}
		var se *StatusError
		if errors.As(err, &se) && se.Status != commonpb.Status_SERVICE_UNAVAILABLE && se.Status != commonpb.Status_INTERNAL_SERVER_ERROR {
			return err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("no orderer could order the envelope: %w", errors.Join(errs...))
}

// attempt sends env to the orderer at ep and waits for its answer, within
// the attempt timeout. Only an orderer silent for the whole attempt
// timeout has its stream failed: a wait cut shorter by the caller's own
// deadline abandons that caller's envelope alone, since the orderer may
// only be slower than this caller can wait.
func (c *BroadcastClient) attempt(ctx context.Context, ep string, env *commonpb.Envelope) error {
	if c.attemptTimeout <= 0 {
		_, err := c.broadcastTo(ctx, ep, env)
		return err
	}
	bound, cut := transport.CallBound(ctx, c.attemptTimeout)
	attemptCtx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	s, err := c.broadcastTo(attemptCtx, ep, env)
	if s == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	silent := fmt.Errorf("orderer %s did not answer within %s", ep, bound.Round(time.Millisecond))
	if !cut {
		s.fail(silent)
	}
	return silent
}

// broadcastTo sends env to the orderer at ep and waits for its answer; it
// returns the stream it used, if it got one.
func (c *BroadcastClient) broadcastTo(ctx context.Context, ep string, env *commonpb.Envelope) (*broadcastStream, error) {
	s, err := c.stream(ep)
	if err != nil {
		return nil, fmt.Errorf("orderer %s: %w", ep, err)
	}
	res, err := s.send(ctx, env)
	if err != nil {
		return s, fmt.Errorf("orderer %s: %w", ep, err)
	}
	if res.Status != commonpb.Status_SUCCESS {
		return s, &StatusError{Endpoint: ep, Status: res.Status, Info: res.Info}
	}
	return s, nil
}

// Close closes the client's streams and connections.
func (c *BroadcastClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, s := range c.streams {
		s.fail(errors.New("the broadcast client is closed"))
	}
	c.streams = map[string]*broadcastStream{}
	for _, cc := range c.conns {
		cc.Close()
	}
	c.conns = map[string]*grpc.ClientConn{}
}

// broadcastStream is one Broadcast stream shared by many envelopes.
type broadcastStream struct {
	stream ordererpb.AtomicBroadcast_BroadcastClient
	cancel context.CancelFunc

	// sendMu serializes sends, each with the append of its waiter, so that
	// waiting is in the order of the stream. The receiver takes only mu,
	// so a send blocked by flow control never blocks the answers.
	sendMu  sync.Mutex
	mu      sync.Mutex // guards waiting and err
	waiting []chan broadcastResult
	err     error
	dead    chan struct{} // closed once the stream failed
}

type broadcastResult struct {
	res *ordererpb.BroadcastResponse
	err error
}

func (s *broadcastStream) isDead() bool {
	select {
	case <-s.dead:
		return true
	default:
		return false
	}
}

// send sends env and waits for its answer, or for ctx to end. An envelope
// abandoned by its caller keeps its place: its answer is read and dropped.
func (s *broadcastStream) send(ctx context.Context, env *commonpb.Envelope) (*ordererpb.BroadcastResponse, error) {
	done := make(chan broadcastResult, 1)
	s.sendMu.Lock()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		s.sendMu.Unlock()
		return nil, err
	}
	s.waiting = append(s.waiting, done)
	s.mu.Unlock()
	err := s.stream.Send(env)
	s.sendMu.Unlock()
	if err != nil {
		s.fail(err) // answers done, unless an answer or a failure came first
	}
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// receive hands each answer to the oldest waiting envelope until the
// stream fails.
func (s *broadcastStream) receive() {
	for {
		res, err := s.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the orderer closed the stream")
			}
			s.fail(err)
			return
		}
		s.mu.Lock()
		if len(s.waiting) == 0 {
			s.mu.Unlock()
			s.fail(errors.New("the orderer sent an answer to no envelope"))
			return
		}
		done := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		s.mu.Unlock()
		done <- broadcastResult{res: res}
	}
}

// fail ends the stream: every waiting envelope gets err.
func (s *broadcastStream) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	waiting := s.waiting
	s.waiting = nil
	close(s.dead)
	s.mu.Unlock()
	s.cancel()
	for _, done := range waiting {
		done <- broadcastResult{err: err}
	}
}
