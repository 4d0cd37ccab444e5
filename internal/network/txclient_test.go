package network_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/network"
	"github.com/chorusledger/chorus/internal/node/transport"
	"github.com/chorusledger/chorus/internal/orderer"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// txClient drives transactions the way a Fabric client with a gateway
// would, by hand: it builds and signs proposals, collects endorsements from
// chosen peers, assembles and signs the transaction, broadcasts it and waits
// for its status on a peer.
type txClient struct {
	n       *network.Network
	signer  *identity.SigningIdentity
	peers   map[string]peerpb.EndorserClient // by node name
	bc      *orderer.BroadcastClient
	conns   []*grpc.ClientConn
	channel string
}

func newTxClient(t *testing.T, n *network.Network, mspID string, admin bool) *txClient {
	t.Helper()
	org, _ := n.Spec.Org(mspID)
	certFile, keyFile := org.ClientCert, org.ClientKey
	if admin {
		certFile, keyFile = org.AdminCert, org.AdminKey
	}
	cert, err := os.ReadFile(n.Path(certFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(n.Path(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.LoadSigningIdentity(mspID, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	var caFiles []string
	for _, o := range n.Spec.Orgs {
		caFiles = append(caFiles, n.Path(o.TLSCACert))
	}
	roots, err := transport.LoadCertPool(caFiles...)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(transport.ClientTLS(roots, nil))
	c := &txClient{n: n, signer: signer, peers: map[string]peerpb.EndorserClient{}, channel: n.Spec.Channel}
	for _, p := range n.Nodes(network.RolePeer) {
		cc, err := grpc.NewClient(p.Address, append(transport.DialOptions(), grpc.WithTransportCredentials(creds))...)
		if err != nil {
			t.Fatal(err)
		}
		c.conns = append(c.conns, cc)
		c.peers[p.Name] = peerpb.NewEndorserClient(cc)
	}
	var eps []string
	for _, o := range n.Nodes(network.RoleOrderer) {
		eps = append(eps, o.Address)
	}
	c.bc = orderer.NewBroadcastClient(eps, creds, transport.DialOptions()...)
	t.Cleanup(func() {
		c.bc.Close()
		for _, cc := range c.conns {
			cc.Close()
		}
	})
	return c
}

// proposal builds a signed proposal as Fabric's clients do.
func (c *txClient) proposal(t *testing.T, contract string, args ...string) (*peerpb.SignedProposal, string) {
	t.Helper()
	nonce := make([]byte, 24)
	rand.Read(nonce)
	creator := c.signer.Serialize()
	txID := envelope.TxID(nonce, creator)
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var input [][]byte
	for _, a := range args {
		input = append(input, []byte(a))
	}
	ch := must(envelope.Marshal(&commonpb.ChannelHeader{
		Type: int32(commonpb.HeaderType_ENDORSER_TRANSACTION), ChannelId: c.channel, TxId: txID, Timestamp: timestamppb.Now(),
		Extension: must(envelope.Marshal(&peerpb.ChaincodeHeaderExtension{ChaincodeId: &peerpb.ChaincodeID{Name: contract}})),
	}))
	sh := must(envelope.Marshal(&commonpb.SignatureHeader{Creator: creator, Nonce: nonce}))
	cis := must(envelope.Marshal(&peerpb.ChaincodeInvocationSpec{ChaincodeSpec: &peerpb.ChaincodeSpec{
		Type: peerpb.ChaincodeSpec_GOLANG, ChaincodeId: &peerpb.ChaincodeID{Name: contract}, Input: &peerpb.ChaincodeInput{Args: input},
	}}))
	prop := must(envelope.Marshal(&peerpb.Proposal{
		Header:  must(envelope.Marshal(&commonpb.Header{ChannelHeader: ch, SignatureHeader: sh})),
		Payload: must(envelope.Marshal(&peerpb.ChaincodeProposalPayload{Input: cis})),
	}))
	sig, err := c.signer.Sign(prop)
	if err != nil {
		t.Fatal(err)
	}
	return &peerpb.SignedProposal{ProposalBytes: prop, Signature: sig}, txID
}

// endorse collects endorsements of sp from the named peers.
func (c *txClient) endorse(ctx context.Context, sp *peerpb.SignedProposal, peers ...string) ([]*peerpb.ProposalResponse, error) {
	var out []*peerpb.ProposalResponse
	for _, name := range peers {
		res, err := c.peers[name].ProcessProposal(ctx, sp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if res.Response.GetStatus() >= 400 {
			return nil, fmt.Errorf("%s: %d %s", name, res.Response.Status, res.Response.Message)
		}
		out = append(out, res)
	}
	return out, nil
}

// transaction endorses sp on the peers and returns the signed envelope.
func (c *txClient) transaction(ctx context.Context, t *testing.T, sp *peerpb.SignedProposal, peers ...string) (*commonpb.Envelope, error) {
	t.Helper()
	responses, err := c.endorse(ctx, sp, peers...)
	if err != nil {
		return nil, err
	}
	prop, err := envelope.ParseProposal(sp)
	if err != nil {
		return nil, err
	}
	payload, err := envelope.AssemblePayload(prop, responses)
	if err != nil {
		return nil, err
	}
	sig, err := c.signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	return &commonpb.Envelope{Payload: payload, Signature: sig}, nil
}

// submit runs the whole flow and waits for the transaction's status on
// waitPeer.
func (c *txClient) submit(ctx context.Context, t *testing.T, endorsers []string, waitPeer string, contract string, args ...string) (*adminpb.TxStatus, error) {
	t.Helper()
	sp, txID := c.proposal(t, contract, args...)
	env, err := c.transaction(ctx, t, sp, endorsers...)
	if err != nil {
		return nil, err
	}
	if err := c.bc.Broadcast(ctx, env); err != nil {
		return nil, err
	}
	return waitTxStatus(ctx, c.n, waitPeer, txID)
}

// waitTxStatus polls a peer's admin API until the transaction committed.
func waitTxStatus(ctx context.Context, n *network.Network, peerName, txID string) (*adminpb.TxStatus, error) {
	nd, _ := n.Spec.Node(peerName)
	conn, err := adminConn(n, nd)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	q := adminpb.NewLedgerQueryClient(conn)
	for {
		st, err := q.TransactionStatus(ctx, &adminpb.TransactionStatusRequest{Channel: n.Spec.Channel, TxId: txID})
		if err == nil {
			return st, nil
		}
		if status.Code(err) != codes.NotFound && status.Code(err) != codes.Unavailable {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %s not committed on %s: %w", txID, peerName, errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func adminConn(n *network.Network, nd network.Node) (*grpc.ClientConn, error) {
	roots, err := transport.LoadCertPool(n.Path(nd.TLSCAFile))
	if err != nil {
		return nil, err
	}
	pair, err := transport.LoadKeyPair(n.Path(nd.AdminCertFile), n.Path(nd.AdminKeyFile), nil)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(nd.AdminAddress, append(transport.DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(transport.ClientTLS(roots, pair))))...)
}
