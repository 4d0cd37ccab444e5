package orderer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clusterpb "github.com/chorusledger/chorus/proto/chorus/cluster"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Member is another consenter of a channel, as the channel config names it.
type Member struct {
	ID       uint64
	Endpoint string // host:port of its cluster listener
	TLSCert  *x509.Certificate
}

// ClusterHandler receives what other consenters of one channel send.
// Methods are called from the stream's goroutine and must not block long.
type ClusterHandler interface {
	// OnConsensus delivers a consensus message from consenter from.
	OnConsensus(from uint64, payload []byte)
	// OnSubmit delivers an envelope forwarded by consenter from; reply
	// answers it (only to report a rejection: success is learned from the
	// ordered block).
	OnSubmit(from uint64, req *clusterpb.SubmitRequest, reply func(*clusterpb.SubmitResponse))
	// OnSubmitResponse delivers the leader's answer to a forwarded envelope.
	OnSubmitResponse(from uint64, res *clusterpb.SubmitResponse)
}

// ErrUnknownMember is returned by Send for a consenter the channel does
// not know.
var ErrUnknownMember = errors.New("orderer: unknown consenter")

// ErrQueueFull is returned by Send when the link to a consenter is
// saturated; consensus tolerates the loss.
var ErrQueueFull = errors.New("orderer: cluster send queue full")

// Cluster holds this orderer's links to the other consenters of all its
// channels, and serves the Cluster gRPC service they dial. A consenter is
// recognised by the public key of its TLS certificate, matched against the
// channel configuration, so a renewed certificate with the same key needs
// no configuration change.
type Cluster struct {
	clusterpb.UnimplementedClusterServer

	log         *slog.Logger
	creds       credentials.TransportCredentials // for dialing other consenters
	dialOptions []grpc.DialOption

	mu       sync.Mutex
	channels map[string]*clusterChannel
	remotes  map[string]*remote // by endpoint
	closed   bool
	closedC  chan struct{} // closed by Close: inbound streams end
}

type clusterChannel struct {
	self    uint64
	members map[uint64]Member
	byKey   map[[32]byte]uint64 // SHA-256 of the TLS public key → id
	handler ClusterHandler
}

// NewCluster returns a Cluster that dials other consenters with creds
// (mutual TLS with this orderer's TLS certificate) and dialOptions.
func NewCluster(creds credentials.TransportCredentials, dialOptions []grpc.DialOption, logger *slog.Logger) *Cluster {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Cluster{log: logger, creds: creds, dialOptions: dialOptions, channels: map[string]*clusterChannel{}, remotes: map[string]*remote{}, closedC: make(chan struct{})}
}

func keyOf(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.RawSubjectPublicKeyInfo) }

// Register makes a channel's consenters known. members excludes self.
// Registering again replaces the membership (after a config change).
func (c *Cluster) Register(channel string, self uint64, members []Member, h ClusterHandler) {
	cc := &clusterChannel{self: self, members: map[uint64]Member{}, byKey: map[[32]byte]uint64{}, handler: h}
	for _, m := range members {
		cc.members[m.ID] = m
		cc.byKey[keyOf(m.TLSCert)] = m.ID
	}
	c.mu.Lock()
	c.channels[channel] = cc
	c.mu.Unlock()
}

// Unregister forgets a channel.
func (c *Cluster) Unregister(channel string) {
	c.mu.Lock()
	delete(c.channels, channel)
	c.mu.Unlock()
}

// Send queues req for consenter to of channel. It never blocks on the
// network. onDone, if not nil, is called once: with true after the message
// was written to the stream, with false if it was dropped (link down,
// queue full, stream broken).
func (c *Cluster) Send(channel string, to uint64, req *clusterpb.StepRequest, onDone func(delivered bool)) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("orderer: cluster closed")
	}
	cc, ok := c.channels[channel]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: channel %s not registered", ErrUnknownMember, channel)
	}
	m, ok := cc.members[to]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w %d on channel %s", ErrUnknownMember, to, channel)
	}
	r, ok := c.remotes[m.Endpoint]
	if !ok {
		r = newRemote(c, m.Endpoint)
		c.remotes[m.Endpoint] = r
	}
	c.mu.Unlock()
	if err := r.enqueue(outbound{req: req, onDone: onDone}); err != nil {
		if onDone != nil {
			onDone(false)
		}
		return err
	}
	return nil
}

// Close tears down every link, outbound and inbound.
func (c *Cluster) Close() {
	c.mu.Lock()
	if !c.closed {
		close(c.closedC)
	}
	c.closed = true
	remotes := c.remotes
	c.remotes = map[string]*remote{}
	c.mu.Unlock()
	for _, r := range remotes {
		r.close()
	}
}

// member resolves the consenter id a TLS key has on a channel.
func (c *Cluster) member(channel string, key [32]byte) (uint64, ClusterHandler, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.channels[channel]
	if !ok {
		return 0, nil, fmt.Errorf("channel %s is not served by this orderer", channel)
	}
	id, ok := cc.byKey[key]
	if !ok {
		return 0, nil, fmt.Errorf("the caller's TLS key is not a consenter of channel %s", channel)
	}
	return id, cc.handler, nil
}

// memberByEndpoint resolves which consenter of channel listens at endpoint.
func (c *Cluster) memberByEndpoint(channel, endpoint string) (uint64, ClusterHandler, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.channels[channel]
	if !ok {
		return 0, nil, false
	}
	for id, m := range cc.members {
		if m.Endpoint == endpoint {
			return id, cc.handler, true
		}
	}
	return 0, nil, false
}

// submitBatchHeader is the response header by which a Step stream
// announces that it accepts SubmitBatch messages.
const submitBatchHeader = "chorus-cluster-submit-batch"

// Step serves a stream opened by another consenter.
func (c *Cluster) Step(stream clusterpb.Cluster_StepServer) error {
	key, err := clientTLSKey(stream.Context())
	if err != nil {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	if err := stream.SendHeader(metadata.Pairs(submitBatchHeader, "1")); err != nil {
		return err
	}
	var sendMu sync.Mutex
	reply := func(res *clusterpb.SubmitResponse) {
		sendMu.Lock()
		defer sendMu.Unlock()
		_ = stream.Send(&clusterpb.StepResponse{Payload: &clusterpb.StepResponse_Submit{Submit: res}})
	}
	reqs := make(chan *clusterpb.StepRequest)
	go func() {
		defer close(reqs)
		for {
			req, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case reqs <- req:
			case <-c.closedC:
				return
			}
		}
	}()
	for {
		var req *clusterpb.StepRequest
		select {
		case <-c.closedC:
			return status.Error(codes.Unavailable, "orderer shutting down")
		case r, ok := <-reqs:
			if !ok {
				return nil
			}
			req = r
		}
		switch p := req.Payload.(type) {
		case *clusterpb.StepRequest_Consensus:
			from, h, err := c.member(p.Consensus.Channel, key)
			if err != nil {
				c.log.Warn("refused consensus message", "err", err)
				continue
			}
			h.OnConsensus(from, p.Consensus.Payload)
		case *clusterpb.StepRequest_Submit:
			c.submit(key, p.Submit, reply)
		case *clusterpb.StepRequest_SubmitBatch:
			for _, sub := range p.SubmitBatch.GetRequests() {
				c.submit(key, sub, reply)
			}
		}
	}
}

// submit hands a forwarded envelope to its channel, or refuses it when
// the sender is not one of the channel's consenters.
func (c *Cluster) submit(key [32]byte, req *clusterpb.SubmitRequest, reply func(*clusterpb.SubmitResponse)) {
	from, h, err := c.member(req.Channel, key)
	if err != nil {
		reply(&clusterpb.SubmitResponse{Channel: req.Channel, RequestId: req.RequestId, Status: 403, Info: err.Error()})
		return
	}
	h.OnSubmit(from, req, reply)
}

func clientTLSKey(ctx context.Context) ([32]byte, error) {
	p, ok := grpcpeer.FromContext(ctx)
	if !ok {
		return [32]byte{}, errors.New("no peer information")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return [32]byte{}, errors.New("cluster links require a client TLS certificate")
	}
	return keyOf(info.State.PeerCertificates[0]), nil
}

// remote is the outbound link to one consenter: a connection, one Step
// stream, and a bounded queue drained by one goroutine. When the stream
// breaks, queued messages are reported undeliverable and the link
// reconnects with backoff.
type remote struct {
	c        *Cluster
	endpoint string
	queue    chan outbound
	stop     chan struct{}
	done     chan struct{}
}

// outbound is one queued message and who to tell about its fate.
type outbound struct {
	req    *clusterpb.StepRequest
	onDone func(delivered bool)
}

func (o outbound) done(delivered bool) {
	if o.onDone != nil {
		o.onDone(delivered)
	}
}

const remoteQueueSize = 4096

func newRemote(c *Cluster, endpoint string) *remote {
	r := &remote{c: c, endpoint: endpoint, queue: make(chan outbound, remoteQueueSize), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *remote) enqueue(o outbound) error {
	select {
	case r.queue <- o:
		return nil
	default:
		return ErrQueueFull
	}
}

func (r *remote) close() {
	close(r.stop)
	<-r.done
}

func (r *remote) run() {
	defer close(r.done)
	backoff := 50 * time.Millisecond
	for {
		err := r.session()
		select {
		case <-r.stop:
			return
		default:
		}
		r.c.log.Debug("cluster link down; reconnecting", "endpoint", r.endpoint, "err", err, "in", backoff)
		// Messages queued while the link is down are lost; raft resends.
		r.drainUnreachable()
		select {
		case <-r.stop:
			return
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

// drainUnreachable empties the queue, telling each sender its message
// could not be delivered.
func (r *remote) drainUnreachable() {
	for {
		select {
		case o := <-r.queue:
			o.done(false)
		default:
			return
		}
	}
}

// session connects, opens a stream and pumps the queue until it fails.
func (r *remote) session() error {
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(r.c.creds)}, r.c.dialOptions...)
	conn, err := grpc.NewClient(r.endpoint, opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := clusterpb.NewClusterClient(conn).Step(ctx)
	if err != nil {
		return err
	}
	// The other side announces in its response headers whether it takes
	// batches of forwarded envelopes; until they arrive, and with an older
	// orderer that does not, each envelope goes on its own.
	var batches atomic.Bool
	recvErr := make(chan error, 1)
	go func() {
		if md, err := stream.Header(); err == nil && len(md.Get(submitBatchHeader)) > 0 {
			batches.Store(true)
		}
		for {
			res, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if s, ok := res.Payload.(*clusterpb.StepResponse_Submit); ok {
				if id, h, ok := r.c.memberByEndpoint(s.Submit.Channel, r.endpoint); ok {
					h.OnSubmitResponse(id, s.Submit)
				}
			}
		}
	}()
	for {
		select {
		case <-r.stop:
			return nil
		case err := <-recvErr:
			return err
		case o := <-r.queue:
			if o.req.GetSubmit().GetEnvelopeBytes() != nil {
				if batches.Load() {
					if err := r.sendSubmits(stream, o); err != nil {
						return err
					}
					continue
				}
				o = legacySubmit(o)
			}
			if err := send(stream, o); err != nil {
				return err
			}
		}
	}
}

// legacySubmit is o, a forwarded envelope given as bytes, in the form an
// orderer that does not take batches expects: the envelope as a message,
// without what only batches carry.
func legacySubmit(o outbound) outbound {
	sub := o.req.GetSubmit()
	env := &commonpb.Envelope{}
	if err := unmarshalEnvelope(sub.EnvelopeBytes, env); err != nil {
		return o // admitted envelopes decode; the leader will refuse this one
	}
	o.req = &clusterpb.StepRequest{Payload: &clusterpb.StepRequest_Submit{Submit: &clusterpb.SubmitRequest{
		Channel: sub.Channel, ConfigSequence: sub.ConfigSequence, Envelope: env, RequestId: sub.RequestId,
	}}}
	return o
}

func send(stream clusterpb.Cluster_StepClient, o outbound) error {
	if err := stream.Send(o.req); err != nil {
		o.done(false)
		return err
	}
	o.done(true)
	return nil
}

// Limits of one SubmitBatch: forwarded envelopes go on their own messages
// beyond them (an envelope larger than maxBatchBytes alone).
const (
	maxBatchEnvelopes = 500
	maxBatchBytes     = 1 << 20
)

// sendSubmits sends first, a forwarded envelope, together with the
// forwarded envelopes of the same channel queued right behind it, as one
// SubmitBatch; the first message of another kind ends the batch and is
// sent after it, so that the queue's order is kept.
func (r *remote) sendSubmits(stream clusterpb.Cluster_StepClient, first outbound) error {
	channel := first.req.GetSubmit().GetChannel()
	batch := []outbound{first}
	size := len(first.req.GetSubmit().GetEnvelopeBytes())
	var after *outbound
gather:
	for len(batch) < maxBatchEnvelopes && size < maxBatchBytes {
		select {
		case o := <-r.queue:
			sub := o.req.GetSubmit()
			if sub.GetEnvelopeBytes() == nil || sub.GetChannel() != channel || size+len(sub.GetEnvelopeBytes()) > maxBatchBytes {
				after = &o
				break gather
			}
			batch = append(batch, o)
			size += len(sub.GetEnvelopeBytes())
		default:
			break gather
		}
	}
	var err error
	if len(batch) == 1 {
		err = send(stream, first) // tells first
	} else {
		reqs := make([]*clusterpb.SubmitRequest, len(batch))
		for i, o := range batch {
			reqs[i] = o.req.GetSubmit()
		}
		err = stream.Send(&clusterpb.StepRequest{Payload: &clusterpb.StepRequest_SubmitBatch{SubmitBatch: &clusterpb.SubmitBatch{Requests: reqs}}})
		for _, o := range batch {
			o.done(err == nil)
		}
	}
	if after == nil {
		return err
	}
	if err != nil {
		// after left the queue, so the session's drain will not see it:
		// its sender learns of the failure here.
		after.done(false)
		return err
	}
	return send(stream, *after)
}
