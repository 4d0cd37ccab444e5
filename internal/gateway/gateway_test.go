package gateway

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/nettest"
	"github.com/chorusledger/chorus/internal/node/transport"
	"github.com/chorusledger/chorus/internal/peer"
	"github.com/chorusledger/chorus/internal/policy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"github.com/chorusledger/chorus/sdk/client"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The Gateway's tests run it in front of a real peer of Org1MSP, with a
// real peer of Org2MSP serving endorsements over mutual TLS, both joined
// to channel "mychannel". Org3MSP, listed before Org2MSP, has a real peer
// too, silent unless a test says otherwise: it holds every proposal until
// the caller gives up. Org4MSP names no Gateway peer. No orderer listens at
// the channel's orderer endpoint, so nothing commits: the tests cover what
// the Gateway decides before and around ordering. Ordering and commit
// through the Gateway are covered by the end-to-end tests
// (internal/network) and by Fabric's Node client (test/compat).
//
// The built-in _lifecycle contract needs no package. Its endorsement
// policy is the channel's LifecycleEndorsement, here two of Org1MSP,
// Org2MSP and Org3MSP, and ApproveForMyOrg by an admin writes the same
// approval on every peer.

const (
	testChannel = "mychannel"
	// testEndorseTimeout is how long the fixture's Gateway waits for
	// another organization's peer: Org3MSP's is silent.
	testEndorseTimeout = 300 * time.Millisecond
)

type testOrg struct {
	mspID     string
	ca, tlsCA *identity.CA
}

type gatewayFixture struct {
	orgs  map[string]*testOrg
	admin *identity.SigningIdentity // Org1MSP admin
	user  *identity.SigningIdentity // Org1MSP client
	rogue *identity.SigningIdentity // claims Org1MSP, from a CA the channel does not trust

	server   *Server
	peer     *peer.Peer
	registry *prometheus.Registry // the metrics of Org1MSP's peer and Gateway
	conn     *grpc.ClientConn     // to server, the Gateway of Org1MSP

	org2, org3  *remotePeer
	ordererAddr string
	lastSubmit  atomic.Pointer[gatewaypb.SubmitRequest]
}

// remotePeer is another organization's peer serving its Endorser service
// over mutual TLS, as a node serves it to other organizations' Gateways,
// with switches a test sets to make it misbehave.
type remotePeer struct {
	lis       net.Listener
	addr      string
	proposals atomic.Int64 // ProcessProposal calls served
	// answer, when set, is what it answers every proposal instead of
	// endorsing it: a broken, hostile or unavailable endorser; with
	// answerOnce, only the next proposal.
	answer     atomic.Pointer[peerpb.ProposalResponse]
	answerOnce atomic.Bool
	// silent holds every proposal until the caller gives up.
	silent atomic.Bool
}

func listenRemotePeer(t *testing.T) *remotePeer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &remotePeer{lis: lis, addr: lis.Addr().String()}
}

// serve starts a peer of org joined to the channel of genesis and serves
// its Endorser on the listener.
func (r *remotePeer) serve(t *testing.T, org *testOrg, genesis *commonpb.Block) {
	t.Helper()
	name := "peer0." + strings.ToLower(strings.TrimSuffix(org.mspID, "MSP"))
	p := startPeer(t, org.issue(t, name, identity.RolePeer), genesis, prometheus.NewRegistry())
	certFile, keyFile := org.tlsFiles(t, name)
	serverTLS, err := transport.ServerTLS(certFile, keyFile, channelTLSRoots(mustBundle(t, p)), transport.RequireClientCert)
	if err != nil {
		t.Fatal(err)
	}
	misbehave := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if info.FullMethod == "/protos.Endorser/ProcessProposal" {
			r.proposals.Add(1)
			if r.silent.Load() {
				<-ctx.Done()
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			if answer := r.answer.Load(); answer != nil && (!r.answerOnce.Load() || r.answer.CompareAndSwap(answer, nil)) {
				return answer, nil
			}
		}
		return handler(ctx, req)
	}
	srv := grpc.NewServer(append(transport.ServerOptions(), grpc.Creds(credentials.NewTLS(serverTLS)), grpc.UnaryInterceptor(misbehave))...)
	peerpb.RegisterEndorserServer(srv, p)
	go srv.Serve(r.lis)
	t.Cleanup(srv.Stop)
}

func newTestOrg(t *testing.T, mspID string) *testOrg {
	t.Helper()
	ca, err := identity.NewCA("ca."+mspID, mspID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsCA, err := identity.NewCA("tlsca."+mspID, mspID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &testOrg{mspID: mspID, ca: ca, tlsCA: tlsCA}
}

func (o *testOrg) issue(t *testing.T, cn string, role identity.Role) *identity.SigningIdentity {
	t.Helper()
	return issueFrom(t, o.ca, cn, role)
}

func issueFrom(t *testing.T, ca *identity.CA, cn string, role identity.Role) *identity.SigningIdentity {
	t.Helper()
	si, err := ca.IssueSigningIdentity(cn, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return si
}

// tlsFiles issues a TLS certificate for 127.0.0.1 from the organization's
// TLS CA and writes it and its key to files.
func (o *testOrg) tlsFiles(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM, err := o.tlsCA.Issue(cn, identity.RoleMember, time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func endpoint(t *testing.T, addr string) channelconfig.Endpoint {
	t.Helper()
	ep, err := channelconfig.ParseEndpoint(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func startPeer(t *testing.T, signer *identity.SigningIdentity, genesis *commonpb.Block, reg *prometheus.Registry) *peer.Peer {
	t.Helper()
	db, err := kv.Open(t.TempDir(), kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := peer.New(peer.Options{DB: db, Signer: signer, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if _, err := p.Join(genesis); err != nil {
		t.Fatal(err)
	}
	return p
}

func newGatewayFixture(t *testing.T) *gatewayFixture {
	t.Helper()
	f := &gatewayFixture{orgs: map[string]*testOrg{}}
	for _, id := range []string{"Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP", "OrdererMSP"} {
		f.orgs[id] = newTestOrg(t, id)
	}
	org1 := f.orgs["Org1MSP"]
	f.admin = org1.issue(t, "admin.org1", identity.RoleAdmin)
	f.user = org1.issue(t, "user.org1", identity.RoleClient)
	rogueCA, err := identity.NewCA("ca.rogue", "Org1MSP", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.rogue = issueFrom(t, rogueCA, "user.org1", identity.RoleClient)

	gatewayLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.org2, f.org3 = listenRemotePeer(t), listenRemotePeer(t)
	f.org3.silent.Store(true)
	f.ordererAddr = nettest.RefusingAddress(t)

	pem := func(b []byte) []channelconfig.PEM { return []channelconfig.PEM{{Data: b}} }
	orgDef := func(id string, gatewayPeers ...string) channelconfig.OrganizationDef {
		d := channelconfig.OrganizationDef{MSPID: id, RootCerts: pem(f.orgs[id].ca.CertificatePEM()), TLSRootCerts: pem(f.orgs[id].tlsCA.CertificatePEM())}
		for _, a := range gatewayPeers {
			d.GatewayPeers = append(d.GatewayPeers, endpoint(t, a))
		}
		return d
	}
	ordererOrg := f.orgs["OrdererMSP"]
	consenter := ordererOrg.issue(t, "orderer0", identity.RoleOrderer)
	consenterTLS, _, err := ordererOrg.tlsCA.Issue("orderer0", identity.RoleMember, time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ordererEP := endpoint(t, f.ordererAddr)
	ordererDef := orgDef("OrdererMSP")
	ordererDef.OrdererEndpoints = []channelconfig.Endpoint{ordererEP}
	def := channelconfig.Definition{
		Name: testChannel,
		Organizations: []channelconfig.OrganizationDef{
			orgDef("Org1MSP", gatewayLis.Addr().String()),
			orgDef("Org3MSP", f.org3.addr),
			orgDef("Org2MSP", f.org2.addr),
			orgDef("Org4MSP"),
		},
		Policies: map[string]channelconfig.PolicyDef{
			channelconfig.PolicyLifecycleEndorsement: {Rule: "OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')"},
		},
		OrdererOrganizations: []channelconfig.OrganizationDef{ordererDef},
		Consensus: channelconfig.ConsensusDef{Consenters: []channelconfig.ConsenterDef{{
			ID: 1, MSPID: "OrdererMSP", Host: ordererEP.Host, Port: ordererEP.Port,
			SigningCert: pem(consenter.CertificatePEM())[0], TLSCert: pem(consenterTLS)[0],
		}}},
	}
	genesis, err := def.GenesisBlock()
	if err != nil {
		t.Fatal(err)
	}

	f.org2.serve(t, f.orgs["Org2MSP"], genesis)
	f.org3.serve(t, f.orgs["Org3MSP"], genesis)

	// Org1's peer and its Gateway, which presents Org1's TLS certificate
	// to the other organizations' peers.
	f.registry = prometheus.NewRegistry()
	f.peer = startPeer(t, org1.issue(t, "peer0.org1", identity.RolePeer), genesis, f.registry)
	certFile, keyFile := org1.tlsFiles(t, "peer0.org1")
	pair, err := transport.LoadKeyPair(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.server = New(Options{Peer: f.peer, MSPID: "Org1MSP", Address: gatewayLis.Addr().String(), TLS: pair,
		DialOptions: transport.DialOptions(), EndorseTimeout: testEndorseTimeout, Registerer: f.registry})
	t.Cleanup(f.server.Close)
	gatewayServer := grpc.NewServer(transport.ServerOptions()...)
	gatewaypb.RegisterGatewayServer(gatewayServer, f.server)
	go gatewayServer.Serve(gatewayLis)
	t.Cleanup(gatewayServer.Stop)
	keepSubmit := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if r, ok := req.(*gatewaypb.SubmitRequest); ok {
			f.lastSubmit.Store(proto.Clone(r).(*gatewaypb.SubmitRequest))
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	f.conn, err = grpc.NewClient(gatewayLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUnaryInterceptor(keepSubmit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.conn.Close() })
	return f
}

// counterSum sums the series of the counter name in reg whose labels
// match.
func counterSum(t *testing.T, reg *prometheus.Registry, name string, match func(labels map[string]string) bool) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if match(labels) {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// localProposals counts the proposals Org1MSP's peer has endorsed or
// refused.
func (f *gatewayFixture) localProposals(t *testing.T) float64 {
	t.Helper()
	return counterSum(t, f.registry, "chorus_peer_proposals_total", func(map[string]string) bool { return true })
}

// forgetUnavailable clears the Gateway's memory of unavailable
// organizations, so that the next plan is the policy's first.
func (f *gatewayFixture) forgetUnavailable() {
	f.server.mu.Lock()
	defer f.server.mu.Unlock()
	clear(f.server.unavailable)
}

func mustBundle(t *testing.T, p *peer.Peer) *channelconfig.Bundle {
	t.Helper()
	b, err := p.Bundle(testChannel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gateway connects the sdk client as si, signing with its key.
func (f *gatewayFixture) gateway(t *testing.T, si *identity.SigningIdentity) *client.Gateway {
	t.Helper()
	id, err := client.NewIdentity(si.MSPID(), si.CertificatePEM())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := client.NewGateway(f.conn, id, client.SignerFunc(si.Sign))
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

// wantStatus checks an error's gRPC code and that its message holds each
// of parts, and returns its Gateway error details.
func wantStatus(t *testing.T, err error, code codes.Code, parts ...string) []*gatewaypb.ErrorDetail {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v carries no gRPC status, want %v", err, code)
	}
	if st.Code() != code {
		t.Fatalf("code %v (%s), want %v", st.Code(), st.Message(), code)
	}
	for _, p := range parts {
		if !strings.Contains(st.Message(), p) {
			t.Errorf("message %q does not say %q", st.Message(), p)
		}
	}
	var details []*gatewaypb.ErrorDetail
	for _, d := range st.Details() {
		if ed, ok := d.(*gatewaypb.ErrorDetail); ok {
			details = append(details, ed)
		}
	}
	return details
}

func approval(name string) string {
	return `{"name":"` + name + `","version":"1.0","sequence":1,"endorsementPolicy":"OR('Org1MSP.peer')"}`
}

// Endorse plans the endorsers from the contract's policy (Org1MSP and
// Org3MSP first), finds Org3MSP's peer silent past the endorsement
// timeout, plans again without it
// and asks Org2MSP's peer over mutual TLS, keeping this peer's
// endorsement; it returns a transaction holding both endorsements. Submit
// then reports the orderers it could not reach.
func TestGatewayEndorsesAcrossOrganizations(t *testing.T) {
	f := newGatewayFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lifecycle := f.gateway(t, f.admin).Network(testChannel).Contract("_lifecycle")

	before := f.org2.proposals.Load()
	prop, err := lifecycle.NewProposal("ApproveForMyOrg", []string{approval("basic")})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := prop.Endorse(ctx)
	if err != nil {
		t.Fatalf("endorse: %v", err)
	}
	if got := f.org2.proposals.Load() - before; got != 1 {
		t.Errorf("Org2MSP's peer served %d proposals, want 1", got)
	}
	if got := f.localProposals(t); got != 1 {
		t.Errorf("this peer endorsed %v proposals, want 1: its endorsement counts in the second plan", got)
	}

	_, err = tx.Submit(ctx)
	details := wantStatus(t, err, codes.Unavailable, "no orderers could successfully process transaction")
	if len(details) != 1 || !strings.Contains(details[0].Message, f.ordererAddr) {
		t.Errorf("details %v do not name the orderer %s", details, f.ordererAddr)
	}

	// The prepared transaction the Gateway returned, as the client signed
	// and submitted it, carries one endorsement of each organization of
	// the final plan, in the order of the endorsers' identities.
	submitted := f.lastSubmit.Load()
	if submitted == nil {
		t.Fatal("no Submit request was sent")
	}
	parsed, err := envelope.ParseEnvelopeMessage(submitted.PreparedTransaction)
	if err != nil {
		t.Fatal(err)
	}
	etx, err := envelope.ParseEndorserTransaction(parsed.Payload.Data)
	if err != nil {
		t.Fatal(err)
	}
	var endorsers []string
	for _, e := range etx.Endorsements {
		endorser := &msppb.SerializedIdentity{}
		if err := proto.Unmarshal(e.Endorser, endorser); err != nil {
			t.Fatal(err)
		}
		endorsers = append(endorsers, endorser.Mspid)
	}
	if !slices.Equal(endorsers, []string{"Org1MSP", "Org2MSP"}) {
		t.Errorf("endorsements by %v, want Org1MSP and Org2MSP", endorsers)
	}
	if etx.ContractName() != "_lifecycle" || parsed.TxID() != tx.TransactionID() {
		t.Errorf("transaction %s of %s, want %s of _lifecycle", parsed.TxID(), etx.ContractName(), tx.TransactionID())
	}
}

// An organization found unavailable is left out of the next plans, for a
// while: the next requests do not wait for its silent peer again.
func TestGatewayRemembersUnavailableOrganizations(t *testing.T) {
	f := newGatewayFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lifecycle := f.gateway(t, f.admin).Network(testChannel).Contract("_lifecycle")
	endorse := func() {
		t.Helper()
		prop, err := lifecycle.NewProposal("ApproveForMyOrg", []string{approval("basic")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prop.Endorse(ctx); err != nil {
			t.Fatalf("endorse: %v", err)
		}
	}
	endorse() // Org3MSP is silent: a second plan, with Org2MSP
	if n := f.org3.proposals.Load(); n != 1 {
		t.Fatalf("Org3MSP asked %d times, want 1", n)
	}
	for range 3 {
		endorse()
	}
	if n, m := f.org3.proposals.Load(), f.org2.proposals.Load(); n != 1 || m != 4 {
		t.Errorf("Org3MSP asked %d times and Org2MSP %d, want 1 and 4: the first plan left Org3MSP out", n, m)
	}
	// Once the memory expires, the policy's first plan is tried again.
	f.server.mu.Lock()
	for k := range f.server.unavailable {
		f.server.unavailable[k] = time.Now().Add(-time.Second)
	}
	f.server.mu.Unlock()
	endorse()
	if n := f.org3.proposals.Load(); n != 2 {
		t.Errorf("Org3MSP asked %d times after the memory expired, want 2", n)
	}
	// That request tried Org3MSP again; the next ones leave it out.
	endorse()
	if n := f.org3.proposals.Load(); n != 2 {
		t.Errorf("Org3MSP asked %d times, want 2: one request tries it again, not every one", n)
	}
	// Recovered, it endorses when next tried, and is forgotten.
	f.org3.silent.Store(false)
	f.server.mu.Lock()
	for k := range f.server.unavailable {
		f.server.unavailable[k] = time.Now().Add(-time.Second)
	}
	f.server.mu.Unlock()
	endorse()
	f.server.mu.Lock()
	left := len(f.server.unavailable)
	f.server.mu.Unlock()
	if n := f.org3.proposals.Load(); n != 3 || left != 0 {
		t.Errorf("Org3MSP asked %d times and %d organizations remembered, want 3 and none", n, left)
	}
	f.org3.silent.Store(true)
}

// Endorse's refusals say what failed and where: the plan, each
// organization's endorser, the channel.
func TestGatewayEndorseFailures(t *testing.T) {
	f := newGatewayFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	endorse := func(si *identity.SigningIdentity, channel, contract, fn string, args []string, opts ...client.ProposalOption) error {
		t.Helper()
		f.forgetUnavailable()
		prop, err := f.gateway(t, si).Network(channel).Contract(contract).NewProposal(fn, args, opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = prop.Endorse(ctx)
		if err == nil {
			t.Fatalf("%s of %s endorsed", fn, contract)
		}
		return err
	}

	t.Run("a contract that is not defined has no endorsement plan", func(t *testing.T) {
		details := wantStatus(t, endorse(f.admin, testChannel, "basic", "CreateAsset", []string{"a1"}),
			codes.FailedPrecondition, "no endorsement plan for basic")
		if len(details) != 1 || details[0].MspId != "Org1MSP" || details[0].Address != f.server.opts.Address {
			t.Errorf("details %v, want this peer's", details)
		}
	})
	t.Run("each organization's chaincode error is a detail", func(t *testing.T) {
		// Only an admin may approve: both endorsers refuse the client.
		details := wantStatus(t, endorse(f.user, testChannel, "_lifecycle", "ApproveForMyOrg", []string{approval("basic")},
			client.WithEndorsingOrganizations("Org1MSP", "Org2MSP")), codes.Aborted, "failed to endorse transaction")
		if len(details) != 2 {
			t.Fatalf("%d details %v, want one per organization", len(details), details)
		}
		for i, want := range []struct{ msp, addr string }{{"Org1MSP", f.server.opts.Address}, {"Org2MSP", f.org2.addr}} {
			d := details[i]
			if d.MspId != want.msp || d.Address != want.addr || !strings.Contains(d.Message, "chaincode response 500") ||
				!strings.Contains(d.Message, "only an organization admin") {
				t.Errorf("detail %d: %v, want %s at %s refusing with chaincode response 500", i, d, want.msp, want.addr)
			}
		}
	})
	t.Run("an organization the client chose whose peer cannot be reached is named", func(t *testing.T) {
		// The client's choice stands: no other plan is tried.
		details := wantStatus(t, endorse(f.admin, testChannel, "_lifecycle", "ApproveForMyOrg", []string{approval("basic")},
			client.WithEndorsingOrganizations("Org1MSP", "Org3MSP")), codes.Aborted, "failed to endorse transaction")
		if len(details) != 1 || details[0].MspId != "Org3MSP" || details[0].Address != f.org3.addr ||
			!strings.Contains(details[0].Message, "no peer of Org3MSP could endorse: "+f.org3.addr+" did not answer within 300ms") {
			t.Errorf("details %v, want Org3MSP at %s silent", details, f.org3.addr)
		}
	})
	t.Run("an organization that lists no gateway peer is named", func(t *testing.T) {
		details := wantStatus(t, endorse(f.admin, testChannel, "_lifecycle", "ApproveForMyOrg", []string{approval("basic")},
			client.WithEndorsingOrganizations("Org4MSP")), codes.Aborted)
		if len(details) != 1 || details[0].MspId != "Org4MSP" || !strings.Contains(details[0].Message, "lists no gateway peer") {
			t.Errorf("details %v, want Org4MSP listing no gateway peer", details)
		}
	})
	t.Run("a chaincode error is final even when another organization is unreachable", func(t *testing.T) {
		// The plan is Org1MSP and Org3MSP; this peer's refusal ends it.
		details := wantStatus(t, endorse(f.user, testChannel, "_lifecycle", "ApproveForMyOrg", []string{approval("basic")}),
			codes.Aborted, "failed to endorse transaction")
		if len(details) != 2 || details[0].MspId != "Org1MSP" || !strings.Contains(details[0].Message, "chaincode response 500") ||
			details[1].MspId != "Org3MSP" || !strings.Contains(details[1].Message, "no peer of Org3MSP could endorse") {
			t.Errorf("details %v, want Org1MSP's refusal and Org3MSP unreachable", details)
		}
	})
	t.Run("this peer's refusal is final", func(t *testing.T) {
		// The creator's CA is not Org1MSP's: this peer refuses. The plan
		// (Org1MSP and Org3MSP) is not replaced by one without this peer,
		// so Org2MSP is never asked.
		before := f.org2.proposals.Load()
		details := wantStatus(t, endorse(f.rogue, testChannel, "_lifecycle", "ApproveForMyOrg", []string{approval("basic")}),
			codes.Aborted, "failed to endorse transaction")
		if len(details) == 0 || details[0].MspId != "Org1MSP" || !strings.Contains(details[0].Message, "unknown CA") {
			t.Errorf("details %v, want this peer's refusal first", details)
		}
		if n := f.org2.proposals.Load() - before; n != 0 {
			t.Errorf("Org2MSP was asked %d times after this peer refused", n)
		}
	})
	t.Run("an endorser that answers without an endorsement is named", func(t *testing.T) {
		f.org2.answer.Store(&peerpb.ProposalResponse{Response: &peerpb.Response{Status: 200}})
		defer f.org2.answer.Store(nil)
		details := wantStatus(t, endorse(f.admin, testChannel, "_lifecycle", "ApproveForMyOrg", []string{approval("basic")},
			client.WithEndorsingOrganizations("Org1MSP", "Org2MSP")), codes.Aborted, "failed to endorse transaction")
		if len(details) != 1 || details[0].MspId != "Org2MSP" || !strings.Contains(details[0].Message, "answered status 200 without an endorsement") {
			t.Errorf("details %v, want Org2MSP's answer without an endorsement", details)
		}
	})
	// Org3MSP's peer, first in the plan after this one, answers instead
	// of staying silent.
	org3Answers := func(t *testing.T, status int32, message string) {
		f.forgetUnavailable()
		f.org3.silent.Store(false)
		f.org3.answer.Store(&peerpb.ProposalResponse{Response: &peerpb.Response{Status: status, Message: message}})
		t.Cleanup(func() { f.org3.answer.Store(nil); f.org3.silent.Store(true) })
	}
	t.Run("an endorser that answers 503 is left out of a new plan", func(t *testing.T) {
		org3Answers(t, 503, "channel stopped")
		before := f.org2.proposals.Load()
		prop, err := f.gateway(t, f.admin).Network(testChannel).Contract("_lifecycle").NewProposal("ApproveForMyOrg", []string{approval("basic")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prop.Endorse(ctx); err != nil {
			t.Fatalf("endorse: %v", err)
		}
		if n := f.org2.proposals.Load() - before; n != 1 {
			t.Errorf("Org2MSP asked %d times, want once, in the second plan", n)
		}
	})
	t.Run("endorsements of the first plan that differ from the second's are made again", func(t *testing.T) {
		// Org3MSP is unavailable, so Org2MSP endorses in a second plan.
		// Its first answer differs from this peer's endorsement, as one
		// made after a block this peer had not committed would: both
		// organizations of the final plan endorse once more.
		org3Answers(t, 503, "channel stopped")
		f.org2.answerOnce.Store(true)
		f.org2.answer.Store(&peerpb.ProposalResponse{Response: &peerpb.Response{Status: 200}, Payload: []byte("a later state"),
			Endorsement: &peerpb.Endorsement{Endorser: []byte("Org2MSP"), Signature: []byte("signature")}})
		defer func() { f.org2.answer.Store(nil); f.org2.answerOnce.Store(false) }()
		org2Before, localBefore := f.org2.proposals.Load(), f.localProposals(t)
		prop, err := f.gateway(t, f.admin).Network(testChannel).Contract("_lifecycle").NewProposal("ApproveForMyOrg", []string{approval("basic")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prop.Endorse(ctx); err != nil {
			t.Fatalf("endorse: %v", err)
		}
		if n, local := f.org2.proposals.Load()-org2Before, f.localProposals(t)-localBefore; n != 2 || local != 2 {
			t.Errorf("Org2MSP endorsed %d times and this peer %v, want twice each", n, local)
		}
	})
	t.Run("an endorser's refusal is final", func(t *testing.T) {
		org3Answers(t, 403, "access denied")
		before := f.org2.proposals.Load()
		details := wantStatus(t, endorse(f.admin, testChannel, "_lifecycle", "ApproveForMyOrg", []string{approval("basic")}),
			codes.Aborted, "failed to endorse transaction")
		if len(details) != 1 || details[0].MspId != "Org3MSP" || details[0].Message != "chaincode response 403, access denied" {
			t.Errorf("details %v, want Org3MSP's refusal", details)
		}
		if n := f.org2.proposals.Load() - before; n != 0 {
			t.Errorf("Org2MSP asked %d times after Org3MSP refused", n)
		}
	})
	t.Run("the end of the client's context ends the endorsement", func(t *testing.T) {
		// Org3MSP's peer never answers; the client gives up first. The
		// Gateway answers Canceled, not a failure of the organizations.
		canceled := func() float64 {
			return counterSum(t, f.registry, "chorus_gateway_requests_total", func(l map[string]string) bool {
				return l["method"] == "Endorse" && l["code"] == codes.Canceled.String()
			})
		}
		f.forgetUnavailable()
		before := canceled()
		callCtx, cancelCall := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancelCall)
		prop, err := f.gateway(t, f.admin).Network(testChannel).Contract("_lifecycle").NewProposal("ApproveForMyOrg",
			[]string{approval("basic")}, client.WithEndorsingOrganizations("Org1MSP", "Org3MSP"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prop.Endorse(callCtx); status.Code(err) != codes.Canceled {
			t.Errorf("endorse: %v, want Canceled", err)
		}
		waitFor(t, func() bool { return canceled() == before+1 })
		// The client gave up, not Org3MSP: it is not remembered.
		f.server.mu.Lock()
		left := len(f.server.unavailable)
		f.server.mu.Unlock()
		if left != 0 {
			t.Errorf("%d organizations remembered as unavailable after the client gave up", left)
		}
	})
	t.Run("a channel this peer has not joined", func(t *testing.T) {
		wantStatus(t, endorse(f.admin, "otherchannel", "_lifecycle", "ApproveForMyOrg", []string{approval("basic")}),
			codes.NotFound, "otherchannel")
	})
}

// Evaluate runs a query on this peer, or on a peer of the organization the
// client targets, and maps refusals to Fabric's codes.
func TestGatewayEvaluate(t *testing.T) {
	f := newGatewayFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evaluate := func(si *identity.SigningIdentity, fn string, args []string, opts ...client.ProposalOption) ([]byte, error) {
		t.Helper()
		prop, err := f.gateway(t, si).Network(testChannel).Contract("_lifecycle").NewProposal(fn, args, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return prop.Evaluate(ctx)
	}

	local, err := evaluate(f.user, "CheckCommitReadiness", []string{approval("basic")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(local), `"Org1MSP":false`) {
		t.Errorf("readiness %s, want no approval yet", local)
	}
	if n := f.org2.proposals.Load(); n != 0 {
		t.Errorf("a local evaluation reached Org2MSP's peer (%d proposals)", n)
	}
	remote, err := evaluate(f.user, "CheckCommitReadiness", []string{approval("basic")}, client.WithEndorsingOrganizations("Org2MSP"))
	if err != nil {
		t.Fatal(err)
	}
	if string(remote) != string(local) {
		t.Errorf("Org2MSP answered %s, this peer %s", remote, local)
	}
	if n := f.org2.proposals.Load(); n != 1 {
		t.Errorf("Org2MSP's peer served %d proposals, want 1", n)
	}

	_, err = evaluate(f.user, "QueryDefinition", []string{"basic"})
	details := wantStatus(t, err, codes.Unknown, "evaluate call to endorser returned error: chaincode response 404")
	if len(details) != 1 || details[0].MspId != "Org1MSP" {
		t.Errorf("details %v, want this peer's", details)
	}
	_, err = evaluate(f.user, "QueryDefinitions", nil, client.WithEndorsingOrganizations("Org3MSP"))
	details = wantStatus(t, err, codes.Unavailable, "failed to evaluate transaction")
	if len(details) != 1 || details[0].Address != f.org3.addr {
		t.Errorf("details %v, want Org3MSP's unreachable peer %s", details, f.org3.addr)
	}
	_, err = evaluate(f.rogue, "QueryDefinitions", nil)
	wantStatus(t, err, codes.InvalidArgument, "unknown CA")
}

// signedEnvelope is a transaction envelope of channel whose header names
// creator, signed by signer (nil: unsigned).
func signedEnvelope(t *testing.T, channel string, creator, signer *identity.SigningIdentity) *commonpb.Envelope {
	t.Helper()
	nonce := []byte("a nonce of the gateway's tests.")
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	payload := marshal(&commonpb.Payload{Header: &commonpb.Header{
		ChannelHeader: marshal(&commonpb.ChannelHeader{
			Type: int32(commonpb.HeaderType_ENDORSER_TRANSACTION), ChannelId: channel,
			TxId: envelope.TxID(nonce, creator.Serialize()),
		}),
		SignatureHeader: marshal(&commonpb.SignatureHeader{Creator: creator.Serialize(), Nonce: nonce}),
	}})
	env := &commonpb.Envelope{Payload: payload}
	if signer != nil {
		sig, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		env.Signature = sig
	}
	return env
}

// Submit refuses, before anything reaches an orderer, what the ordering
// service would refuse.
func TestGatewaySubmitRefusals(t *testing.T) {
	f := newGatewayFixture(t)
	gw := gatewaypb.NewGatewayClient(f.conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	peer1 := f.orgs["Org1MSP"].issue(t, "peer1.org1", identity.RolePeer)
	for _, tc := range []struct {
		name  string
		env   *commonpb.Envelope
		code  codes.Code
		parts []string
	}{
		{"no transaction", nil, codes.InvalidArgument, []string{"a prepared transaction is required"}},
		{"unsigned", signedEnvelope(t, testChannel, f.user, nil), codes.InvalidArgument, []string{"must be signed"}},
		{"not a payload", &commonpb.Envelope{Payload: []byte{0xff, 0xff}, Signature: []byte{1}}, codes.InvalidArgument, []string{"failed to unpack the prepared transaction"}},
		{"a channel not joined", signedEnvelope(t, "otherchannel", f.user, f.user), codes.NotFound, []string{"otherchannel"}},
		{"signed by another key than the creator's", signedEnvelope(t, testChannel, f.user, f.admin), codes.InvalidArgument, []string{"not signed by a valid identity", "signature does not verify"}},
		{"a creator the channel does not trust", signedEnvelope(t, testChannel, f.rogue, f.rogue), codes.InvalidArgument, []string{"not signed by a valid identity", "unknown CA"}},
		{"a creator that may not write (a peer)", signedEnvelope(t, testChannel, peer1, peer1), codes.PermissionDenied, []string{"may not write to channel mychannel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gw.Submit(ctx, &gatewaypb.SubmitRequest{TransactionId: "tx", ChannelId: testChannel, PreparedTransaction: tc.env})
			wantStatus(t, err, tc.code, tc.parts...)
		})
	}
	if f.lastSubmit.Load() == nil {
		t.Fatal("the requests did not go through the fixture's connection")
	}
}

// commitStatusRequest is a signed commit-status request for txID naming
// the identity of named, signed by signer.
func commitStatusRequest(t *testing.T, channel, txID string, named, signer *identity.SigningIdentity) *gatewaypb.SignedCommitStatusRequest {
	t.Helper()
	req, err := proto.Marshal(&gatewaypb.CommitStatusRequest{TransactionId: txID, ChannelId: channel, Identity: named.Serialize()})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(req)
	if err != nil {
		t.Fatal(err)
	}
	return &gatewaypb.SignedCommitStatusRequest{Request: req, Signature: sig}
}

// CommitStatus checks the request before it waits, and a wait for a
// transaction that never commits ends with the client's deadline.
func TestGatewayCommitStatus(t *testing.T) {
	f := newGatewayFixture(t)
	gw := gatewaypb.NewGatewayClient(f.conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name  string
		req   *gatewaypb.SignedCommitStatusRequest
		code  codes.Code
		parts []string
	}{
		{"not a request", &gatewaypb.SignedCommitStatusRequest{Request: []byte{0xff}}, codes.InvalidArgument, []string{"failed to unpack"}},
		{"no transaction id", commitStatusRequest(t, testChannel, "", f.user, f.user), codes.InvalidArgument, []string{"a transaction id is required"}},
		{"a channel not joined", commitStatusRequest(t, "otherchannel", "tx1", f.user, f.user), codes.NotFound, []string{"otherchannel"}},
		{"signed by another identity than named", commitStatusRequest(t, testChannel, "tx1", f.user, f.admin), codes.PermissionDenied, []string{"commit status request"}},
		{"an identity the channel does not trust", commitStatusRequest(t, testChannel, "tx1", f.rogue, f.rogue), codes.PermissionDenied, []string{"commit status request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gw.CommitStatus(ctx, tc.req)
			wantStatus(t, err, tc.code, tc.parts...)
		})
	}

	t.Run("a transaction that never commits", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := gw.CommitStatus(short, commitStatusRequest(t, testChannel, "tx-never-ordered", f.user, f.user))
		wantStatus(t, err, codes.DeadlineExceeded)
		// The Gateway's handler returned when the client's deadline
		// passed: as the deadline it received (DeadlineExceeded) or as the
		// client's cancellation, whichever reached it first.
		ended := func() float64 {
			return counterSum(t, f.registry, "chorus_gateway_requests_total", func(l map[string]string) bool {
				return l["method"] == "CommitStatus" && (l["code"] == codes.DeadlineExceeded.String() || l["code"] == codes.Canceled.String())
			})
		}
		waitFor(t, func() bool { return ended() == 1 })
	})
}

// A CommitStatus wait whose client set no deadline ends at the Gateway's
// own bound, and says so.
func TestGatewayCommitStatusTimeout(t *testing.T) {
	f := newGatewayFixture(t)
	s := New(Options{Peer: f.peer, MSPID: "Org1MSP", CommitStatusTimeout: 200 * time.Millisecond})
	defer s.Close()
	_, err := s.CommitStatus(context.Background(), commitStatusRequest(t, testChannel, "tx-never-ordered", f.user, f.user))
	wantStatus(t, err, codes.DeadlineExceeded, "tx-never-ordered has not committed on this peer within 200ms")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("condition not met in 10 s")
		}
	}
}

// A Gateway serving its limit of requests refuses the next at once with
// ResourceExhausted, and serves again when one ends.
func TestGatewayAdmission(t *testing.T) {
	f := newGatewayFixture(t)
	s := New(Options{Peer: f.peer, MSPID: "Org1MSP", Concurrency: 1})
	defer s.Close()

	waitCtx, stopWaiting := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() {
		_, err := s.CommitStatus(waitCtx, commitStatusRequest(t, testChannel, "tx-never-ordered", f.user, f.user))
		waited <- err
	}()
	waitFor(t, func() bool { return len(s.sem) == 1 })

	query := func() error {
		req := commitStatusRequest(t, "otherchannel", "tx1", f.user, f.user)
		_, err := s.CommitStatus(context.Background(), req)
		return err
	}
	wantStatus(t, query(), codes.ResourceExhausted, "at most 1")
	stopWaiting()
	wantStatus(t, <-waited, codes.Canceled)
	// Admitted again: refused for what it asks, not for the load.
	wantStatus(t, query(), codes.NotFound)
}

// The plan is the smallest set of reachable organizations whose peers
// satisfy the policy: this one first, then those that have endorsed.
func TestGatewayPlan(t *testing.T) {
	f := newGatewayFixture(t)
	bundle := mustBundle(t, f.peer)
	// The candidates in order: Org1MSP (this one), then those that have
	// endorsed, then Org3MSP and Org2MSP as the configuration lists them;
	// Org4MSP names no Gateway peer.
	for _, tc := range []struct {
		policy   string
		excluded []string
		endorsed []string // tried before the others
		want     []string // nil: no plan
	}{
		{"AND('Org1MSP.peer','Org2MSP.peer')", nil, nil, []string{"Org1MSP", "Org2MSP"}},
		{"OR('Org2MSP.peer','Org1MSP.peer')", nil, nil, []string{"Org1MSP"}},
		{"OR('Org2MSP.peer','Org3MSP.peer')", nil, nil, []string{"Org3MSP"}},
		{"OutOf(2,'Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')", nil, nil, []string{"Org3MSP", "Org2MSP"}},
		{"OR('Org1MSP.member')", nil, nil, []string{"Org1MSP"}},
		{"AND('Org2MSP.peer','Org3MSP.peer','Org1MSP.peer')", nil, nil, []string{"Org1MSP", "Org3MSP", "Org2MSP"}},
		{"AND('Org1MSP.peer','Org4MSP.peer')", nil, nil, nil},
		{"OR('Org1MSP.admin','Org2MSP.admin')", nil, nil, nil}, // no peer is an admin
		{"OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')", nil, nil, []string{"Org1MSP", "Org3MSP"}},
		{"OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')", []string{"Org3MSP"}, nil, []string{"Org1MSP", "Org2MSP"}},
		{"OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')", []string{"Org1MSP"}, nil, []string{"Org3MSP", "Org2MSP"}},
		{"OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')", []string{"Org1MSP", "Org3MSP"}, nil, nil},
		// Organizations that have endorsed come before the others.
		{"OR('Org2MSP.peer','Org3MSP.peer')", nil, []string{"Org2MSP"}, []string{"Org2MSP"}},
		{"OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')", []string{"Org1MSP"}, []string{"Org2MSP"}, []string{"Org2MSP", "Org3MSP"}},
	} {
		pol, err := policy.ParseSignaturePolicy(tc.policy)
		if err != nil {
			t.Fatal(err)
		}
		excluded := map[string]bool{}
		for _, org := range tc.excluded {
			excluded[org] = true
		}
		endorsed := map[string]*peerpb.ProposalResponse{}
		for _, org := range tc.endorsed {
			endorsed[org] = &peerpb.ProposalResponse{}
		}
		got, err := f.server.plan(bundle, pol, excluded, endorsed)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s without %v, %v endorsed: plan %v, want none", tc.policy, tc.excluded, tc.endorsed, got)
		case tc.want != nil && !slices.Equal(got, tc.want):
			t.Errorf("%s without %v, %v endorsed: plan %v (%v), want %v", tc.policy, tc.excluded, tc.endorsed, got, err, tc.want)
		}
	}
}

// Organizations recently found unavailable are left out of a plan only if
// the policy can do without them.
func TestGatewayPlanAround(t *testing.T) {
	f := newGatewayFixture(t)
	bundle := mustBundle(t, f.peer)
	pol, err := policy.ParseSignaturePolicy("OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')")
	if err != nil {
		t.Fatal(err)
	}
	f.server.markUnavailable(testChannel, "Org3MSP")
	if got, err := f.server.planAround(bundle, pol, nil, nil); err != nil || !slices.Equal(got, []string{"Org1MSP", "Org2MSP"}) {
		t.Errorf("with Org3MSP unavailable: %v %v, want Org1MSP and Org2MSP", got, err)
	}
	f.server.markUnavailable(testChannel, "Org2MSP")
	if got, err := f.server.planAround(bundle, pol, nil, nil); err != nil || !slices.Equal(got, []string{"Org1MSP", "Org3MSP"}) {
		t.Errorf("with both unavailable: %v %v, want the policy's first plan", got, err)
	}
	f.forgetUnavailable()
	f.server.markUnavailable("otherchannel", "Org3MSP")
	if got, err := f.server.planAround(bundle, pol, nil, nil); err != nil || !slices.Equal(got, []string{"Org1MSP", "Org3MSP"}) {
		t.Errorf("with Org3MSP unavailable on another channel: %v %v, want the policy's first plan", got, err)
	}
}

func TestCombinations(t *testing.T) {
	got := combinations(4, 2)
	want := [][]int{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("combinations(4, 2) = %v, want %v", got, want)
	}
	if got := combinations(3, 3); len(got) != 1 || !slices.Equal(got[0], []int{0, 1, 2}) {
		t.Errorf("combinations(3, 3) = %v", got)
	}
}

// A chaincode-events stream requires the channel's Readers policy.
func TestGatewayChaincodeEventsRefusals(t *testing.T) {
	f := newGatewayFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name    string
		si      *identity.SigningIdentity
		channel string
		code    codes.Code
	}{
		{"an identity the channel does not trust", f.rogue, testChannel, codes.PermissionDenied},
		{"a channel not joined", f.user, "otherchannel", codes.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, streamErr, err := f.gateway(t, tc.si).Network(tc.channel).ChaincodeEvents(ctx, "basic")
			if err != nil {
				t.Fatal(err)
			}
			for range events {
				t.Error("an event was delivered")
			}
			var ge *client.GatewayError
			if err := streamErr(); !errors.As(err, &ge) || ge.Code != tc.code {
				t.Errorf("stream ended with %v, want %v", err, tc.code)
			}
		})
	}
}
