package peer_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/peer"
	"github.com/chorusledger/chorus/internal/worldstate"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// The validator's tests build real transactions, as Fabric's clients and
// endorsers do, for a channel "mychannel" of two application
// organizations (Org1MSP, Org2MSP) and one orderer organization
// (OrdererMSP), over a world state in an in-memory database.

const (
	vfChannel      = "mychannel"
	vfCALifetime   = 10 * 365 * 24 * time.Hour
	vfCertLifetime = 365 * 24 * time.Hour
)

// vfV10 is the version of the keys the fixture commits in block 1.
var vfV10 = &kvrwsetpb.Version{BlockNum: 1, TxNum: 0}

// validatorFixture is a channel with its organizations, identities,
// configuration bundle, world state and validator.
type validatorFixture struct {
	t testing.TB

	org1CA, org2CA, ordererCA     *identity.CA
	org1Peer, org1Peer2, org2Peer *identity.SigningIdentity
	org1Client, org2Client        *identity.SigningIdentity
	org1Admin                     *identity.SigningIdentity
	shortClient                   *identity.SigningIdentity // Org1MSP client valid for one hour
	rogueClient                   *identity.SigningIdentity // claims Org1MSP, issued by another CA

	cfg    *configpb.ChannelConfig
	bundle *channelconfig.Bundle
	db     *kv.DB
	state  *worldstate.State
	v      *peer.Validator

	height uint64 // the number of the next block committed or built
	keys   int    // for unique keys
}

// vfDefinitions are the contract definitions the fixture commits in block 1.
var vfDefinitions = map[string]string{
	"assets":  "AND('Org1MSP.peer','Org2MSP.peer')",
	"lenient": "OR('Org1MSP.peer','Org2MSP.peer')",
	"audit":   "AND('Org1MSP.peer','Org2MSP.admin')",
	"chanpol": "/Channel/Endorsement",
	"broken":  "AND('Org1MSP.peer',",
}

func newValidatorFixture(t testing.TB, opts peer.ValidatorOptions) *validatorFixture {
	t.Helper()
	f := &validatorFixture{t: t}
	f.org1CA = vfNewCA(t, "ca.org1", "Org1MSP")
	f.org2CA = vfNewCA(t, "ca.org2", "Org2MSP")
	f.ordererCA = vfNewCA(t, "ca.orderer", "OrdererMSP")
	rogueCA := vfNewCA(t, "ca.rogue", "Org1MSP")

	f.org1Peer = vfIssue(t, f.org1CA, "peer0.org1", identity.RolePeer, vfCertLifetime)
	f.org1Peer2 = vfIssue(t, f.org1CA, "peer1.org1", identity.RolePeer, vfCertLifetime)
	f.org2Peer = vfIssue(t, f.org2CA, "peer0.org2", identity.RolePeer, vfCertLifetime)
	f.org1Client = vfIssue(t, f.org1CA, "client.org1", identity.RoleClient, vfCertLifetime)
	f.org2Client = vfIssue(t, f.org2CA, "client.org2", identity.RoleClient, vfCertLifetime)
	f.org1Admin = vfIssue(t, f.org1CA, "admin.org1", identity.RoleAdmin, vfCertLifetime)
	f.shortClient = vfIssue(t, f.org1CA, "short.org1", identity.RoleClient, time.Hour)
	f.rogueClient = vfIssue(t, rogueCA, "client.org1", identity.RoleClient, vfCertLifetime)
	orderer := vfIssue(t, f.ordererCA, "o1.orderer", identity.RoleOrderer, vfCertLifetime)
	ordererTLS, _, err := f.ordererCA.Issue("o1.orderer", identity.RoleMember, vfCertLifetime, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}

	pem := func(b []byte) channelconfig.PEM { return channelconfig.PEM{Data: b} }
	def := channelconfig.Definition{
		Name: vfChannel,
		Organizations: []channelconfig.OrganizationDef{
			{MSPID: "Org1MSP", RootCerts: []channelconfig.PEM{pem(f.org1CA.CertificatePEM())}},
			{MSPID: "Org2MSP", RootCerts: []channelconfig.PEM{pem(f.org2CA.CertificatePEM())}},
		},
		OrdererOrganizations: []channelconfig.OrganizationDef{{
			MSPID:            "OrdererMSP",
			RootCerts:        []channelconfig.PEM{pem(f.ordererCA.CertificatePEM())},
			OrdererEndpoints: []channelconfig.Endpoint{{Host: "127.0.0.1", Port: 7050}},
		}},
		Consensus: channelconfig.ConsensusDef{Consenters: []channelconfig.ConsenterDef{{
			ID: 1, MSPID: "OrdererMSP", Host: "127.0.0.1", Port: 7051,
			SigningCert: pem(orderer.CertificatePEM()), TLSCert: pem(ordererTLS),
		}}},
	}
	if f.cfg, err = def.Config(); err != nil {
		t.Fatal(err)
	}
	f.bundle = f.newBundle(nil, identity.NewSignatureCache(0))

	f.db, err = kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	if f.state, err = worldstate.New(vfChannel); err != nil {
		t.Fatal(err)
	}
	if f.v, err = peer.NewValidator(f.state, opts); err != nil {
		t.Fatal(err)
	}

	// Block 0 is the genesis block; block 1 commits the definitions and
	// two assets, both at version 1:0.
	f.height = 1
	defs := vfKV()
	for name, pol := range vfDefinitions {
		defs.Writes = append(defs.Writes, &kvrwsetpb.KVWrite{Key: "definitions/" + name, Value: vfDefinition(t, name, 1, pol)})
	}
	f.commit(
		envelope.NsRWSet{Namespace: "_lifecycle", KV: defs},
		envelope.NsRWSet{Namespace: "assets", KV: vfKV(vfWrite("asset1", "one"), vfWrite("asset2", "two"))},
	)
	return f
}

// newBundle builds a bundle of the fixture's configuration with a clock
// (nil: time.Now) and a signature cache (nil: none).
func (f *validatorFixture) newBundle(now func() time.Time, cache *identity.SignatureCache) *channelconfig.Bundle {
	f.t.Helper()
	b, err := channelconfig.NewBundle(f.cfg, channelconfig.BundleOptions{Now: now, SignatureCache: cache})
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func vfNewCA(t testing.TB, name, mspID string) *identity.CA {
	t.Helper()
	ca, err := identity.NewCA(name, mspID, vfCALifetime)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func vfIssue(t testing.TB, ca *identity.CA, cn string, role identity.Role, lifetime time.Duration) *identity.SigningIdentity {
	t.Helper()
	si, err := ca.IssueSigningIdentity(cn, role, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	return si
}

func vfDefinition(t testing.TB, name string, sequence uint64, pol string) []byte {
	t.Helper()
	return vfMarshal(t, &lifecyclepb.ContractDefinition{
		FormatVersion: 1, Name: name, Version: "1.0", Sequence: sequence, EndorsementPolicy: pol,
	})
}

func vfMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := envelope.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// commit writes nsRWSets directly into the world state as the only
// transaction of the next block.
func (f *validatorFixture) commit(nsRWSets ...envelope.NsRWSet) {
	f.t.Helper()
	u := f.state.NewBlockUpdates(f.height)
	if err := u.Add(0, fmt.Sprintf("setup-%d", f.height), timestamppb.Now(), nsRWSets); err != nil {
		f.t.Fatal(err)
	}
	b := f.db.NewBatch()
	defer b.Close()
	if err := u.WriteTo(b); err != nil {
		f.t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		f.t.Fatal(err)
	}
	f.height++
}

// definitions reads the definitions committed in the fixture's state, as
// internal/contract's reader does.
func (f *validatorFixture) definitions() peer.Definitions {
	return vfStateDefinitions{state: f.state, r: f.db}
}

type vfStateDefinitions struct {
	state *worldstate.State
	r     kv.Reader
}

func (d vfStateDefinitions) Definition(name string) (*lifecyclepb.ContractDefinition, error) {
	v, _, err := d.state.Get(d.r, "_lifecycle", "definitions/"+name)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("contract %s: %w", name, peer.ErrNotDefined)
	}
	def := &lifecyclepb.ContractDefinition{}
	if err := proto.Unmarshal(v, def); err != nil {
		return nil, err
	}
	return def, nil
}

// vfFailingDefinitions fails as a broken disk would.
type vfFailingDefinitions struct{}

func (vfFailingDefinitions) Definition(string) (*lifecyclepb.ContractDefinition, error) {
	return nil, errors.New("disk on fire")
}

// validate runs the fixture's validator on block with its bundle and
// definitions; seen are the transaction ids already in the ledger.
func (f *validatorFixture) validate(block *commonpb.Block, bundle *channelconfig.Bundle, seen ...string) *peer.ValidationResult {
	f.t.Helper()
	if bundle == nil {
		bundle = f.bundle
	}
	res, err := f.v.Validate(block, bundle, f.db, f.definitions(), vfSeen(seen...))
	if err != nil {
		f.t.Fatalf("Validate: %v", err)
	}
	// The writes hash the validator hands the ledger is the one the
	// ledger (and ledger verify) computes from the block and its filter.
	withFilter := &commonpb.Block{Header: block.Header, Data: block.Data, Metadata: &commonpb.BlockMetadata{}}
	if err := ledger.SetTxFilter(withFilter, res.Codes); err != nil {
		f.t.Fatal(err)
	}
	want, err := ledger.BlockWritesHash(withFilter)
	if err != nil {
		f.t.Fatal(err)
	}
	if !bytes.Equal(res.WritesHash, want) {
		f.t.Fatalf("block %d: the validator's writes hash %x, the block's %x", block.Header.Number, res.WritesHash, want)
	}
	return res
}

// vfSeen returns a txSeen function over ids.
func vfSeen(ids ...string) func(string) (bool, error) {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return func(id string) (bool, error) { return set[id], nil }
}

// block builds the next block (without committing it) from envelopes.
func (f *validatorFixture) block(envs ...[]byte) *commonpb.Block {
	return &commonpb.Block{
		Header: &commonpb.BlockHeader{Number: f.height, DataHash: ledger.DataHash(envs)},
		Data:   &commonpb.BlockData{Data: envs},
	}
}

// key returns a key no other transaction of the fixture uses.
func (f *validatorFixture) key() string {
	f.keys++
	return fmt.Sprintf("new%04d", f.keys)
}

func vfKV(items ...any) *kvrwsetpb.KVRWSet {
	kv := &kvrwsetpb.KVRWSet{}
	for _, it := range items {
		switch it := it.(type) {
		case *kvrwsetpb.KVRead:
			kv.Reads = append(kv.Reads, it)
		case *kvrwsetpb.KVWrite:
			kv.Writes = append(kv.Writes, it)
		case *kvrwsetpb.RangeQueryInfo:
			kv.RangeQueriesInfo = append(kv.RangeQueriesInfo, it)
		default:
			panic(fmt.Sprintf("vfKV: %T", it))
		}
	}
	return kv
}

func vfRead(key string, v *kvrwsetpb.Version) *kvrwsetpb.KVRead {
	return &kvrwsetpb.KVRead{Key: key, Version: v}
}

func vfWrite(key, value string) *kvrwsetpb.KVWrite {
	return &kvrwsetpb.KVWrite{Key: key, Value: []byte(value)}
}

func vfRange(start, end string, reads ...*kvrwsetpb.KVRead) *kvrwsetpb.RangeQueryInfo {
	return &kvrwsetpb.RangeQueryInfo{
		StartKey: start, EndKey: end, ItrExhausted: true,
		ReadsInfo: &kvrwsetpb.RangeQueryInfo_RawReads{RawReads: &kvrwsetpb.QueryReads{KvReads: reads}},
	}
}

// vfTx describes a transaction; its zero fields take the defaults of
// validatorFixture.tx.
type vfTx struct {
	creator   *identity.SigningIdentity // default Org1MSP's client
	channel   string                    // default mychannel
	typ       commonpb.HeaderType       // default ENDORSER_TRANSACTION
	contract  string                    // default assets
	nonce     []byte                    // default 24 random bytes
	txID      string                    // default hex(SHA-256(nonce ‖ creator))
	rw        []envelope.NsRWSet        // default: write a new key of the contract
	status    int32                     // default 200
	event     *peerpb.ChaincodeEvent
	endorsers []*identity.SigningIdentity // default Org1's and Org2's peers; use vfNoEndorsers for none
	// forgeEndorsement, when positive, has endorsement forgeEndorsement-1
	// signed by another key than its endorser's.
	forgeEndorsement int
	// forgeCreator has another key sign the payload.
	forgeCreator bool
	// actionHeader replaces the transaction action's signature header.
	actionHeader []byte
	// private adds a hashed private data collection to the first namespace.
	private bool
}

// vfNoEndorsers asks for a transaction without endorsements.
var vfNoEndorsers = []*identity.SigningIdentity{}

// tx builds a signed envelope as a Fabric client assembles it from its
// endorsements, and returns it with its transaction id.
func (f *validatorFixture) tx(spec vfTx) ([]byte, string) {
	t := f.t
	t.Helper()
	if spec.creator == nil {
		spec.creator = f.org1Client
	}
	if spec.channel == "" {
		spec.channel = vfChannel
	}
	if spec.typ == 0 {
		spec.typ = commonpb.HeaderType_ENDORSER_TRANSACTION
	}
	if spec.contract == "" {
		spec.contract = "assets"
	}
	if spec.nonce == nil {
		spec.nonce = make([]byte, 24)
		rand.Read(spec.nonce)
	}
	creator := spec.creator.Serialize()
	if spec.txID == "" {
		spec.txID = envelope.TxID(spec.nonce, creator)
	}
	if spec.rw == nil {
		spec.rw = []envelope.NsRWSet{{Namespace: spec.contract, KV: vfKV(vfWrite(f.key(), "value"))}}
	}
	if spec.status == 0 {
		spec.status = 200
	}
	if spec.endorsers == nil {
		spec.endorsers = []*identity.SigningIdentity{f.org1Peer, f.org2Peer}
	}

	chaincodeID := &peerpb.ChaincodeID{Name: spec.contract}
	ch := vfMarshal(t, &commonpb.ChannelHeader{
		Type:      int32(spec.typ),
		Timestamp: timestamppb.Now(),
		ChannelId: spec.channel,
		TxId:      spec.txID,
		Extension: vfMarshal(t, &peerpb.ChaincodeHeaderExtension{ChaincodeId: chaincodeID}),
	})
	sh := vfMarshal(t, &commonpb.SignatureHeader{Creator: creator, Nonce: spec.nonce})
	cpp := vfMarshal(t, &peerpb.ChaincodeProposalPayload{Input: vfMarshal(t, &peerpb.ChaincodeInvocationSpec{
		ChaincodeSpec: &peerpb.ChaincodeSpec{
			ChaincodeId: chaincodeID,
			Input:       &peerpb.ChaincodeInput{Args: [][]byte{[]byte("CreateAsset"), []byte("x")}},
		},
	})})

	results := &rwsetpb.TxReadWriteSet{DataModel: rwsetpb.TxReadWriteSet_KV}
	for i, ns := range spec.rw {
		n := &rwsetpb.NsReadWriteSet{Namespace: ns.Namespace, Rwset: vfMarshal(t, ns.KV)}
		if spec.private && i == 0 {
			n.CollectionHashedRwset = []*rwsetpb.CollectionHashedReadWriteSet{{CollectionName: "secrets", HashedRwset: []byte{1}}}
		}
		results.NsRwset = append(results.NsRwset, n)
	}
	action := &peerpb.ChaincodeAction{
		Results:     vfMarshal(t, results),
		Response:    &peerpb.Response{Status: spec.status, Message: "message of the contract"},
		ChaincodeId: chaincodeID,
	}
	if spec.event != nil {
		action.Events = vfMarshal(t, spec.event)
	}
	proposalHash := sha256.Sum256(append(append(append([]byte{}, ch...), sh...), cpp...))
	prp := vfMarshal(t, &peerpb.ProposalResponsePayload{ProposalHash: proposalHash[:], Extension: vfMarshal(t, action)})

	var endorsements []*peerpb.Endorsement
	for i, e := range spec.endorsers {
		signer := e
		if i == spec.forgeEndorsement-1 {
			signer = f.org2Client // another key
		}
		sig, err := signer.Sign(envelope.EndorsementSignedBytes(prp, e.Serialize()))
		if err != nil {
			t.Fatal(err)
		}
		endorsements = append(endorsements, &peerpb.Endorsement{Endorser: e.Serialize(), Signature: sig})
	}
	header := sh
	if spec.actionHeader != nil {
		header = spec.actionHeader
	}
	txBytes := vfMarshal(t, &peerpb.Transaction{Actions: []*peerpb.TransactionAction{{
		Header: header,
		Payload: vfMarshal(t, &peerpb.ChaincodeActionPayload{
			ChaincodeProposalPayload: cpp,
			Action:                   &peerpb.ChaincodeEndorsedAction{ProposalResponsePayload: prp, Endorsements: endorsements},
		}),
	}}})
	payload := vfMarshal(t, &commonpb.Payload{
		Header: &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh},
		Data:   txBytes,
	})
	signer := spec.creator
	if spec.forgeCreator {
		signer = f.org2Client
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return vfMarshal(t, &commonpb.Envelope{Payload: payload, Signature: sig}), spec.txID
}

// env is tx without the transaction id.
func (f *validatorFixture) env(spec vfTx) []byte {
	f.t.Helper()
	e, _ := f.tx(spec)
	return e
}

// configEnv returns an unsigned CONFIG envelope carrying cfg, as the
// orderer puts in a config block.
func (f *validatorFixture) configEnv(cfg *configpb.ChannelConfig) []byte {
	t := f.t
	t.Helper()
	nonce := make([]byte, 24)
	rand.Read(nonce)
	payload := vfMarshal(t, &commonpb.Payload{
		Header: &commonpb.Header{
			ChannelHeader: vfMarshal(t, &commonpb.ChannelHeader{
				Type: int32(commonpb.HeaderType_CONFIG), Timestamp: timestamppb.Now(),
				ChannelId: cfg.GetChannelId(), TxId: envelope.TxID(nonce, nil),
			}),
			SignatureHeader: vfMarshal(t, &commonpb.SignatureHeader{Nonce: nonce}),
		},
		Data: vfMarshal(t, cfg),
	})
	return vfMarshal(t, &commonpb.Envelope{Payload: payload})
}
