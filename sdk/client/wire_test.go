package client

// These tests check what the client puts on the wire against a minimal
// Gateway server written here, on 127.0.0.1 with TLS. The server checks and
// records what it receives (every signature is verified with the standard
// library, every field compared with what Fabric's clients send) and answers
// the least a Gateway must. It checks the client, not a Chorus peer.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

const bigResultSize = 5 << 20 // above gRPC's 4 MiB default receive limit

// recordingGateway is the test's Gateway server.
type recordingGateway struct {
	gatewaypb.UnimplementedGatewayServer

	mu            sync.Mutex
	calls         []string // "Method txID", in order
	evaluates     []*gatewaypb.EvaluateRequest
	endorses      []*gatewaypb.EndorseRequest
	statusReqs    []*gatewaypb.CommitStatusRequest
	eventsReqs    []*gatewaypb.ChaincodeEventsRequest
	prepared      map[string][]byte // tx id → payload returned by Endorse
	submitted     map[string]bool
	functions     map[string]string // tx id → function name
	proposalInput map[string][][]byte
	transient     map[string]map[string][]byte
}

func newRecordingGateway() *recordingGateway {
	return &recordingGateway{
		prepared:      map[string][]byte{},
		submitted:     map[string]bool{},
		functions:     map[string]string{},
		proposalInput: map[string][][]byte{},
		transient:     map[string]map[string][]byte{},
	}
}

func (g *recordingGateway) record(call string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, call)
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "test gateway: "+format, args...)
}

// strictUnmarshal decodes b into m and refuses unknown fields.
func strictUnmarshal(b []byte, m proto.Message) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return err
	}
	if len(m.ProtoReflect().GetUnknown()) != 0 {
		return fmt.Errorf("%T has unknown fields", m)
	}
	return nil
}

// checkedProposal is what checkProposal read from a signed proposal.
type checkedProposal struct {
	headerBytes []byte
	creator     []byte
	chaincode   string
	args        [][]byte
	transient   map[string][]byte
}

// checkProposal does what a Fabric endorser does with a proposal before
// running it: decode every level, check the transaction id and the
// signature, and compare the request's fields with the proposal's.
func checkProposal(sp *peerpb.SignedProposal, txID, channel string) (*checkedProposal, error) {
	var prop peerpb.Proposal
	var header commonpb.Header
	var ch commonpb.ChannelHeader
	var sh commonpb.SignatureHeader
	var ext peerpb.ChaincodeHeaderExtension
	var payload peerpb.ChaincodeProposalPayload
	var cis peerpb.ChaincodeInvocationSpec
	// Each step reads bytes the previous one decoded.
	for _, step := range []struct {
		b func() []byte
		m proto.Message
	}{
		{sp.GetProposalBytes, &prop}, {prop.GetHeader, &header}, {header.GetChannelHeader, &ch},
		{header.GetSignatureHeader, &sh}, {ch.GetExtension, &ext}, {prop.GetPayload, &payload}, {payload.GetInput, &cis},
	} {
		if err := strictUnmarshal(step.b(), step.m); err != nil {
			return nil, invalid("decoding %T: %v", step.m, err)
		}
	}
	sum := sha256.Sum256(append(slices.Clone(sh.GetNonce()), sh.GetCreator()...))
	switch {
	case len(sh.GetNonce()) != 24:
		return nil, invalid("nonce of %d bytes", len(sh.GetNonce()))
	case ch.GetTxId() != hex.EncodeToString(sum[:]):
		return nil, invalid("tx id %s is not hex(sha256(nonce ‖ creator))", ch.GetTxId())
	case ch.GetTxId() != txID:
		return nil, invalid("request tx id %s, proposal tx id %s", txID, ch.GetTxId())
	case ch.GetChannelId() != channel || channel == "":
		return nil, invalid("request channel %q, proposal channel %q", channel, ch.GetChannelId())
	case ch.GetType() != int32(commonpb.HeaderType_ENDORSER_TRANSACTION) || ch.GetEpoch() != 0:
		return nil, invalid("channel header type %d epoch %d", ch.GetType(), ch.GetEpoch())
	case time.Since(ch.GetTimestamp().AsTime()).Abs() > time.Minute:
		return nil, invalid("timestamp %v is not now", ch.GetTimestamp().AsTime())
	case ext.GetChaincodeId().GetName() == "" || ext.GetChaincodeId().GetName() != cis.GetChaincodeSpec().GetChaincodeId().GetName():
		return nil, invalid("chaincode names %q and %q", ext.GetChaincodeId().GetName(), cis.GetChaincodeSpec().GetChaincodeId().GetName())
	case len(cis.GetChaincodeSpec().GetInput().GetArgs()) == 0:
		return nil, invalid("no function name")
	}
	if err := verifyFabricSignature(sh.GetCreator(), sp.GetProposalBytes(), sp.GetSignature()); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "test gateway: proposal signature: %v", err)
	}
	return &checkedProposal{
		headerBytes: prop.GetHeader(),
		creator:     sh.GetCreator(),
		chaincode:   ext.GetChaincodeId().GetName(),
		args:        cis.GetChaincodeSpec().GetInput().GetArgs(),
		transient:   payload.GetTransientMap(),
	}, nil
}

func failureStatus(code codes.Code, message string) error {
	st, err := status.New(code, message).WithDetails(
		&gatewaypb.ErrorDetail{Address: "peer0.org1:7401", MspId: "Org1MSP", Message: "chaincode response 500, asset asset1 already exists"},
		&gatewaypb.ErrorDetail{Address: "peer0.org2:7411", MspId: "Org2MSP", Message: "chaincode response 500, asset asset1 already exists"},
	)
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return st.Err()
}

func (g *recordingGateway) Evaluate(ctx context.Context, req *gatewaypb.EvaluateRequest) (*gatewaypb.EvaluateResponse, error) {
	g.record("Evaluate " + req.GetTransactionId())
	p, err := checkProposal(req.GetProposedTransaction(), req.GetTransactionId(), req.GetChannelId())
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.evaluates = append(g.evaluates, req)
	g.mu.Unlock()
	var payload []byte
	switch fn := string(p.args[0]); fn {
	case "Fail":
		return nil, failureStatus(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, asset asset1 already exists")
	case "Big":
		payload = bytes.Repeat([]byte{'x'}, bigResultSize)
	default:
		payload = []byte("evaluated " + string(bytes.Join(p.args, []byte(" "))))
	}
	return &gatewaypb.EvaluateResponse{Result: &peerpb.Response{Status: 200, Payload: payload}}, nil
}

func (g *recordingGateway) Endorse(ctx context.Context, req *gatewaypb.EndorseRequest) (*gatewaypb.EndorseResponse, error) {
	txID := req.GetTransactionId()
	g.record("Endorse " + txID)
	p, err := checkProposal(req.GetProposedTransaction(), txID, req.GetChannelId())
	if err != nil {
		return nil, err
	}
	fn := string(p.args[0])
	if fn == "Fail" {
		return nil, failureStatus(codes.Aborted, "failed to endorse transaction, see attached details for more info")
	}
	header := p.headerBytes
	if fn == "Tamper" { // a Gateway that prepares another transaction than proposed
		header, err = marshal(&commonpb.Header{
			ChannelHeader:   mustMarshalErr(&commonpb.ChannelHeader{Type: 3, ChannelId: req.GetChannelId(), TxId: "another"}),
			SignatureHeader: []byte("x"),
		})
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	payload, err := preparedPayload(header, p.chaincode, &peerpb.Response{Status: 200, Message: "OK", Payload: []byte("endorsed " + fn)})
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endorses = append(g.endorses, req)
	g.prepared[txID] = payload
	g.functions[txID] = fn
	g.proposalInput[txID] = p.args
	g.transient[txID] = p.transient
	return &gatewaypb.EndorseResponse{PreparedTransaction: &commonpb.Envelope{Payload: payload}}, nil
}

func mustMarshalErr(m proto.Message) []byte {
	b, err := marshal(m)
	if err != nil {
		panic(err) // test messages always marshal
	}
	return b
}

func (g *recordingGateway) Submit(ctx context.Context, req *gatewaypb.SubmitRequest) (*gatewaypb.SubmitResponse, error) {
	txID := req.GetTransactionId()
	g.record("Submit " + txID)
	env := req.GetPreparedTransaction()
	g.mu.Lock()
	sent, ok := g.prepared[txID]
	g.mu.Unlock()
	switch {
	case !ok:
		return nil, invalid("submit of unknown transaction %s", txID)
	case !bytes.Equal(env.GetPayload(), sent):
		return nil, invalid("the envelope payload differs from the prepared payload")
	case len(env.GetSignature()) == 0:
		return nil, invalid("prepared transaction must be signed")
	}
	var payload commonpb.Payload
	var ch commonpb.ChannelHeader
	var sh commonpb.SignatureHeader
	if strictUnmarshal(env.GetPayload(), &payload) != nil || strictUnmarshal(payload.GetHeader().GetChannelHeader(), &ch) != nil ||
		strictUnmarshal(payload.GetHeader().GetSignatureHeader(), &sh) != nil {
		return nil, invalid("undecodable envelope")
	}
	if ch.GetChannelId() != req.GetChannelId() || ch.GetTxId() != txID {
		return nil, invalid("request channel %q tx %s, envelope channel %q tx %s", req.GetChannelId(), txID, ch.GetChannelId(), ch.GetTxId())
	}
	if err := verifyFabricSignature(sh.GetCreator(), env.GetPayload(), env.GetSignature()); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "test gateway: envelope signature: %v", err)
	}
	g.mu.Lock()
	g.submitted[txID] = true
	g.mu.Unlock()
	return &gatewaypb.SubmitResponse{}, nil
}

func (g *recordingGateway) CommitStatus(ctx context.Context, signed *gatewaypb.SignedCommitStatusRequest) (*gatewaypb.CommitStatusResponse, error) {
	var req gatewaypb.CommitStatusRequest
	if err := strictUnmarshal(signed.GetRequest(), &req); err != nil {
		return nil, invalid("commit status request: %v", err)
	}
	g.record("CommitStatus " + req.GetTransactionId())
	if req.GetChannelId() == "" || req.GetTransactionId() == "" || len(req.GetIdentity()) == 0 {
		return nil, invalid("incomplete commit status request")
	}
	if err := verifyFabricSignature(req.GetIdentity(), signed.GetRequest(), signed.GetSignature()); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "test gateway: commit status signature: %v", err)
	}
	g.mu.Lock()
	g.statusReqs = append(g.statusReqs, &req)
	submitted, fn := g.submitted[req.GetTransactionId()], g.functions[req.GetTransactionId()]
	g.mu.Unlock()
	if !submitted || fn == "Hang" {
		<-ctx.Done() // as Fabric: wait for a commit that does not come
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if fn == "Conflict" {
		return &gatewaypb.CommitStatusResponse{Result: peerpb.TxValidationCode_MVCC_READ_CONFLICT, BlockNumber: 7}, nil
	}
	return &gatewaypb.CommitStatusResponse{Result: peerpb.TxValidationCode_VALID, BlockNumber: 5}, nil
}

func (g *recordingGateway) ChaincodeEvents(signed *gatewaypb.SignedChaincodeEventsRequest, stream gatewaypb.Gateway_ChaincodeEventsServer) error {
	var req gatewaypb.ChaincodeEventsRequest
	if err := strictUnmarshal(signed.GetRequest(), &req); err != nil {
		return invalid("chaincode events request: %v", err)
	}
	g.record("ChaincodeEvents " + req.GetChaincodeId())
	if err := verifyFabricSignature(req.GetIdentity(), signed.GetRequest(), signed.GetSignature()); err != nil {
		return status.Errorf(codes.PermissionDenied, "test gateway: events signature: %v", err)
	}
	g.mu.Lock()
	g.eventsReqs = append(g.eventsReqs, &req)
	g.mu.Unlock()
	if req.GetChaincodeId() == "forbidden" {
		return status.Error(codes.PermissionDenied, "access denied: channel [mychannel] creator org [Org1MSP]")
	}
	cc := req.GetChaincodeId()
	for _, resp := range []*gatewaypb.ChaincodeEventsResponse{
		{BlockNumber: 5, Events: []*peerpb.ChaincodeEvent{
			{ChaincodeId: cc, TxId: "tx5a", EventName: "CreateAsset", Payload: []byte(`{"ID":"a1"}`)},
			{ChaincodeId: cc, TxId: "tx5b", EventName: "TransferAsset", Payload: []byte(`{"ID":"a1","Owner":"Ann"}`)},
		}},
		{BlockNumber: 6, Events: []*peerpb.ChaincodeEvent{
			{ChaincodeId: cc, TxId: "tx6", EventName: "DeleteAsset"},
		}},
	} {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	<-stream.Context().Done() // the stream never ends by itself
	return nil
}

// testNetwork is a recordingGateway served with TLS on 127.0.0.1 and a
// client profile to reach it.
type testNetwork struct {
	gateway *recordingGateway
	client  *testClient
	profile string // path of the profile file
	dir     string
}

func startTestNetwork(t *testing.T) *testNetwork {
	t.Helper()
	dir := t.TempDir()
	orgCA := newTestCA(t, "ca.org1.example.com")
	tlsCA := newTestCA(t, "tlsca.org1.example.com")
	c := newTestClient(t, orgCA, "Org1MSP")

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The certificate names the peer, not 127.0.0.1: the profile's
	// serverName makes the client accept it.
	serverCert, err := tls.X509KeyPair(tlsCA.issue(t, "peer0.org1.example.com", &serverKey.PublicKey, "peer0.org1.example.com"), pkcs8PEM(t, serverKey))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12})),
		grpc.MaxSendMsgSize(MaxMessageSize),
	)
	gw := newRecordingGateway()
	gatewaypb.RegisterGatewayServer(srv, gw)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	writeFile(t, filepath.Join(dir, "msp", "signcerts", "cert.pem"), c.id.Certificate)
	writeFile(t, filepath.Join(dir, "msp", "keystore", "key.pem"), c.keyPEM)
	writeFile(t, filepath.Join(dir, "tls", "ca.pem"), tlsCA.certPEM)
	profile := writeFile(t, filepath.Join(dir, "profiles", "Org1MSP.json"), fmt.Appendf(nil, `{
		"mspId": "Org1MSP",
		"certPath": "../msp/signcerts/cert.pem",
		"keyPath": "../msp/keystore/key.pem",
		"endpoint": %q,
		"tlsRootCertPath": "../tls/ca.pem",
		"serverName": "peer0.org1.example.com",
		"channel": "mychannel"
	}`, lis.Addr().String()))
	return &testNetwork{gateway: gw, client: c, profile: profile, dir: dir}
}

func (n *testNetwork) connect(t *testing.T, opts ...Option) *Gateway {
	t.Helper()
	gw, err := Connect(n.profile, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw
}

// callsFor returns the calls the server saw for txID, in order.
func (n *testNetwork) callsFor(txID string) []string {
	n.gateway.mu.Lock()
	defer n.gateway.mu.Unlock()
	var out []string
	for _, c := range n.gateway.calls {
		if method, id, _ := strings.Cut(c, " "); id == txID {
			out = append(out, method)
		}
	}
	return out
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWireEvaluate(t *testing.T) {
	n := startTestNetwork(t)
	gw := n.connect(t)
	ctx := testContext(t)
	if gw.DefaultChannel() != "mychannel" {
		t.Fatalf("DefaultChannel = %q", gw.DefaultChannel())
	}
	assets := gw.Network(gw.DefaultChannel()).Contract("assets")
	got, err := assets.Evaluate(ctx, "ReadAsset", "asset1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "evaluated ReadAsset asset1" {
		t.Fatalf("result %q", got)
	}
	n.gateway.mu.Lock()
	req := n.gateway.evaluates[0]
	n.gateway.mu.Unlock()
	if req.GetChannelId() != "mychannel" || len(req.GetTargetOrganizations()) != 0 {
		t.Fatalf("evaluate request channel %q targets %v", req.GetChannelId(), req.GetTargetOrganizations())
	}

	// Target organizations travel with Evaluate.
	p, err := assets.NewProposal("ReadAsset", []string{"asset2"}, WithEndorsingOrganizations("Org2MSP"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	n.gateway.mu.Lock()
	req = n.gateway.evaluates[1]
	n.gateway.mu.Unlock()
	if req.GetTransactionId() != p.TransactionID() || !slices.Equal(req.GetTargetOrganizations(), []string{"Org2MSP"}) {
		t.Fatalf("evaluate request tx %s targets %v", req.GetTransactionId(), req.GetTargetOrganizations())
	}

	// Results above gRPC's default 4 MiB arrive.
	big, err := assets.Evaluate(ctx, "Big")
	if err != nil {
		t.Fatal(err)
	}
	if len(big) != bigResultSize {
		t.Fatalf("big result of %d bytes, want %d", len(big), bigResultSize)
	}

	// A contract error comes back as a GatewayError with the details of
	// the status trailer.
	_, err = assets.Evaluate(ctx, "Fail", "asset1")
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.Code != codes.Unknown || len(ge.Details) != 2 ||
		ge.Details[1] != (ErrorDetail{Address: "peer0.org2:7411", MSPID: "Org2MSP", Message: "chaincode response 500, asset asset1 already exists"}) {
		t.Fatalf("error %#v", err)
	}
	if !strings.Contains(err.Error(), "asset asset1 already exists") {
		t.Fatalf("error %q lacks the details", err)
	}
}

func TestWireSubmit(t *testing.T) {
	n := startTestNetwork(t)
	gw := n.connect(t)
	ctx := testContext(t)
	assets := gw.Network("mychannel").Contract("assets")

	result, err := assets.Submit(ctx, "CreateAsset", "asset1", "blue", "5", "Tom", "300")
	if err != nil {
		t.Fatal(err)
	}
	if string(result) != "endorsed CreateAsset" {
		t.Fatalf("result %q", result)
	}
	n.gateway.mu.Lock()
	endorse := n.gateway.endorses[0]
	statusReq := n.gateway.statusReqs[0]
	args := n.gateway.proposalInput[endorse.GetTransactionId()]
	n.gateway.mu.Unlock()
	txID := endorse.GetTransactionId()
	if got := n.callsFor(txID); !slices.Equal(got, []string{"Endorse", "Submit", "CommitStatus"}) {
		t.Fatalf("calls for %s: %v", txID, got)
	}
	if len(endorse.GetEndorsingOrganizations()) != 0 {
		t.Errorf("endorsing organizations %v sent without being asked", endorse.GetEndorsingOrganizations())
	}
	wantArgs := []string{"CreateAsset", "asset1", "blue", "5", "Tom", "300"}
	if !slices.EqualFunc(args, wantArgs, func(a []byte, b string) bool { return string(a) == b }) {
		t.Errorf("args %q, want %q", args, wantArgs)
	}
	if statusReq.GetTransactionId() != txID || statusReq.GetChannelId() != "mychannel" || !bytes.Equal(statusReq.GetIdentity(), n.client.creator) {
		t.Errorf("commit status request %v", statusReq)
	}

	// A committed but invalid transaction.
	_, err = assets.Submit(ctx, "Conflict", "asset1")
	var ce *CommitError
	if !errors.As(err, &ce) || ce.Code != 11 || ce.CodeName != "MVCC_READ_CONFLICT" || ce.BlockNumber != 7 || len(ce.TransactionID) != 64 {
		t.Fatalf("error %#v, want a CommitError for MVCC_READ_CONFLICT", err)
	}

	// A failed endorsement: an EndorseError with the transaction id and the
	// details; nothing is submitted.
	_, err = assets.Submit(ctx, "Fail", "asset1")
	var ee *EndorseError
	if !errors.As(err, &ee) || ee.Err.Code != codes.Aborted || len(ee.Err.Details) != 2 {
		t.Fatalf("error %#v, want an EndorseError", err)
	}
	if got := n.callsFor(ee.TransactionID); !slices.Equal(got, []string{"Endorse"}) {
		t.Fatalf("calls for the failed transaction: %v", got)
	}
	if !strings.Contains(err.Error(), ee.TransactionID) || !strings.Contains(err.Error(), "Org1MSP at peer0.org1:7401") {
		t.Fatalf("error %q lacks the transaction id or the details", err)
	}

	// A Gateway that prepares another transaction gets no signature.
	_, err = assets.Submit(ctx, "Tamper")
	if err == nil || !strings.Contains(err.Error(), "prepared transaction another") {
		t.Fatalf("tampered transaction: error %v", err)
	}
	n.gateway.mu.Lock()
	submits := len(n.gateway.submitted)
	n.gateway.mu.Unlock()
	if submits != 2 {
		t.Fatalf("%d transactions submitted, want 2 (CreateAsset, Conflict)", submits)
	}
}

func TestWireStepByStep(t *testing.T) {
	n := startTestNetwork(t)
	gw := n.connect(t)
	ctx := testContext(t)
	assets := gw.Network("mychannel").Contract("assets")

	transient := map[string][]byte{"asset_properties": []byte(`{"size":5}`)}
	p, err := assets.NewProposal("CreateAsset", []string{"asset7"}, WithTransient(transient), WithEndorsingOrganizations("Org1MSP", "Org2MSP"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := p.Endorse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tx.TransactionID() != p.TransactionID() || string(tx.Result()) != "endorsed CreateAsset" {
		t.Fatalf("transaction %s result %q", tx.TransactionID(), tx.Result())
	}
	n.gateway.mu.Lock()
	endorse := n.gateway.endorses[0]
	gotTransient := n.gateway.transient[p.TransactionID()]
	n.gateway.mu.Unlock()
	if !slices.Equal(endorse.GetEndorsingOrganizations(), []string{"Org1MSP", "Org2MSP"}) || endorse.GetChannelId() != "mychannel" {
		t.Fatalf("endorse request orgs %v channel %q", endorse.GetEndorsingOrganizations(), endorse.GetChannelId())
	}
	if !bytes.Equal(gotTransient["asset_properties"], transient["asset_properties"]) {
		t.Fatalf("transient map %v", gotTransient)
	}
	commit, err := tx.Submit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second answer comes from the cache
		st, err := commit.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := Status{Code: 0, CodeName: "VALID", BlockNumber: 5, TransactionID: p.TransactionID(), Successful: true}
		if *st != want {
			t.Fatalf("status %+v, want %+v", *st, want)
		}
	}
	if got := n.callsFor(p.TransactionID()); !slices.Equal(got, []string{"Endorse", "Submit", "CommitStatus"}) {
		t.Fatalf("calls: %v", got)
	}

	// SubmitAsync returns before the commit.
	result, commit, err := assets.SubmitAsync(ctx, "TransferAsset", "asset7", "Ann")
	if err != nil {
		t.Fatal(err)
	}
	if string(result) != "endorsed TransferAsset" {
		t.Fatalf("result %q", result)
	}
	if got := n.callsFor(commit.TransactionID()); !slices.Equal(got, []string{"Endorse", "Submit"}) {
		t.Fatalf("calls before Status: %v", got)
	}
	if st, err := commit.Status(ctx); err != nil || !st.Successful {
		t.Fatalf("status %+v, %v", st, err)
	}
}

func TestWireCommitStatusTimeout(t *testing.T) {
	n := startTestNetwork(t)
	gw := n.connect(t, WithCommitStatusTimeout(100*time.Millisecond))
	ctx := testContext(t)
	_, err := gw.Network("mychannel").Contract("assets").Submit(ctx, "Hang")
	var cse *CommitStatusError
	if !errors.As(err, &cse) || cse.Err.Code != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %#v, want a CommitStatusError matching context.DeadlineExceeded", err)
	}
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("status.Code = %v", status.Code(err))
	}
}

func TestWireChaincodeEvents(t *testing.T) {
	n := startTestNetwork(t)
	gw := n.connect(t)
	network := gw.Network("mychannel")

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	events, eventsErr, err := network.ChaincodeEvents(ctx, "assets", WithStartBlock(5), WithAfterTransaction("tx4"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ChaincodeEvent{
		{BlockNumber: 5, TransactionID: "tx5a", ChaincodeName: "assets", EventName: "CreateAsset", Payload: []byte(`{"ID":"a1"}`)},
		{BlockNumber: 5, TransactionID: "tx5b", ChaincodeName: "assets", EventName: "TransferAsset", Payload: []byte(`{"ID":"a1","Owner":"Ann"}`)},
		{BlockNumber: 6, TransactionID: "tx6", ChaincodeName: "assets", EventName: "DeleteAsset"},
	}
	for i, w := range want {
		ev, ok := <-events
		if !ok {
			t.Fatalf("events closed after %d events: %v", i, eventsErr())
		}
		if ev.BlockNumber != w.BlockNumber || ev.TransactionID != w.TransactionID || ev.ChaincodeName != w.ChaincodeName ||
			ev.EventName != w.EventName || !bytes.Equal(ev.Payload, w.Payload) {
			t.Fatalf("event %d = %+v, want %+v", i, ev, w)
		}
	}
	cancel()
	for range events {
	}
	if err := eventsErr(); !errors.Is(err, context.Canceled) {
		t.Fatalf("terminal error %v, want context.Canceled", err)
	}

	n.gateway.mu.Lock()
	req := n.gateway.eventsReqs[0]
	n.gateway.mu.Unlock()
	if req.GetChannelId() != "mychannel" || req.GetChaincodeId() != "assets" || !bytes.Equal(req.GetIdentity(), n.client.creator) ||
		req.GetStartPosition().GetSpecified().GetNumber() != 5 || req.GetAfterTransactionId() != "tx4" {
		t.Fatalf("events request %v", req)
	}

	// By default the events start at the next commit.
	ctx2, cancel2 := context.WithCancel(testContext(t))
	events, eventsErr, err = network.ChaincodeEvents(ctx2, "assets")
	if err != nil {
		t.Fatal(err)
	}
	<-events
	cancel2()
	for range events {
	}
	if err := eventsErr(); !errors.Is(err, context.Canceled) {
		t.Fatalf("terminal error %v", err)
	}
	n.gateway.mu.Lock()
	req = n.gateway.eventsReqs[1]
	n.gateway.mu.Unlock()
	if _, ok := req.GetStartPosition().GetType().(*ordererpb.SeekPosition_NextCommit); !ok || req.GetAfterTransactionId() != "" {
		t.Fatalf("default start position %v", req.GetStartPosition())
	}

	// A refused stream closes with the Gateway's error.
	events, eventsErr, err = network.ChaincodeEvents(testContext(t), "forbidden")
	if err != nil {
		t.Fatal(err)
	}
	for range events {
		t.Fatal("event on a refused stream")
	}
	var ge *GatewayError
	if err := eventsErr(); !errors.As(err, &ge) || ge.Code != codes.PermissionDenied {
		t.Fatalf("terminal error %v, want PermissionDenied", err)
	}

	if _, _, err := network.ChaincodeEvents(testContext(t), ""); err == nil {
		t.Fatal("events without a contract name accepted")
	}
}

func TestWireTLSAuthenticatesTheGateway(t *testing.T) {
	n := startTestNetwork(t)
	p, err := LoadProfile(n.profile)
	if err != nil {
		t.Fatal(err)
	}
	// Without the server name override the certificate (for
	// peer0.org1.example.com) does not match 127.0.0.1.
	p.ServerName = ""
	gw, err := ConnectProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	_, err = gw.Network("mychannel").Contract("assets").Evaluate(testContext(t), "ReadAsset", "asset1")
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("error %v, want Unavailable (TLS handshake refused)", err)
	}
	n.gateway.mu.Lock()
	calls := len(n.gateway.calls)
	n.gateway.mu.Unlock()
	if calls != 0 {
		t.Fatalf("the server saw %d calls over an unauthenticated connection", calls)
	}
}
