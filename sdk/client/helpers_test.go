package client

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, certPEM: pemBlock("CERTIFICATE", der), key: key}
}

// issue returns a PEM certificate for pub, with the DNS names given.
func (ca *testCA) issue(t *testing.T, cn string, pub crypto.PublicKey, dnsNames ...string) []byte {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{"client"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     dnsNames,
	}
	if len(dnsNames) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("CERTIFICATE", der)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

// testClient is an ECDSA P-256 client identity with its key.
type testClient struct {
	id      Identity
	key     *ecdsa.PrivateKey
	keyPEM  []byte
	signer  Signer
	creator []byte
}

func newTestClient(t *testing.T, ca *testCA, mspID string) *testClient {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity(mspID, ca.issue(t, "User1@"+mspID, &key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	creator, err := id.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return &testClient{id: id, key: key, keyPEM: pkcs8PEM(t, key), signer: signer, creator: creator}
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifyFabricSignature checks sig over msg by the identity serialized in
// creator, with the standard library only, as a Fabric verifier does:
// ECDSA P-256 DER over SHA-256(msg) with a low S, or Ed25519 over msg.
func verifyFabricSignature(creator, msg, sig []byte) error {
	var sid msppb.SerializedIdentity
	if err := proto.Unmarshal(creator, &sid); err != nil {
		return fmt.Errorf("creator: %w", err)
	}
	block, _ := pem.Decode(sid.GetIdBytes())
	if block == nil {
		return errors.New("creator: no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("creator: %w", err)
	}
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !isLowS(sig) {
			return errors.New("signature is not canonical low-S DER")
		}
		digest := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return errors.New("ECDSA signature does not verify")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, msg, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
	default:
		return fmt.Errorf("unexpected key %T", pub)
	}
	return nil
}

// ecdsaSignature is the ASN.1 form of an ECDSA signature, for encoding/asn1:
// the tests check the signer's DER independently of the reader it uses.
type ecdsaSignature struct {
	R, S *big.Int
}

// isLowS reports whether sig is canonical DER of (r, s) with 0 < s <= N/2.
func isLowS(sig []byte) bool {
	var s ecdsaSignature
	rest, err := asn1.Unmarshal(sig, &s)
	if err != nil || len(rest) != 0 || s.S.Sign() <= 0 {
		return false
	}
	canonical, err := asn1.Marshal(s)
	if err != nil || !bytes.Equal(canonical, sig) {
		return false
	}
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	return s.S.Cmp(half) <= 0
}

// withRand and withClock replace the nonce source and the clock.
func withRand(r io.Reader) Option           { return func(o *options) { o.rand = r } }
func withClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// repeatReader returns the same bytes on every read of their length.
type repeatReader []byte

func (r repeatReader) Read(p []byte) (int, error) { return copy(p, r), nil }

// preparedPayload builds the payload of a prepared transaction envelope the
// way a Gateway does (FABRIC-WIRE §1.6, Endorse) from the proposal's header
// bytes and the contract's response.
func preparedPayload(headerBytes []byte, chaincode string, response *peerpb.Response) ([]byte, error) {
	var header commonpb.Header
	if err := proto.Unmarshal(headerBytes, &header); err != nil {
		return nil, err
	}
	var b builder
	action := b.marshal(&peerpb.ChaincodeAction{
		Results:     []byte("read/write set"),
		Response:    response,
		ChaincodeId: &peerpb.ChaincodeID{Name: chaincode, Version: "1"},
	})
	prp := b.marshal(&peerpb.ProposalResponsePayload{ProposalHash: make([]byte, 32), Extension: action})
	actionPayload := b.marshal(&peerpb.ChaincodeActionPayload{
		ChaincodeProposalPayload: []byte("proposal payload without transient map"),
		Action: &peerpb.ChaincodeEndorsedAction{
			ProposalResponsePayload: prp,
			Endorsements:            []*peerpb.Endorsement{{Endorser: []byte("peer0"), Signature: []byte("sig")}},
		},
	})
	tx := b.marshal(&peerpb.Transaction{Actions: []*peerpb.TransactionAction{{Header: header.GetSignatureHeader(), Payload: actionPayload}}})
	payload := b.marshal(&commonpb.Payload{Header: &header, Data: tx})
	return payload, b.err
}
