package peer

import (
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/nettest"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// channelFixture is channel "mychannel" of one organization, Org1MSP,
// whose peer the tests run, and one ordering organization whose orderers
// listen at the addresses the fixture was made with. Every orderer
// signs with the same identity and presents the same TLS certificate.
type channelFixture struct {
	genesis    *commonpb.Block
	signer     *identity.SigningIdentity // the peer's
	orderer    *identity.SigningIdentity
	ordererTLS tls.Certificate // valid for 127.0.0.1
}

// newChannelFixture makes the channel with its orderers at ordererAddrs,
// or at one address that refuses connections if there are none.
func newChannelFixture(t *testing.T, ordererAddrs ...string) *channelFixture {
	t.Helper()
	newCA := func(name, mspID string) *identity.CA {
		ca, err := identity.NewCA(name, mspID, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	org1, ordererCA := newCA("ca.org1", "Org1MSP"), newCA("ca.orderer", "OrdererMSP")
	peerSigner, err := org1.IssueSigningIdentity("peer0.org1", identity.RolePeer, time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ordererCA.Issue("orderer0", identity.RoleOrderer, time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ordererSigner, err := identity.LoadSigningIdentity("OrdererMSP", certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ordererTLS, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(ordererAddrs) == 0 {
		ordererAddrs = []string{nettest.RefusingAddress(t)}
	}
	var endpoints []channelconfig.Endpoint
	for _, addr := range ordererAddrs {
		ep, err := channelconfig.ParseEndpoint(addr)
		if err != nil {
			t.Fatal(err)
		}
		endpoints = append(endpoints, ep)
	}
	pem := func(b []byte) []channelconfig.PEM { return []channelconfig.PEM{{Data: b}} }
	def := channelconfig.Definition{
		Name:          "mychannel",
		Organizations: []channelconfig.OrganizationDef{{MSPID: "Org1MSP", RootCerts: pem(org1.CertificatePEM())}},
		OrdererOrganizations: []channelconfig.OrganizationDef{{
			MSPID: "OrdererMSP", RootCerts: pem(ordererCA.CertificatePEM()), TLSRootCerts: pem(ordererCA.CertificatePEM()),
			OrdererEndpoints: endpoints,
		}},
		Consensus: channelconfig.ConsensusDef{Consenters: []channelconfig.ConsenterDef{{
			ID: 1, MSPID: "OrdererMSP", Host: "127.0.0.1", Port: 1,
			SigningCert: pem(certPEM)[0], TLSCert: pem(certPEM)[0],
		}}},
	}
	genesis, err := def.GenesisBlock()
	if err != nil {
		t.Fatal(err)
	}
	return &channelFixture{genesis: genesis, signer: peerSigner, orderer: ordererSigner, ordererTLS: ordererTLS}
}

// start opens the peer on disk in dir, joining the channel the first time;
// stop closes it and its database. opts may change the peer's options
// before it starts.
func (f *channelFixture) start(t *testing.T, dir string, disk kv.FS, opts ...func(*Options)) (p *Peer, c *channel, stop func()) {
	t.Helper()
	db, err := kv.Open(dir, kv.Options{FS: disk})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{DB: db, Signer: f.signer}
	for _, change := range opts {
		change(&o)
	}
	p, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { p.Close(); db.Close() }) }
	t.Cleanup(stop)
	if len(p.Channels()) == 0 {
		if _, err := p.Join(f.genesis); err != nil {
			t.Fatal(err)
		}
	}
	if c, err = p.channel("mychannel"); err != nil {
		t.Fatal(err)
	}
	return p, c, stop
}

// nextBlock returns the block after prev, empty and signed by the orderer.
func (f *channelFixture) nextBlock(t *testing.T, prev *commonpb.Block) *commonpb.Block {
	t.Helper()
	n := prev.Header.Number + 1
	b := ledger.NewBlock(n, ledger.HeaderHash(prev.Header), nil)
	if err := ledger.SignBlock(b, f.orderer, 0, 1, n); err != nil {
		t.Fatal(err)
	}
	return b
}

// blockFileDisk is a disk under a peer's database whose files of the
// ledger's block segments (.blk) reach the ledger through wrap: a test
// makes their writes fail, or slow.
type blockFileDisk struct {
	kv.FS
	wrap func(kv.File) kv.File
}

func (d *blockFileDisk) wrapped(f kv.File, name string, err error) (kv.File, error) {
	if err != nil || !strings.HasSuffix(name, ".blk") {
		return f, err
	}
	return d.wrap(f), nil
}

func (d *blockFileDisk) Create(name string, c kv.DiskWriteCategory) (kv.File, error) {
	f, err := d.FS.Create(name, c)
	return d.wrapped(f, name, err)
}

func (d *blockFileDisk) OpenReadWrite(name string, c kv.DiskWriteCategory, opts ...kv.OpenOption) (kv.File, error) {
	f, err := d.FS.OpenReadWrite(name, c, opts...)
	return d.wrapped(f, name, err)
}
