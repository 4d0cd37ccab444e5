package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
)

func TestLoadSigningIdentityKeyFormats(t *testing.T) {
	p := pki(t)
	key, err := ParsePrivateKeyPEM(p.client.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	// openssl ecparam -genkey writes the curve's parameters first.
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})

	m := newTestMSP(t, p.org1Config(nil))
	for _, tc := range []struct {
		name            string
		certPEM, keyPEM []byte
	}{
		{"PKCS#8 P-256", p.client.certPEM, p.client.keyPEM},
		{"SEC1 P-256", p.client.certPEM, sec1PEM},
		{"EC PARAMETERS then SEC1", p.client.certPEM, append(append([]byte{}, params...), sec1PEM...)},
		{"PKCS#8 Ed25519", p.edClient.certPEM, p.edClient.keyPEM},
		{"certificate with text around it", append(append([]byte{}, p.client.certPEM...), "\n# comment\n"...), p.client.keyPEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSigningIdentity("Org1MSP", tc.certPEM, tc.keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			var sid msppb.SerializedIdentity
			if err := proto.Unmarshal(s.Serialize(), &sid); err != nil {
				t.Fatal(err)
			}
			if sid.Mspid != "Org1MSP" || !bytes.Equal(sid.IdBytes, tc.certPEM) {
				t.Fatalf("serialized identity is %q with id_bytes %q; want the PEM byte for byte", sid.Mspid, sid.IdBytes)
			}
			if !bytes.Equal(s.CertificatePEM(), tc.certPEM) || s.MSPID() != "Org1MSP" {
				t.Fatal("accessors do not return what was given")
			}
			msg := []byte("proposal")
			sig, err := s.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := m.DeserializeIdentity(s.Serialize())
			if err != nil {
				t.Fatal(err)
			}
			if err := id.Verify(msg, sig); err != nil {
				t.Fatalf("identity does not verify its own signature: %v", err)
			}
			if !publicKeysEqual(s.PublicKey(), id.PublicKey()) || !s.Expiry().Equal(id.Expiry()) {
				t.Fatal("signing identity and identity disagree")
			}
		})
	}
}

func TestSigningIdentityKeepsItsOwnCopy(t *testing.T) {
	p := pki(t)
	certPEM := bytes.Clone(p.client.certPEM)
	s, err := LoadSigningIdentity("Org1MSP", certPEM, p.client.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	before := bytes.Clone(s.Serialize())
	certPEM[40] ^= 0xff
	if !bytes.Equal(s.Serialize(), before) || !bytes.Equal(s.CertificatePEM(), p.client.certPEM) {
		t.Fatal("changing the caller's slice changed the signing identity")
	}
}

func TestLoadSigningIdentityErrors(t *testing.T) {
	p := pki(t)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519DER, err := x509.MarshalPKCS8PrivateKey(x25519)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	pemOfType := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }

	for _, tc := range []struct {
		name            string
		mspID           string
		certPEM, keyPEM []byte
		want            string
		is              error
	}{
		{"key of another certificate", "Org1MSP", p.client.certPEM, p.peer.keyPEM, "private key does not match the public key of the certificate for CN=User1@org1.example.com", nil},
		{"no MSP id", "", p.client.certPEM, p.client.keyPEM, "without an MSP id", nil},
		{"no key", "Org1MSP", p.client.certPEM, nil, "no private key PEM block", nil},
		{"key is a certificate", "Org1MSP", p.client.certPEM, p.client.certPEM, `PEM block is "CERTIFICATE"`, nil},
		{"garbage key", "Org1MSP", p.client.certPEM, pemOfType("PRIVATE KEY", []byte("garbage")), "parsing PRIVATE KEY", nil},
		{"encrypted PKCS#8", "Org1MSP", p.client.certPEM, pemOfType("ENCRYPTED PRIVATE KEY", []byte("x")), "encrypted private keys are not supported", nil},
		{"X25519 key", "Org1MSP", p.client.certPEM, pemOfType("PRIVATE KEY", x25519DER), "*ecdh.PrivateKey not supported", ErrUnsupportedKey},
		{"P-384 key", "Org1MSP", p.client.certPEM, pemOfType("PRIVATE KEY", p384DER), "ECDSA P-384 key not supported", ErrUnsupportedKey},
		{"P-384 certificate", "Org1MSP", p.p384.certPEM, p.p384.keyPEM, "ECDSA P-384 key not supported", ErrUnsupportedKey},
		{"no certificate", "Org1MSP", nil, p.client.keyPEM, "no PEM block where a certificate was expected", nil},
		{"certificate is a key", "Org1MSP", p.client.keyPEM, p.client.keyPEM, `PEM block is "PRIVATE KEY", want "CERTIFICATE"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadSigningIdentity(tc.mspID, tc.certPEM, tc.keyPEM)
			if err == nil {
				t.Fatal("no error")
			}
			checkPrefix(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
		})
	}
}

// An identity a CA issues ready to sign is one its organization's MSP
// accepts, with the role asked for, and its signatures verify.
func TestIssueSigningIdentity(t *testing.T) {
	p := pki(t)
	si, err := p.org1.IssueSigningIdentity("user9", RoleClient, time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if si.MSPID() != "Org1MSP" || si.Certificate().Subject.CommonName != "user9" || len(si.Certificate().IPAddresses) != 1 {
		t.Fatalf("issued %s with SANs %v", si, si.Certificate().IPAddresses)
	}
	id, err := newTestMSP(t, p.org1Config(nil)).DeserializeIdentity(si.Serialize())
	if err != nil {
		t.Fatal(err)
	}
	if !id.HasRole(RoleClient) {
		t.Errorf("%s is not a client", id)
	}
	msg := []byte("signed by an issued identity")
	sig, err := si.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Verify(msg, sig); err != nil {
		t.Errorf("its signature: %v", err)
	}
	if _, err := p.org1.IssueSigningIdentity("", RoleClient, time.Hour); err == nil {
		t.Error("an identity without a common name was issued")
	}
}
