package network_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/network"
	"github.com/chorusledger/chorus/internal/node/transport"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// TestE2EPeerValidation runs the peer's validation scenarios on one
// network of 3 orderers and 2 peers (Org1MSP, Org2MSP), the assets
// contract defined with AND('Org1MSP.peer','Org2MSP.peer').
func TestE2EPeerValidation(t *testing.T) {
	needE2E(t)
	n := newNetwork(t, network.Options{Orderers: 3})
	startAll(t, n)
	peers := peerNames(n)
	org1, org2 := peers[0], peers[1]
	c := newTxClient(t, n, "Org1MSP", false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mustValid := func(st *adminpb.TxStatus, err error) *adminpb.TxStatus {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if st.ValidationCode != int32(peerpb.TxValidationCode_VALID) {
			t.Fatalf("%s: %s %s", st.TxId, st.ValidationCodeName, st.Reason)
		}
		return st
	}

	t.Run("stale read gets MVCC_READ_CONFLICT", func(t *testing.T) {
		mustValid(c.submit(ctx, t, peers, org1, "assets", "CreateAsset", "mvcc1", "red", "1", "Ann", "10"))
		// Both transfers read mvcc1 at the same version before either commits.
		sp1, _ := c.proposal(t, "assets", "TransferAsset", "mvcc1", "Bob")
		sp2, tx2 := c.proposal(t, "assets", "TransferAsset", "mvcc1", "Carl")
		env1, err := c.transaction(ctx, t, sp1, peers...)
		if err != nil {
			t.Fatal(err)
		}
		env2, err := c.transaction(ctx, t, sp2, peers...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.bc.Broadcast(ctx, env1); err != nil {
			t.Fatal(err)
		}
		if err := c.bc.Broadcast(ctx, env2); err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			st, err := waitTxStatus(ctx, n, p, tx2)
			if err != nil {
				t.Fatal(err)
			}
			if st.ValidationCode != int32(peerpb.TxValidationCode_MVCC_READ_CONFLICT) || !strings.Contains(st.Reason, `"mvcc1"`) {
				t.Fatalf("%s: second transfer got %s (%s), want MVCC_READ_CONFLICT naming mvcc1", p, st.ValidationCodeName, st.Reason)
			}
			t.Logf("%s: %s: %s", p, st.ValidationCodeName, st.Reason)
		}
	})

	t.Run("one organization's endorsement gets ENDORSEMENT_POLICY_FAILURE", func(t *testing.T) {
		st, err := c.submit(ctx, t, []string{org1}, org2, "assets", "CreateAsset", "policy1", "green", "2", "Dee", "20")
		if err != nil {
			t.Fatal(err)
		}
		if st.ValidationCode != int32(peerpb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE) {
			t.Fatalf("got %s (%s)", st.ValidationCodeName, st.Reason)
		}
		// chorus tx status names the missing principal.
		nd, _ := n.Spec.Node(org1)
		out, err := exec.Command(chorusBinary, "tx", "status", st.TxId, "--channel", n.Spec.Channel,
			"--admin-address", nd.AdminAddress, "--cert", n.Path(nd.AdminCertFile), "--key", n.Path(nd.AdminKeyFile),
			"--tls-ca", n.Path(nd.TLSCAFile)).CombinedOutput()
		if err != nil {
			t.Fatalf("chorus tx status: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "ENDORSEMENT_POLICY_FAILURE") || !strings.Contains(string(out), "Org2MSP.peer") {
			t.Fatalf("chorus tx status does not name Org2MSP.peer:\n%s", out)
		}
		t.Logf("chorus tx status:\n%s", out)
	})

	t.Run("replayed transactions", func(t *testing.T) {
		sp, txID := c.proposal(t, "assets", "CreateAsset", "replay1", "blue", "3", "Eve", "30")
		env, err := c.transaction(ctx, t, sp, peers...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.bc.Broadcast(ctx, env); err != nil {
			t.Fatal(err)
		}
		first := mustValid(waitTxStatus(ctx, n, org1, txID))
		// The very same envelope again: ordering is idempotent, the
		// orderer acknowledges it and orders nothing new.
		if err := c.bc.Broadcast(ctx, env); err != nil {
			t.Fatalf("replaying a committed envelope: %v", err)
		}
		// The same transaction signed anew (same id, other bytes), twice
		// at the same instant: both are ordered, and the peers mark the
		// second DUPLICATE_TXID.
		sp2, txID2 := c.proposal(t, "assets", "CreateAsset", "replay2", "blue", "3", "Eve", "30")
		a, err := c.transaction(ctx, t, sp2, peers...)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := c.signer.Sign(a.Payload)
		if err != nil {
			t.Fatal(err)
		}
		b := &commonpb.Envelope{Payload: a.Payload, Signature: sig}
		var wg sync.WaitGroup
		for _, e := range []*commonpb.Envelope{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.bc.Broadcast(ctx, e)
			}()
		}
		wg.Wait()
		mustValid(waitTxStatus(ctx, n, org1, txID2))
		codes := txCodes(ctx, t, n, org1, txID, txID2)
		if got := codes[txID]; len(got) != 1 {
			t.Fatalf("the replayed envelope of %s is in the ledger %d times: %v", txID, len(got), got)
		}
		if got := codes[txID2]; len(got) == 2 {
			if got[0] != peerpb.TxValidationCode_VALID || got[1] != peerpb.TxValidationCode_DUPLICATE_TXID {
				t.Fatalf("two copies of %s got %v, want [VALID DUPLICATE_TXID]", txID2, got)
			}
			t.Logf("the re-signed copy was ordered too and marked %v", got[1])
		} else {
			t.Logf("the re-signed copy reached the orderer after the first committed and was refused there (%v)", got)
		}
		_ = first
	})

	t.Run("a block with a forged orderer signature is refused", func(t *testing.T) {
		org2Node, _ := n.Spec.Node(org2)
		if err := n.Kill(org2Node); err != nil {
			t.Fatal(err)
		}
		// Blocks the killed peer misses (with Org2's peer down these
		// transactions fail the AND policy; they still make blocks).
		for i := 0; i < 3; i++ {
			if _, err := c.submit(ctx, t, []string{org1}, org1, "assets", "AssetExists", "replay1"); err != nil {
				t.Fatal(err)
			}
		}
		// An impostor takes over orderer0's address and TLS identity and
		// serves real blocks re-signed by a key no MSP of the channel knows.
		o0, _ := n.Spec.Node(n.Nodes(network.RoleOrderer)[0].Name)
		if err := n.Stop(o0, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		served, stopImpostor := startImpostorOrderer(t, n, o0)
		logBefore, _ := os.ReadFile(n.Path(org2Node.LogFile))
		if _, err := n.Start(org2Node); err != nil {
			t.Fatal(err)
		}
		// The peer refuses the impostor's block, says so, and catches up
		// from another orderer.
		deadline := time.Now().Add(60 * time.Second)
		for {
			logNow, _ := os.ReadFile(n.Path(org2Node.LogFile))
			fresh := string(logNow[len(logBefore):])
			if strings.Contains(fresh, "refusing a block from the orderer") && strings.Contains(fresh, "BlockValidation") {
				for _, line := range strings.Split(fresh, "\n") {
					if strings.Contains(line, "refusing a block") {
						t.Logf("peer log: %s", line)
						break
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the peer did not refuse the forged block (impostor served %d blocks); its log:\n%s", served.Load(), fresh)
			}
			time.Sleep(100 * time.Millisecond)
		}
		waitSameHeight(ctx, t, n)
		_, h1 := commitHash(ctx, t, n, org1)
		_, h2 := commitHash(ctx, t, n, org2)
		if !bytes.Equal(h1, h2) {
			t.Fatalf("commit hashes differ after catching up: %x vs %x", h1, h2)
		}
		// Put the real orderer back.
		stopImpostor()
		startOrderers(t, n)
	})

	t.Run("a peer killed under load catches up", func(t *testing.T) {
		var ok, failed atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					lctx, lcancel := context.WithTimeout(ctx, 20*time.Second)
					st, err := c.submit(lctx, t, peers, org1, "assets", "CreateAsset", fmt.Sprintf("load-%d-%d", w, i), "white", "1", "Fay", "1")
					lcancel()
					if err == nil && st.ValidationCode == 0 {
						ok.Add(1)
					} else {
						failed.Add(1)
						time.Sleep(50 * time.Millisecond)
					}
				}
			}(w)
		}
		for ok.Load() < 20 {
			time.Sleep(50 * time.Millisecond)
		}
		org2Node, _ := n.Spec.Node(org2)
		if err := n.Kill(org2Node); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if _, err := n.Start(org2Node); err != nil {
			t.Fatal(err)
		}
		before := ok.Load()
		for ok.Load() < before+20 {
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		t.Logf("under load: %d transactions committed, %d failed while a peer was down", ok.Load(), failed.Load())
		height := waitSameHeight(ctx, t, n)
		_, h1 := commitHash(ctx, t, n, org1)
		_, h2 := commitHash(ctx, t, n, org2)
		if !bytes.Equal(h1, h2) {
			t.Fatalf("after the restart the commit hashes differ at height %d: %x vs %x", height, h1, h2)
		}
	})

	t.Run("a peer started from scratch replays the chain to the same commit hash", func(t *testing.T) {
		org1Node, _ := n.Spec.Node(org1)
		if err := n.Stop(org1Node, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(n.Path(org1Node.DatabaseDir)); err != nil {
			t.Fatal(err)
		}
		startPeers(t, n, org1Node)
		height := waitSameHeight(ctx, t, n)
		_, h1 := commitHash(ctx, t, n, org1)
		_, h2 := commitHash(ctx, t, n, org2)
		if !bytes.Equal(h1, h2) {
			t.Fatalf("replayed from scratch to height %d, commit hash %x; the other peer has %x", height, h1, h2)
		}
		t.Logf("replayed %d blocks from scratch; commit hash %x on both peers", height, h1)
	})
}

// txCodes reads a peer's whole chain and returns, for each given
// transaction id, the validation codes of every copy in order.
func txCodes(ctx context.Context, t *testing.T, n *network.Network, peerName string, ids ...string) map[string][]peerpb.TxValidationCode {
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
	q := adminpb.NewLedgerQueryClient(conn)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string][]peerpb.TxValidationCode{}
	for num := uint64(1); num < info.Height; num++ {
		b, err := q.GetBlock(ctx, &adminpb.GetBlockRequest{Channel: n.Spec.Channel, Number: num})
		if err != nil {
			t.Fatal(err)
		}
		filter := ledger.TxFilter(b)
		for i, raw := range b.Data.Data {
			env, err := envelope.ParseEnvelope(raw)
			if err == nil && want[env.TxID()] {
				out[env.TxID()] = append(out[env.TxID()], peerpb.TxValidationCode(filter[i]))
			}
		}
	}
	return out
}

// startImpostorOrderer serves Deliver at an orderer's address with its TLS
// certificate, handing out the real chain's blocks re-signed by an
// identity from a CA no organization of the channel trusts. It returns how
// many blocks it served and a function that stops it and frees the port.
func startImpostorOrderer(t *testing.T, n *network.Network, o network.Node) (*atomic.Int64, func()) {
	t.Helper()
	rogueCA, err := identity.NewCA("ca.rogue", "OrdererMSP", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := rogueCA.Issue("impostor", identity.RoleOrderer, time.Minute*30)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := identity.LoadSigningIdentity("OrdererMSP", cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(n.Path(o.Dir+"/tls/cert.pem"), n.Path(o.Dir+"/tls/key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", o.Address)
	if err != nil {
		t.Fatal(err)
	}
	real := n.Nodes(network.RoleOrderer)[1]
	conn, err := adminConn(n, real)
	if err != nil {
		t.Fatal(err)
	}
	served := &atomic.Int64{}
	srv := grpc.NewServer(append(transport.ServerOptions(), grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pair}})))...)
	ordererpb.RegisterAtomicBroadcastServer(srv, &impostor{q: adminpb.NewLedgerQueryClient(conn), channel: n.Spec.Channel, forger: forger, served: served})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Stop()
			<-done
			conn.Close()
		})
	}
	t.Cleanup(stop)
	return served, stop
}

type impostor struct {
	ordererpb.UnimplementedAtomicBroadcastServer
	q       adminpb.LedgerQueryClient
	channel string
	forger  *identity.SigningIdentity
	served  *atomic.Int64
}

func (i *impostor) Deliver(stream ordererpb.AtomicBroadcast_DeliverServer) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	env, err := envelope.ParseEnvelopeMessage(req)
	if err != nil {
		return err
	}
	seek := &ordererpb.SeekInfo{}
	if err := proto.Unmarshal(env.Payload.Data, seek); err != nil {
		return err
	}
	ctx := stream.Context()
	var start uint64
	if s, ok := seek.Start.Type.(*ordererpb.SeekPosition_Specified); ok {
		start = s.Specified.Number
	} else {
		// "newest": the real tip.
		for n := uint64(0); ; n++ {
			if _, err := i.q.GetBlock(ctx, &adminpb.GetBlockRequest{Channel: i.channel, Number: n + 1}); err != nil {
				start = n
				break
			}
		}
	}
	b, err := i.q.GetBlock(ctx, &adminpb.GetBlockRequest{Channel: i.channel, Number: start})
	if err != nil {
		return err
	}
	b.Metadata.Metadata[commonpb.BlockMetadataIndex_SIGNATURES] = nil
	if err := ledger.SignBlock(b, i.forger, 0, 1, 1); err != nil {
		return err
	}
	i.served.Add(1)
	if err := stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Block{Block: b}}); err != nil {
		return err
	}
	<-ctx.Done()
	return errors.New("impostor done")
}
