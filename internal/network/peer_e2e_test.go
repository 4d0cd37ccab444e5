package network_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/network"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

const andPolicy = "AND('Org1MSP.peer','Org2MSP.peer')"

// startAll starts and joins every orderer, then every peer, and deploys
// the assets definition with the two-organization AND policy.
func startAll(t *testing.T, n *network.Network) {
	t.Helper()
	startOrderers(t, n)
	startPeers(t, n, n.Nodes(network.RolePeer)...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	archive, err := network.SamplePackage()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Deploy(ctx, network.Deployment{Name: "assets", Version: "1.0", Policy: andPolicy, Package: archive}, testWriter{t}); err != nil {
		t.Fatal(err)
	}
}

// testWriter sends progress lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startPeers(t *testing.T, n *network.Network, peers ...network.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, nd := range peers {
		if _, err := n.Start(nd); err != nil {
			t.Fatal(err)
		}
	}
	for _, nd := range peers {
		if err := n.Join(ctx, nd); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.WaitReady(ctx, peers); err != nil {
		t.Fatal(err)
	}
}

func peerNames(n *network.Network) []string {
	var names []string
	for _, p := range n.Nodes(network.RolePeer) {
		names = append(names, p.Name)
	}
	return names
}

// commitHash returns the commit hash of a peer's last block.
func commitHash(ctx context.Context, t *testing.T, n *network.Network, peerName string) (uint64, []byte) {
	t.Helper()
	nd, _ := n.Spec.Node(peerName)
	info, err := channelInfo(ctx, n, nd)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := adminConn(n, nd)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b, err := adminpb.NewLedgerQueryClient(conn).GetBlock(ctx, &adminpb.GetBlockRequest{Channel: n.Spec.Channel, Number: info.Height - 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ledger.BlockCommitHash(b)
	if err != nil {
		t.Fatal(err)
	}
	return info.Height, h
}

// waitSameHeight waits until every peer reports the same height.
func waitSameHeight(ctx context.Context, t *testing.T, n *network.Network) uint64 {
	t.Helper()
	for {
		var hs []uint64
		for _, p := range n.Nodes(network.RolePeer) {
			if info, err := channelInfo(ctx, n, p); err == nil {
				hs = append(hs, info.Height)
			}
		}
		if len(hs) == len(n.Nodes(network.RolePeer)) && hs[0] > 0 && allEqual(hs) {
			return hs[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("peers at different heights: %v", hs)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allEqual(hs []uint64) bool {
	for _, h := range hs {
		if h != hs[0] {
			return false
		}
	}
	return true
}

func TestE2EPeersCommitValidWithEqualCommitHashes(t *testing.T) {
	needE2E(t)
	n := newNetwork(t, network.Options{Orderers: 3})
	startAll(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTxClient(t, n, "Org1MSP", false)
	peers := peerNames(n)
	st, err := c.submit(ctx, t, peers, peers[1], "assets", "CreateAsset", "asset1", "blue", "5", "Tom", "300")
	if err != nil {
		t.Fatal(err)
	}
	if st.ValidationCode != int32(peerpb.TxValidationCode_VALID) {
		t.Fatalf("CreateAsset: %s %s", st.ValidationCodeName, st.Reason)
	}
	if _, err := waitTxStatus(ctx, n, peers[0], st.TxId); err != nil {
		t.Fatal(err)
	}
	waitSameHeight(ctx, t, n)
	h0, c0 := commitHash(ctx, t, n, peers[0])
	h1, c1 := commitHash(ctx, t, n, peers[1])
	if h0 != h1 || !bytes.Equal(c0, c1) || len(c0) != 32 {
		t.Fatalf("peers differ: height %d commit hash %x vs height %d commit hash %x", h0, c0, h1, c1)
	}
	t.Logf("both peers at height %d with commit hash %x", h0, c0)
}
