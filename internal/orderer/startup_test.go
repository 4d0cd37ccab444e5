package orderer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/nettest"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/credentials"
)

// twoConsenterGenesis returns the genesis block of channel "mychannel"
// whose consenters are this orderer (id 1, whose signer and TLS
// certificate it also returns) and another at addr (id 2), which the test
// never runs.
func twoConsenterGenesis(t *testing.T, addr string) (*commonpb.Block, *identity.SigningIdentity, tls.Certificate, *x509.Certificate) {
	t.Helper()
	ca, err := identity.NewCA("orderer-ca", "OrdererMSP", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	type issued struct{ cert, key []byte }
	issue := func(cn string) issued {
		c, k, err := ca.Issue(cn, identity.RoleOrderer, time.Hour, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return issued{c, k}
	}
	self, other := issue("orderer1"), issue("orderer2")
	otherEndpoint, err := channelconfig.ParseEndpoint(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &channelconfig.Definition{
		Name:                 "mychannel",
		OrdererOrganizations: []channelconfig.OrganizationDef{{MSPID: "OrdererMSP", RootCerts: []channelconfig.PEM{{Data: ca.CertificatePEM()}}}},
		Consensus: channelconfig.ConsensusDef{Consenters: []channelconfig.ConsenterDef{
			{ID: 1, MSPID: "OrdererMSP", Host: "127.0.0.1", Port: 1, SigningCert: channelconfig.PEM{Data: self.cert}, TLSCert: channelconfig.PEM{Data: self.cert}},
			{ID: 2, MSPID: "OrdererMSP", Host: otherEndpoint.Host, Port: otherEndpoint.Port, SigningCert: channelconfig.PEM{Data: other.cert}, TLSCert: channelconfig.PEM{Data: other.cert}},
		}},
	}
	genesis, err := d.GenesisBlock()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.LoadSigningIdentity("OrdererMSP", self.cert, self.key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(self.cert, self.key)
	if err != nil {
		t.Fatal(err)
	}
	return genesis, signer, pair, signer.Certificate()
}

// TestStartInterruptedDuringCatchUp goes through the real start of an
// orderer whose channel must first catch up from a consensus snapshot
// (one it persisted and crashed before applying), with the other
// consenter unreachable: New keeps fetching, as it must, until its
// context ends, then fails at once with the reason instead of waiting out
// the start-up limit.
func TestStartInterruptedDuringCatchUp(t *testing.T) {
	db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	genesis, signer, pair, leaf := twoConsenterGenesis(t, nettest.RefusingAddress(t))
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	opts := Options{
		DB: db, Signer: signer, TLSCert: leaf,
		ClusterCreds: credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, MinVersion: tls.VersionTLS12}),
	}
	o, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Join(genesis); err != nil {
		t.Fatal(err)
	}
	o.Close()

	// What a crash between persisting a snapshot received from the leader
	// and applying it leaves: a snapshot at height 10 in the Raft storage,
	// the ledger at height 1.
	storage, err := raft.OpenStorage(db, "mychannel")
	if err != nil {
		t.Fatal(err)
	}
	snap := raftpb.Snapshot{
		Data:     encodeSnapshot(10, ledger.HeaderHash(genesis.Header)),
		Metadata: raftpb.SnapshotMetadata{Index: 50, Term: 3, ConfState: raftpb.ConfState{Voters: []uint64{1, 2}}},
	}
	if err := storage.Save(raftpb.HardState{Term: 3, Commit: 50}, nil, snap); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	interrupted := errors.New("SIGTERM")
	time.AfterFunc(500*time.Millisecond, func() { cancel(interrupted) })
	start := time.Now()
	o, err = New(ctx, opts)
	elapsed := time.Since(start)
	if err == nil {
		o.Close()
		t.Fatal("an orderer started without the blocks of its snapshot")
	}
	if !errors.Is(err, interrupted) || !strings.Contains(err.Error(), "mychannel") {
		t.Errorf("error %q does not name the channel and the interruption", err)
	}
	if elapsed < 400*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("New returned after %v; want soon after its context ended at 500 ms", elapsed)
	}
	t.Logf("New: %v after %v", err, elapsed.Round(time.Millisecond))
}
