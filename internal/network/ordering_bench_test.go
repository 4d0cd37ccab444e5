package network_test

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/network"
	"github.com/chorusledger/chorus/internal/node/transport"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	benchClients = flag.Int("ordering.clients", 100, "concurrent Broadcast streams in BenchmarkOrdering")
	benchWindow  = flag.Int("ordering.window", 2, "envelopes in flight per stream in BenchmarkOrdering")
	benchTimeout = flag.Duration("ordering.batchtimeout", 20*time.Millisecond, "block cutter timeout in BenchmarkOrdering")
)

// BenchmarkOrdering measures the ordering service alone: three orderer
// processes on loopback with TLS, every envelope a realistic endorser
// transaction (about 3.5 KB, two endorsements) signed by an Org1 client
// and admitted by full checks (signature, Writers policy, size). Clients
// keep -ordering.clients streams with -ordering.window envelopes each in
// flight, spread over the three orderers; an envelope's latency runs from
// its send to its SUCCESS answer, which comes once its block is durable.
//
//	go test ./internal/network -run XXX -bench Ordering -benchtime 20000x
func BenchmarkOrdering(b *testing.B) {
	if testing.Short() {
		b.Skip("starts processes")
	}
	opts := network.Options{Orderers: 3, BatchTimeout: *benchTimeout, Dir: b.TempDir(), BasePort: freeBasePort(b, 180)}
	n, err := network.Generate(opts)
	if err != nil {
		b.Fatal(err)
	}
	n.Binary = chorusBinary
	b.Cleanup(func() {
		for _, nd := range n.Spec.Nodes {
			_ = n.Kill(nd)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	orderers := n.Nodes(network.RoleOrderer)
	for _, nd := range orderers {
		if _, err := n.Start(nd); err != nil {
			b.Fatal(err)
		}
	}
	for _, nd := range orderers {
		if err := n.Join(ctx, nd); err != nil {
			b.Fatal(err)
		}
	}
	if err := n.WaitReady(ctx, orderers); err != nil {
		b.Fatal(err)
	}

	// Envelopes are built and signed before the clock starts.
	mk := newEndorserTxMaker(b, n)
	envs := make([]*commonpb.Envelope, b.N)
	var size int
	for i := range envs {
		envs[i] = mk.next(b, n.Spec.Channel)
		size += len(envs[i].Payload) + len(envs[i].Signature)
	}

	ordererOrg, _ := n.Spec.Org("OrdererMSP")
	roots, err := transport.LoadCertPool(n.Path(ordererOrg.TLSCACert))
	if err != nil {
		b.Fatal(err)
	}
	creds := credentials.NewTLS(transport.ClientTLS(roots, nil))
	var conns []*grpc.ClientConn
	for _, o := range orderers {
		cc, err := grpc.NewClient(o.Address, append(transport.DialOptions(), grpc.WithTransportCredentials(creds))...)
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		conns = append(conns, cc)
	}

	latencies := make([]time.Duration, b.N)
	via := make([]int, b.N) // which orderer each envelope was sent to
	var failures sync.Map
	next := make(chan int, b.N)
	for i := range envs {
		next <- i
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < *benchClients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			stream, err := ordererpb.NewAtomicBroadcastClient(conns[c%len(conns)]).Broadcast(context.Background())
			if err != nil {
				failures.Store(-c-1, err.Error())
				return
			}
			sent := make(chan struct {
				i  int
				at time.Time
			}, *benchWindow)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for s := range sent {
					res, err := stream.Recv()
					if err != nil {
						failures.Store(s.i, err.Error())
						continue
					}
					latencies[s.i] = time.Since(s.at)
					if res.Status != commonpb.Status_SUCCESS {
						failures.Store(s.i, res.Status.String()+": "+res.Info)
					}
				}
			}()
			for i := range next {
				at := time.Now()
				via[i] = c % len(conns)
				if err := stream.Send(envs[i]); err != nil {
					failures.Store(i, err.Error())
					continue
				}
				sent <- struct {
					i  int
					at time.Time
				}{i, at}
			}
			close(sent)
			<-done
			stream.CloseSend()
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	nfail := 0
	var firstFailure any
	failures.Range(func(k, v any) bool {
		if nfail == 0 {
			firstFailure = v
		}
		nfail++
		return true
	})
	if nfail > 0 {
		b.Fatalf("%d of %d envelopes failed; first: %v", nfail, b.N, firstFailure)
	}
	var perOrderer []string
	for o := range conns {
		var ls []time.Duration
		for i, l := range latencies {
			if via[i] == o {
				ls = append(ls, l)
			}
		}
		slices.Sort(ls)
		if len(ls) > 0 {
			perOrderer = append(perOrderer, fmt.Sprintf("%s p50 %v p99 %v", orderers[o].Name, ls[len(ls)/2].Round(time.Millisecond), ls[len(ls)*99/100].Round(time.Millisecond)))
		}
	}
	fmt.Fprintf(os.Stderr, "ordering: by orderer: %v\n", perOrderer)
	slices.Sort(latencies)
	p := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "envelopes/s")
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(size)/float64(b.N), "bytes/envelope")
	fmt.Fprintf(os.Stderr, "ordering: %d envelopes of %d bytes in %v: %.0f envelopes/s, p50 %.1f ms, p99 %.1f ms (%d streams x %d in flight, batch timeout %v)\n",
		b.N, size/b.N, elapsed.Round(time.Millisecond), float64(b.N)/elapsed.Seconds(), p(0.5), p(0.99), *benchClients, *benchWindow, *benchTimeout)
}

// endorserTxMaker builds realistic endorser transactions: a proposal's
// headers, a read/write set with two writes, two endorsements by peers of
// Org1 and Org2, signed by an Org1 client.
type endorserTxMaker struct {
	client     *identity.SigningIdentity
	endorsers  [][]byte // serialized peer identities
	endorseSig []byte
}

func newEndorserTxMaker(tb testing.TB, n *network.Network) *endorserTxMaker {
	m := &endorserTxMaker{}
	org1, _ := n.Spec.Org("Org1MSP")
	cert, _ := os.ReadFile(n.Path(org1.ClientCert))
	key, _ := os.ReadFile(n.Path(org1.ClientKey))
	var err error
	if m.client, err = identity.LoadSigningIdentity("Org1MSP", cert, key); err != nil {
		tb.Fatal(err)
	}
	for _, p := range n.Nodes(network.RolePeer) {
		if len(m.endorsers) == 2 {
			break
		}
		pc, err := os.ReadFile(n.Path(p.Dir + "/msp/cert.pem"))
		if err != nil {
			tb.Fatal(err)
		}
		ser, _ := identity.Serialize(p.MSPID, pc)
		m.endorsers = append(m.endorsers, ser)
	}
	m.endorseSig = make([]byte, 71) // an ECDSA signature's size; the orderer does not check endorsements
	rand.Read(m.endorseSig)
	return m
}

func (m *endorserTxMaker) next(tb testing.TB, channel string) *commonpb.Envelope {
	nonce := make([]byte, 24)
	rand.Read(nonce)
	creator := m.client.Serialize()
	txID := envelope.TxID(nonce, creator)
	must := func(b []byte, err error) []byte {
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	ch := must(envelope.Marshal(&commonpb.ChannelHeader{
		Type: int32(commonpb.HeaderType_ENDORSER_TRANSACTION), ChannelId: channel, TxId: txID, Timestamp: timestamppb.Now(),
		Extension: must(envelope.Marshal(&peerpb.ChaincodeHeaderExtension{ChaincodeId: &peerpb.ChaincodeID{Name: "assets"}})),
	}))
	sh := must(envelope.Marshal(&commonpb.SignatureHeader{Creator: creator, Nonce: nonce}))
	value := make([]byte, 100)
	rand.Read(value)
	kv := must(envelope.Marshal(&kvrwsetpb.KVRWSet{
		Reads:  []*kvrwsetpb.KVRead{{Key: "asset-" + txID[:16]}},
		Writes: []*kvrwsetpb.KVWrite{{Key: "asset-" + txID[:16], Value: value}, {Key: "owner-" + txID[:16], Value: value[:32]}},
	}))
	rws := must(envelope.Marshal(&rwsetpb.TxReadWriteSet{NsRwset: []*rwsetpb.NsReadWriteSet{{Namespace: "assets", Rwset: kv}}}))
	ca := must(envelope.Marshal(&peerpb.ChaincodeAction{Results: rws, Response: &peerpb.Response{Status: 200}, ChaincodeId: &peerpb.ChaincodeID{Name: "assets", Version: "1"}}))
	prp := must(envelope.Marshal(&peerpb.ProposalResponsePayload{ProposalHash: nonce, Extension: ca}))
	input := must(envelope.Marshal(&peerpb.ChaincodeInvocationSpec{ChaincodeSpec: &peerpb.ChaincodeSpec{
		ChaincodeId: &peerpb.ChaincodeID{Name: "assets"},
		Input:       &peerpb.ChaincodeInput{Args: [][]byte{[]byte("CreateAsset"), []byte("asset-" + txID[:16]), []byte("blue"), []byte("5"), []byte("Tom"), []byte("100")}},
	}}))
	var ends []*peerpb.Endorsement
	for _, e := range m.endorsers {
		ends = append(ends, &peerpb.Endorsement{Endorser: e, Signature: m.endorseSig})
	}
	actionPayload := must(envelope.Marshal(&peerpb.ChaincodeActionPayload{
		ChaincodeProposalPayload: must(envelope.Marshal(&peerpb.ChaincodeProposalPayload{Input: input})),
		Action:                   &peerpb.ChaincodeEndorsedAction{ProposalResponsePayload: prp, Endorsements: ends},
	}))
	tx := must(envelope.Marshal(&peerpb.Transaction{Actions: []*peerpb.TransactionAction{{Header: sh, Payload: actionPayload}}}))
	payload := must(envelope.Marshal(&commonpb.Payload{Header: &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh}, Data: tx}))
	sig, err := m.client.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	return &commonpb.Envelope{Payload: payload, Signature: sig}
}
