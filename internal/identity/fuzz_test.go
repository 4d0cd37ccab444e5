package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"testing"
)

// fuzzManager is a Manager of Org1 and Org2 for the fuzz targets.
func fuzzManager(f *testing.F) (*testPKI, *Manager) {
	p := pki(f)
	mg, err := NewManager(newTestMSP(f, p.org1Config(nil)), newTestMSP(f, p.org2Config()))
	if err != nil {
		f.Fatal(err)
	}
	return p, mg
}

// checkIdentity checks what any accepted identity must satisfy.
func checkIdentity(t *testing.T, mg *Manager, id *Identity, serialized []byte) {
	if _, ok := mg.MSP(id.MSPID()); !ok {
		t.Fatalf("accepted an identity of MSP %q", id.MSPID())
	}
	if !bytes.Equal(id.Serialized(), serialized) {
		t.Fatal("identity does not keep the bytes it was read from")
	}
	if !id.HasRole(RoleMember) || id.Role() == RoleMember || id.Certificate().IsCA {
		t.Fatalf("accepted identity %v breaks an invariant", id)
	}
}

// FuzzDeserializeIdentity feeds untrusted serialized identity bytes to an
// MSP manager: it must never panic, and whatever it accepts must be sound.
func FuzzDeserializeIdentity(f *testing.F) {
	p, mg := fuzzManager(f)
	for _, seed := range [][]byte{
		mustSerialize(f, "Org1MSP", p.client.certPEM),
		mustSerialize(f, "Org1MSP", p.interClient.certPEM),
		mustSerialize(f, "Org1MSP", p.edClient.certPEM),
		mustSerialize(f, "Org1MSP", p.revoked.certPEM),
		mustSerialize(f, "Org2MSP", p.org2Peer.certPEM),
		mustSerialize(f, "Org2MSP", p.client.certPEM),
		mustSerialize(f, "Org9MSP", p.client.certPEM),
		mustSerialize(f, "Org1MSP", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
		{},
		{0x0a},
		{0x0a, 0x07, 'O', 'r', 'g', '1', 'M', 'S', 'P', 0x12, 0x80},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, serialized []byte) {
		id, err := mg.DeserializeIdentity(serialized)
		if err == nil {
			checkIdentity(t, mg, id, serialized)
		}
		if mspID, cert, err := Deserialize(serialized); err == nil && (mspID == "" || cert == nil) {
			t.Fatal("Deserialize succeeded without an MSP id or a certificate")
		}
	})
}

// FuzzSerializedMSPID requires the Manager's quick read of the MSP id to
// agree with a full decoding: whenever one succeeds, both do, with the same
// id.
func FuzzSerializedMSPID(f *testing.F) {
	p := pki(f)
	for _, seed := range [][]byte{
		mustSerialize(f, "Org1MSP", p.client.certPEM),
		{0x0a, 0x02, 'A', 'B', 0x0a, 0x02, 'C', 'D'},           // repeated: the last wins
		{0x08, 0x01, 0x0a, 0x01, 'X'},                          // field 1 as a varint, then bytes
		{0x0a, 0x02, 0xff, 0xfe},                               // not UTF-8
		{0x0a, 0x01, 'A', 0x1b, 0x08, 0x01, 0x1c},              // a group
		{0x0a, 0x01, 'A', 0x0a, 0x00},                          // an empty id last
		{0x12, 0x03, 'a', 'b', 'c', 0x0a, 0x03, 'O', 'r', 'g'}, // id after id_bytes
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, serialized []byte) {
		quick, ok := serializedMSPID(serialized)
		sid, err := unmarshalSerialized(serialized)
		if ok != (err == nil) {
			t.Fatalf("quick read ok=%v (%q), full decoding error %v", ok, quick, err)
		}
		if ok && string(quick) != sid.GetMspid() {
			t.Fatalf("quick read %q, full decoding %q", quick, sid.GetMspid())
		}
	})
}

// FuzzDeserializeCertificate feeds untrusted certificate DER, in a
// well-formed serialized identity, to an MSP manager.
func FuzzDeserializeCertificate(f *testing.F) {
	p, mg := fuzzManager(f)
	for _, x := range []struct {
		mspID string
		der   []byte
	}{
		{"Org1MSP", p.client.cert.Raw},
		{"Org1MSP", p.twoRoles.cert.Raw},
		{"Org1MSP", p.p384.cert.Raw},
		{"Org1MSP", p.org1.Certificate().Raw},
		{"Org1MSP", p.org2Peer.cert.Raw},
		{"Org2MSP", p.org2Peer.cert.Raw},
		{"Org1MSP", p.client.cert.Raw[:100]},
		{"\xd4", []byte("0")},
	} {
		f.Add(x.mspID, x.der)
	}
	f.Fuzz(func(t *testing.T, mspID string, der []byte) {
		if mspID == "" {
			return
		}
		serialized, err := Serialize(mspID, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		if err != nil {
			return // an MSP id that is not UTF-8 cannot be a proto3 string
		}
		if id, err := mg.DeserializeIdentity(serialized); err == nil {
			checkIdentity(t, mg, id, serialized)
		}
	})
}

// FuzzVerify checks arbitrary messages and signatures against a P-256 and an
// Ed25519 key: no panic, and nothing accepted that the standard library
// rejects or that has a high S.
func FuzzVerify(f *testing.F) {
	ecKey := newP256(f)
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("seed message")
	ecSig, err := Sign(ecKey, msg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg, ecSig)
	f.Add(msg, flipS(f, ecSig))
	f.Add(msg, ed25519.Sign(edKey, msg))
	f.Add([]byte{}, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Add([]byte{}, []byte{0x30, 0x80})
	cache := NewSignatureCache(64)
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		digest := sha256.Sum256(msg)
		err := Verify(&ecKey.PublicKey, msg, sig)
		if err == nil && (!IsLowS(sig) || !ecdsa.VerifyASN1(&ecKey.PublicKey, digest[:], sig)) {
			t.Fatalf("accepted ECDSA signature %x that is high-S or invalid", sig)
		}
		if cached := cache.Verify(&ecKey.PublicKey, msg, sig); (cached == nil) != (err == nil) {
			t.Fatalf("cache says %v, Verify says %v", cached, err)
		}
		err = Verify(edPub, msg, sig)
		if err == nil && !ed25519.Verify(edPub, msg, sig) {
			t.Fatalf("accepted Ed25519 signature %x that the standard library rejects", sig)
		}
		if cached := cache.Verify(edPub, msg, sig); (cached == nil) != (err == nil) {
			t.Fatalf("cache says %v, Verify says %v", cached, err)
		}
	})
}
