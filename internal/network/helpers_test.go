package network_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
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
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// freeBasePort finds a base port whose whole range is free now.
func freeBasePort(t testing.TB, span int) int {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(30000))
		base := 20000 + int(n.Int64())
		if portsFree(base, span) {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func portsFree(base, span int) bool {
	for p := base; p < base+span; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// newNetwork generates a network in a temporary directory and arranges
// for every node to be killed when the test ends.
func newNetwork(t *testing.T, opts network.Options) *network.Network {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.BasePort == 0 {
		opts.BasePort = freeBasePort(t, 180)
	}
	n, err := network.Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.Binary = chorusBinary
	t.Cleanup(func() {
		for _, nd := range n.Spec.Nodes {
			_ = n.Kill(nd)
		}
		if t.Failed() {
			for _, nd := range n.Spec.Nodes {
				if data, err := os.ReadFile(n.Path(nd.LogFile)); err == nil {
					tail := data
					if len(tail) > 4000 {
						tail = tail[len(tail)-4000:]
					}
					t.Logf("--- last lines of %s:\n%s", nd.Name, tail)
				}
			}
		}
	})
	return n
}

// startOrderers starts every orderer, joins them and waits until ready.
func startOrderers(t *testing.T, n *network.Network) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, nd := range n.Nodes(network.RoleOrderer) {
		if _, err := n.Start(nd); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range n.Nodes(network.RoleOrderer) {
		if err := n.Join(ctx, nd); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.WaitReady(ctx, n.Nodes(network.RoleOrderer)); err != nil {
		t.Fatal(err)
	}
}

// client is an organization's client identity able to sign envelopes.
type client struct {
	signer *identity.SigningIdentity
	bc     *orderer.BroadcastClient
}

func newClient(t *testing.T, n *network.Network, mspID string, endpoints []string) *client {
	t.Helper()
	org, _ := n.Spec.Org(mspID)
	cert, err := os.ReadFile(n.Path(org.ClientCert))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(n.Path(org.ClientKey))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.LoadSigningIdentity(mspID, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	ordererOrg, _ := n.Spec.Org("OrdererMSP")
	roots, err := transport.LoadCertPool(n.Path(ordererOrg.TLSCACert))
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(transport.ClientTLS(roots, nil))
	bc := orderer.NewBroadcastClient(endpoints, creds, transport.DialOptions()...)
	t.Cleanup(bc.Close)
	return &client{signer: signer, bc: bc}
}

// envelope builds a signed ENDORSER_TRANSACTION envelope of about size
// bytes; the orderer checks the header and signature, not the contents.
func (c *client) envelope(t *testing.T, channel string, size int) (*commonpb.Envelope, string) {
	t.Helper()
	nonce := make([]byte, 24)
	rand.Read(nonce)
	creator := c.signer.Serialize()
	txID := envelope.TxID(nonce, creator)
	ch, _ := envelope.Marshal(&commonpb.ChannelHeader{Type: int32(commonpb.HeaderType_ENDORSER_TRANSACTION), ChannelId: channel, TxId: txID, Timestamp: timestamppb.Now()})
	sh, _ := envelope.Marshal(&commonpb.SignatureHeader{Creator: creator, Nonce: nonce})
	data := make([]byte, size)
	rand.Read(data)
	payload, _ := envelope.Marshal(&commonpb.Payload{Header: &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh}, Data: data})
	sig, err := c.signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return &commonpb.Envelope{Payload: payload, Signature: sig}, txID
}

// channelInfo asks a node's admin API about the network's channel.
func channelInfo(ctx context.Context, n *network.Network, nd network.Node) (*adminpb.ChannelInfo, error) {
	client, closeConn, err := n.Admin(nd)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	res, err := client.ListChannels(ctx, &adminpb.ListChannelsRequest{})
	if err != nil {
		return nil, err
	}
	for _, c := range res.Channels {
		if c.Channel == n.Spec.Channel {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%s has not joined %s", nd.Name, n.Spec.Channel)
}
