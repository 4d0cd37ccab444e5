package ledger

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/fabrictest"
	"github.com/chorusledger/chorus/internal/kv"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
)

const testChannel = "mychannel"

func loadFabricBlocks(t testing.TB) ([]*commonpb.Block, [][]byte) {
	t.Helper()
	raws := fabrictest.RawBlocks(t)
	blocks := make([]*commonpb.Block, len(raws))
	for i, raw := range raws {
		b, err := UnmarshalBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		blocks[i] = b
	}
	return blocks, raws
}

// x509Verifier checks a signature as Fabric's MSPs do for ECDSA
// identities: the creator is a SerializedIdentity whose id_bytes hold a PEM
// certificate, and the signature is ASN.1 DER ECDSA over SHA-256(msg).
func x509Verifier(creator, msg, sig []byte) error {
	id := &msppb.SerializedIdentity{}
	if err := proto.Unmarshal(creator, id); err != nil {
		return fmt.Errorf("decode identity: %w", err)
	}
	blk, _ := pem.Decode(id.IdBytes)
	if blk == nil {
		return errors.New("identity holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("certificate key is %T, not ECDSA", cert.PublicKey)
	}
	d := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		return errors.New("ECDSA signature does not verify")
	}
	return nil
}

// testSigner is an orderer identity with a self-signed P-256 certificate.
type testSigner struct {
	key        *ecdsa.PrivateKey
	serialized []byte
}

func newTestSigner(t testing.TB, mspID string) *testSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "orderer0", Organization: []string{mspID}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ser, err := proto.Marshal(&msppb.SerializedIdentity{Mspid: mspID, IdBytes: pemBytes})
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{key: key, serialized: ser}
}

func (s *testSigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, s.key, d[:])
}

func (s *testSigner) Serialize() []byte { return s.serialized }

// write is one KV write of a test transaction.
type write struct {
	ns, key string
	value   []byte
	del     bool
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := envelope.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testCreator = func() []byte {
	b, _ := proto.Marshal(&msppb.SerializedIdentity{Mspid: "Org1MSP", IdBytes: []byte("-----BEGIN CERTIFICATE-----\nnot a real certificate\n-----END CERTIFICATE-----\n")})
	return b
}()

// endorserTx builds an ENDORSER_TRANSACTION envelope whose transaction id
// derives from seed, writing the given keys. The envelope's signature is
// filler: the ledger never checks it.
func endorserTx(t testing.TB, seed uint64, writes []write, pad int) []byte {
	t.Helper()
	nonce := binary.BigEndian.AppendUint64(make([]byte, 0, 24), seed)
	nonce = append(nonce, make([]byte, 16)...)
	txID := envelope.TxID(nonce, testCreator)
	sh := mustMarshal(t, &commonpb.SignatureHeader{Creator: testCreator, Nonce: nonce})
	ch := mustMarshal(t, &commonpb.ChannelHeader{
		Type:      int32(commonpb.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: testChannel,
		TxId:      txID,
		Extension: mustMarshal(t, &peerpb.ChaincodeHeaderExtension{ChaincodeId: &peerpb.ChaincodeID{Name: "assets"}}),
	})
	// Group writes by namespace, keeping first-seen order.
	var order []string
	byNS := map[string]*kvrwsetpb.KVRWSet{}
	for _, w := range writes {
		set, ok := byNS[w.ns]
		if !ok {
			set = &kvrwsetpb.KVRWSet{}
			byNS[w.ns] = set
			order = append(order, w.ns)
		}
		set.Writes = append(set.Writes, &kvrwsetpb.KVWrite{Key: w.key, Value: w.value, IsDelete: w.del})
	}
	rws := &rwsetpb.TxReadWriteSet{DataModel: rwsetpb.TxReadWriteSet_KV}
	for _, ns := range order {
		rws.NsRwset = append(rws.NsRwset, &rwsetpb.NsReadWriteSet{Namespace: ns, Rwset: mustMarshal(t, byNS[ns])})
	}
	action := mustMarshal(t, &peerpb.ChaincodeAction{
		Results:  mustMarshal(t, rws),
		Response: &peerpb.Response{Status: 200, Payload: make([]byte, pad)},
	})
	prp := mustMarshal(t, &peerpb.ProposalResponsePayload{ProposalHash: make([]byte, 32), Extension: action})
	cpp := mustMarshal(t, &peerpb.ChaincodeProposalPayload{Input: mustMarshal(t, &peerpb.ChaincodeInvocationSpec{
		ChaincodeSpec: &peerpb.ChaincodeSpec{
			ChaincodeId: &peerpb.ChaincodeID{Name: "assets"},
			Input:       &peerpb.ChaincodeInput{Args: [][]byte{[]byte("CreateAsset"), []byte(fmt.Sprint(seed))}},
		},
	})})
	tx := mustMarshal(t, &peerpb.Transaction{Actions: []*peerpb.TransactionAction{{
		Header: sh,
		Payload: mustMarshal(t, &peerpb.ChaincodeActionPayload{
			ChaincodeProposalPayload: cpp,
			Action: &peerpb.ChaincodeEndorsedAction{
				ProposalResponsePayload: prp,
				Endorsements:            []*peerpb.Endorsement{{Endorser: testCreator, Signature: make([]byte, 70)}},
			},
		}),
	}}})
	payload := mustMarshal(t, &commonpb.Payload{
		Header: &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh},
		Data:   tx,
	})
	return mustMarshal(t, &commonpb.Envelope{Payload: payload, Signature: make([]byte, 70)})
}

// configTx builds a CONFIG envelope, as a genesis block holds.
func configTx(t testing.TB, seed uint64) []byte {
	t.Helper()
	nonce := binary.BigEndian.AppendUint64(nil, seed)
	ch := mustMarshal(t, &commonpb.ChannelHeader{
		Type:      int32(commonpb.HeaderType_CONFIG),
		ChannelId: testChannel,
		TxId:      envelope.TxID(nonce, testCreator),
	})
	sh := mustMarshal(t, &commonpb.SignatureHeader{Creator: testCreator, Nonce: nonce})
	payload := mustMarshal(t, &commonpb.Payload{
		Header: &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh},
		Data:   mustMarshal(t, &commonpb.ConfigEnvelope{Config: &commonpb.Config{Sequence: 1}}),
	})
	return mustMarshal(t, &commonpb.Envelope{Payload: payload})
}

func txIDOfSeed(seed uint64) string {
	nonce := binary.BigEndian.AppendUint64(make([]byte, 0, 24), seed)
	nonce = append(nonce, make([]byte, 16)...)
	return envelope.TxID(nonce, testCreator)
}

// chain builds signed, validated blocks that continue a ledger, as an
// orderer and a peer would between them.
type chain struct {
	t      testing.TB
	signer Signer
	num    uint64
	prev   []byte
	seed   uint64
}

func newChain(t testing.TB, signer Signer) *chain { return &chain{t: t, signer: signer} }

// genesis returns an unsigned block 0 with one config transaction.
func (c *chain) genesis() *commonpb.Block {
	b := NewBlock(0, nil, [][]byte{configTx(c.t, 1_000_000)})
	if err := SetTxFilter(b, []peerpb.TxValidationCode{peerpb.TxValidationCode_VALID}); err != nil {
		c.t.Fatal(err)
	}
	c.advance(b)
	return b
}

func (c *chain) advance(b *commonpb.Block) {
	c.num = b.Header.Number + 1
	c.prev = HeaderHash(b.Header)
}

// next returns the next block holding envs, signed, with the codes as its
// transaction filter (all VALID when codes is nil).
func (c *chain) next(envs [][]byte, codes []peerpb.TxValidationCode) *commonpb.Block {
	c.t.Helper()
	b := NewBlock(c.num, c.prev, envs)
	if err := SignBlock(b, c.signer, 0, 2, 100+c.num); err != nil {
		c.t.Fatal(err)
	}
	if codes == nil {
		codes = make([]peerpb.TxValidationCode, len(envs))
	}
	if err := SetTxFilter(b, codes); err != nil {
		c.t.Fatal(err)
	}
	c.advance(b)
	return b
}

// txs returns n endorser transactions with fresh ids, each writing one key.
func (c *chain) txs(n, pad int) [][]byte {
	envs := make([][]byte, n)
	for i := range envs {
		c.seed++
		envs[i] = endorserTx(c.t, c.seed, []write{{ns: "assets", key: fmt.Sprintf("asset%d", c.seed), value: []byte(fmt.Sprintf(`{"n":%d}`, c.seed))}}, pad)
	}
	return envs
}

func openMemDB(t testing.TB, fs kv.FS) *kv.DB {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openLedger(t testing.TB, db *kv.DB) *Ledger {
	t.Helper()
	l, err := Open(db, testChannel)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// peerAppend appends as a peer does: with the commit hash.
func peerAppend(t testing.TB, l *Ledger, b *commonpb.Block, writers ...BatchWriter) {
	t.Helper()
	if err := l.Append(b, AppendOptions{FillCommitHash: true, Writers: writers}); err != nil {
		t.Fatal(err)
	}
}

// buildLedger appends a genesis block and n signed blocks of txs
// transactions each.
func buildLedger(t testing.TB, l *Ledger, c *chain, n, txs int) {
	t.Helper()
	peerAppend(t, l, c.genesis())
	for i := 0; i < n; i++ {
		peerAppend(t, l, c.next(c.txs(txs, 0), nil))
	}
}

// verifyAll checks everything, signatures included.
var verifyAll = VerifyOptions{Verifier: x509Verifier, MinSignatures: 1}

// storedBlock returns block num of the test channel as stored: read
// through its locator from its segment, or the inline value.
func storedBlock(t testing.TB, db *kv.DB, num uint64) []byte {
	t.Helper()
	s := newSegments(db, testChannel)
	defer s.close()
	v, err := db.Get(newKeys(testChannel).block(num))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.resolve(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(raw)
}

// storedLocator returns the locator of block num of the test channel.
func storedLocator(t testing.TB, db *kv.DB, num uint64) locator {
	t.Helper()
	v, err := db.Get(newKeys(testChannel).block(num))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := decodeLocator(v)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// writeSegment writes p at off in segment n of the test channel and syncs.
func writeSegment(t testing.TB, db *kv.DB, n uint32, off int64, p []byte) {
	t.Helper()
	s := newSegments(db, testChannel)
	f, err := db.FS().OpenReadWrite(db.FS().PathJoin(s.dir, segmentName(n)), kv.WriteCategory)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// record returns raw framed as a segment record, with a correct checksum.
func record(raw []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(raw)))
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(raw, castagnoli))
	return append(out, raw...)
}

// rewriteStoredBlock replaces block num's bytes in its segment record with
// raw, of the same length, and a checksum to match: damage done on
// purpose, which only the ledger's hashes and signatures can catch.
func rewriteStoredBlock(t testing.TB, db *kv.DB, num uint64, raw []byte) {
	t.Helper()
	loc := storedLocator(t, db, num)
	if int(loc.length) != len(raw) {
		t.Fatalf("rewrite of block %d: %d bytes for a record of %d", num, len(raw), loc.length)
	}
	writeSegment(t, db, loc.segment, int64(loc.offset), record(raw))
}
