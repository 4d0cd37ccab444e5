package orderer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
	clusterpb "github.com/chorusledger/chorus/proto/chorus/cluster"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// clusterNode is one orderer's side of the cluster in a test: its TLS
// identity and, when it serves, the address of its Cluster service.
type clusterNode struct {
	cert     tls.Certificate
	x509     *x509.Certificate
	roots    *x509.CertPool
	endpoint string
}

func newClusterNodes(t *testing.T, n int) []*clusterNode {
	t.Helper()
	ca, err := identity.NewCA("cluster-test-ca", "OrdererMSP", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		certPEM, keyPEM, err := ca.Issue(fmt.Sprintf("orderer%d", i), identity.RoleOrderer, time.Hour, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &clusterNode{cert: cert, x509: leaf, roots: roots}
	}
	return nodes
}

func (n *clusterNode) clientCreds() credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{n.cert}, RootCAs: n.roots, MinVersion: tls.VersionTLS12})
}

// serve runs srv, a Cluster service, for n with mutual TLS; recvs counts
// the StepRequest messages it receives.
func (n *clusterNode) serve(t *testing.T, srv clusterpb.ClusterServer, recvs *atomic.Int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{n.cert}, ClientCAs: n.roots,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	})
	count := func(s any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(s, countingStream{ss, recvs})
	}
	g := grpc.NewServer(grpc.Creds(creds), grpc.StreamInterceptor(count))
	clusterpb.RegisterClusterServer(g, srv)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	n.endpoint = lis.Addr().String()
}

type countingStream struct {
	grpc.ServerStream
	recvs *atomic.Int64
}

func (s countingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.recvs.Add(1)
	}
	return err
}

// submitRecorder is the leader's side of a channel: it records the
// envelopes forwarded to it, in order.
type submitRecorder struct {
	mu   sync.Mutex
	reqs []*clusterpb.SubmitRequest
	// consensusAt is, for each consensus message, how many envelopes had
	// arrived before it.
	consensusAt []int
}

func (r *submitRecorder) OnConsensus(uint64, []byte) {
	r.mu.Lock()
	r.consensusAt = append(r.consensusAt, len(r.reqs))
	r.mu.Unlock()
}
func (r *submitRecorder) OnSubmit(_ uint64, req *clusterpb.SubmitRequest, _ func(*clusterpb.SubmitResponse)) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
}
func (r *submitRecorder) OnSubmitResponse(uint64, *clusterpb.SubmitResponse) {}

func (r *submitRecorder) received() []*clusterpb.SubmitRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*clusterpb.SubmitRequest(nil), r.reqs...)
}

// forwardedEnvelope is envelope i as chain.route forwards it.
func forwardedEnvelope(t *testing.T, i int) *clusterpb.StepRequest {
	t.Helper()
	raw, err := proto.Marshal(&commonpb.Envelope{Payload: []byte(fmt.Sprintf("payload %d", i)), Signature: []byte{byte(i)}})
	if err != nil {
		t.Fatal(err)
	}
	return &clusterpb.StepRequest{Payload: &clusterpb.StepRequest_Submit{Submit: &clusterpb.SubmitRequest{
		Channel: "mychannel", ConfigSequence: 3, RequestId: uint64(i + 1),
		EnvelopeBytes: raw, TxId: fmt.Sprintf("tx%d", i),
	}}}
}

func waitForCount(t *testing.T, what string, want int, got func() int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for got() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d within 20 s", what, got(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClusterBatchesForwardedEnvelopes: envelopes queued for a leader
// that announces batches travel several to a message, every one of them
// delivered once, in the order sent, with its bytes and what its admission
// read; a consensus message queued among them keeps its place.
func TestClusterBatchesForwardedEnvelopes(t *testing.T) {
	nodes := newClusterNodes(t, 2)
	follower, leader := nodes[0], nodes[1]
	var recvs atomic.Int64
	leaderCluster := NewCluster(leader.clientCreds(), nil, slog.New(slog.DiscardHandler))
	defer leaderCluster.Close()
	recorder := &submitRecorder{}
	leader.serve(t, leaderCluster, &recvs)
	leaderCluster.Register("mychannel", 2, []Member{{ID: 1, Endpoint: "127.0.0.1:1", TLSCert: follower.x509}}, recorder)

	followerCluster := NewCluster(follower.clientCreds(), nil, slog.New(slog.DiscardHandler))
	defer followerCluster.Close()
	followerCluster.Register("mychannel", 1, []Member{{ID: 2, Endpoint: leader.endpoint, TLSCert: leader.x509}}, &submitRecorder{})

	// The first envelope opens the link; the rest are queued at once.
	const n = 3000
	if err := followerCluster.Send("mychannel", 2, forwardedEnvelope(t, 0), nil); err != nil {
		t.Fatal(err)
	}
	waitForCount(t, "first envelope", 1, func() int { return len(recorder.received()) })
	var delivered atomic.Int64
	const consensusAfter = n / 2
	for i := 1; i < n; i++ {
		if i == consensusAfter {
			raftMsg := &clusterpb.StepRequest{Payload: &clusterpb.StepRequest_Consensus{Consensus: &clusterpb.ConsensusRequest{Channel: "mychannel", Payload: []byte("raft")}}}
			if err := followerCluster.Send("mychannel", 2, raftMsg, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := followerCluster.Send("mychannel", 2, forwardedEnvelope(t, i), func(ok bool) {
			if ok {
				delivered.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitForCount(t, "forwarded envelopes", n, func() int { return len(recorder.received()) })
	got := recorder.received()
	legacyForm := 0
	for i, req := range got {
		want := forwardedEnvelope(t, i).GetSubmit()
		if req.EnvelopeBytes == nil {
			// Sent before the leader's headers arrived (the first, at
			// least): as a message, the form every orderer takes.
			legacyForm++
			raw, err := marshalEnvelope(req.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			req = proto.CloneOf(req)
			req.Envelope, req.EnvelopeBytes, req.TxId = nil, raw, want.TxId
		}
		if !proto.Equal(req, want) {
			t.Fatalf("envelope %d arrived as %v, want %v", i, req, want)
		}
	}
	t.Logf("%d envelopes went as messages, before the leader's headers came", legacyForm)
	recorder.mu.Lock()
	at := append([]int(nil), recorder.consensusAt...)
	recorder.mu.Unlock()
	if len(at) != 1 || at[0] != consensusAfter {
		t.Errorf("the consensus message arrived after %v envelopes, want once after %d", at, consensusAfter)
	}
	if d := delivered.Load(); d != n-1 {
		t.Errorf("%d senders told their envelope was delivered, want %d", d, n-1)
	}
	if m := recvs.Load(); m >= n/2 {
		t.Errorf("%d envelopes came in %d messages: not batched", n, m)
	} else {
		t.Logf("%d envelopes came in %d messages", n, m)
	}
}

// legacyCluster is the Cluster service of an orderer from before
// SubmitBatch: it sends no response header and takes forwarded envelopes
// as messages only.
type legacyCluster struct {
	clusterpb.UnimplementedClusterServer
	mu       sync.Mutex
	envs     []*commonpb.Envelope
	problems []string
}

func (l *legacyCluster) Step(stream clusterpb.Cluster_StepServer) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		l.mu.Lock()
		switch {
		case req.GetSubmitBatch() != nil:
			l.problems = append(l.problems, "a SubmitBatch")
		case req.GetSubmit().GetEnvelope() == nil:
			l.problems = append(l.problems, "a submit without its envelope message")
		case req.GetSubmit().GetEnvelopeBytes() != nil:
			l.problems = append(l.problems, "a submit with envelope bytes")
		default:
			l.envs = append(l.envs, req.GetSubmit().GetEnvelope())
		}
		l.mu.Unlock()
	}
}

// TestClusterForwardsToAnOlderOrderer: to an orderer that does not announce
// batches, every forwarded envelope goes on its own, as the envelope
// message that orderer expects.
func TestClusterForwardsToAnOlderOrderer(t *testing.T) {
	nodes := newClusterNodes(t, 2)
	follower, leader := nodes[0], nodes[1]
	var recvs atomic.Int64
	legacy := &legacyCluster{}
	leader.serve(t, legacy, &recvs)
	followerCluster := NewCluster(follower.clientCreds(), nil, slog.New(slog.DiscardHandler))
	defer followerCluster.Close()
	followerCluster.Register("mychannel", 1, []Member{{ID: 2, Endpoint: leader.endpoint, TLSCert: leader.x509}}, &submitRecorder{})
	const n = 500
	for i := range n {
		if err := followerCluster.Send("mychannel", 2, forwardedEnvelope(t, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	waitForCount(t, "forwarded envelopes", n, func() int {
		legacy.mu.Lock()
		defer legacy.mu.Unlock()
		return len(legacy.envs) + len(legacy.problems)
	})
	legacy.mu.Lock()
	defer legacy.mu.Unlock()
	if len(legacy.problems) > 0 {
		t.Fatalf("the older orderer received %s (and %d more problems)", legacy.problems[0], len(legacy.problems)-1)
	}
	for i, env := range legacy.envs {
		want := &commonpb.Envelope{}
		if err := proto.Unmarshal(forwardedEnvelope(t, i).GetSubmit().EnvelopeBytes, want); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(env, want) {
			t.Fatalf("envelope %d arrived as %v, want %v", i, env, want)
		}
	}
}

// failingStream is a Step stream whose every send fails, as a broken link's.
type failingStream struct {
	clusterpb.Cluster_StepClient
}

func (failingStream) Send(*clusterpb.StepRequest) error { return errors.New("link broken") }

// TestSendSubmitsTellsEverySenderOfAFailure: when the link breaks while a
// batch is sent, every message taken from the queue for it, the message of
// another kind that ended the batch included, is reported undelivered
// exactly once.
func TestSendSubmitsTellsEverySenderOfAFailure(t *testing.T) {
	for _, envelopes := range []int{1, 3} {
		r := &remote{queue: make(chan outbound, 16)}
		calls := make(map[string][]bool)
		tell := func(name string) func(bool) {
			return func(ok bool) { calls[name] = append(calls[name], ok) }
		}
		first := outbound{req: forwardedEnvelope(t, 0), onDone: tell("envelope 0")}
		for i := 1; i < envelopes; i++ {
			r.queue <- outbound{req: forwardedEnvelope(t, i), onDone: tell(fmt.Sprintf("envelope %d", i))}
		}
		raftMsg := &clusterpb.StepRequest{Payload: &clusterpb.StepRequest_Consensus{Consensus: &clusterpb.ConsensusRequest{Channel: "mychannel"}}}
		r.queue <- outbound{req: raftMsg, onDone: tell("consensus")}
		if err := r.sendSubmits(failingStream{}, first); err == nil {
			t.Fatal("a broken link sent a batch")
		}
		want := envelopes + 1
		if len(calls) != want {
			t.Errorf("%d envelopes: %d senders told, want %d: %v", envelopes, len(calls), want, calls)
		}
		for name, c := range calls {
			if len(c) != 1 || c[0] {
				t.Errorf("%d envelopes: %s told %v, want [false]", envelopes, name, c)
			}
		}
		if len(r.queue) != 0 {
			t.Errorf("%d messages left in the queue", len(r.queue))
		}
	}
}
