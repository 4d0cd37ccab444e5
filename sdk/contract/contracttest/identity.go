package contracttest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/chorusledger/chorus/sdk/contract/cid"
)

// Identity is a transaction's creator: an MSP id and an X.509 certificate
// in PEM, serialized as Fabric's msp.SerializedIdentity. Make one with
// NewIdentity, or fill it with a certificate of your own.
type Identity struct {
	MSPID       string
	Certificate []byte // PEM
}

// NewIdentity returns a client of the organization mspID whose certificate
// has the common name commonName, issued by the organization's CA as
// Fabric's cryptogen issues them. For "Org1MSP" and "User1@org1.example.com":
//
//	subject CN=User1@org1.example.com,OU=client,L=San Francisco,ST=California,C=US
//	issuer  CN=ca.org1.example.com,O=org1.example.com,L=San Francisco,ST=California,C=US
//
// (the organization's domain is mspID without its "MSP" suffix, in lower
// case, under example.com). The certificate is deterministic: its Ed25519
// keys derive from the names, so the same arguments give the same bytes;
// it is for tests only.
func NewIdentity(mspID, commonName string) Identity {
	domain := strings.ToLower(strings.TrimSuffix(mspID, "MSP")) + ".example.com"
	caName := pkix.Name{
		Country: []string{"US"}, Province: []string{"California"}, Locality: []string{"San Francisco"},
		Organization: []string{domain}, CommonName: "ca." + domain,
	}
	subject := pkix.Name{
		Country: []string{"US"}, Province: []string{"California"}, Locality: []string{"San Francisco"},
		OrganizationalUnit: []string{"client"}, CommonName: commonName,
	}
	caKey := keyFor("ca", mspID)
	key := keyFor("member", mspID, commonName)
	notBefore := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber: serialFor(mspID, commonName),
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notBefore.AddDate(100, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	parent := &x509.Certificate{Subject: caName, SubjectKeyId: []byte("ca." + domain)}
	tmpl.AuthorityKeyId = parent.SubjectKeyId
	der, err := x509.CreateCertificate(nil, tmpl, parent, key.Public(), caKey)
	if err != nil {
		// Only a broken template fails, and the template is fixed.
		panic(fmt.Errorf("contracttest: NewIdentity: %w", err))
	}
	return Identity{MSPID: mspID, Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func keyFor(parts ...string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("contracttest key\x00" + strings.Join(parts, "\x00")))
	return ed25519.NewKeyFromSeed(seed[:])
}

func serialFor(parts ...string) *big.Int {
	h := sha256.Sum256([]byte("contracttest serial\x00" + strings.Join(parts, "\x00")))
	return new(big.Int).SetBytes(h[:16])
}

// Serialized returns the identity as a transaction carries it: the bytes
// of an msp.SerializedIdentity, which Stub.GetCreator returns.
func (id Identity) Serialized() []byte {
	return cid.MarshalSerializedIdentity(id.MSPID, id.Certificate)
}

// ClientID returns the identity's Fabric client id, as cid's GetID returns
// it to a contract: base64 of "x509::<subject>::<issuer>". It panics if the
// certificate does not parse.
func (id Identity) ClientID() string {
	ci, err := cid.Parse(id.Serialized())
	if err != nil {
		panic(fmt.Errorf("contracttest: ClientID: %w", err))
	}
	s, _ := ci.GetID()
	return s
}
