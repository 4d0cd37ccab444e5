package orderer

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
type BroadcastClient struct {
	endpoints []string
	dialOpts  []grpc.DialOption

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
	next  int // the endpoint to try first: the last one that worked
}

// NewBroadcastClient returns a client for the given orderer endpoints.
func NewBroadcastClient(endpoints []string, creds credentials.TransportCredentials, opts ...grpc.DialOption) *BroadcastClient {
	return &BroadcastClient{
		endpoints: endpoints,
		dialOpts:  append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...),
		conns:     map[string]*grpc.ClientConn{},
	}
}

func (c *BroadcastClient) conn(ep string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
		err := c.broadcastTo(ctx, ep, env)
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

func (c *BroadcastClient) broadcastTo(ctx context.Context, ep string, env *commonpb.Envelope) error {
	cc, err := c.conn(ep)
	if err != nil {
		return fmt.Errorf("orderer %s: %w", ep, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := ordererpb.NewAtomicBroadcastClient(cc).Broadcast(sctx)
	if err != nil {
		return fmt.Errorf("orderer %s: %w", ep, err)
	}
	if err := stream.Send(env); err != nil {
		return fmt.Errorf("orderer %s: %w", ep, err)
	}
	res, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("orderer %s: %w", ep, err)
	}
	_ = stream.CloseSend()
	if res.Status != commonpb.Status_SUCCESS {
		return &StatusError{Endpoint: ep, Status: res.Status, Info: res.Info}
	}
	return nil
}

// Close closes the client's connections.
func (c *BroadcastClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cc := range c.conns {
		cc.Close()
	}
	c.conns = map[string]*grpc.ClientConn{}
}
