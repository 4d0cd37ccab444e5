package identity_test

import (
	"fmt"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
)

// An organization's CA issues a peer certificate; the peer signs; another
// node validates the peer's serialized identity with Org1's MSP and checks
// the signature.
func Example() {
	ca, err := identity.NewCA("ca.org1.example.com", "Org1MSP", 24*time.Hour)
	if err != nil {
		panic(err)
	}
	certPEM, keyPEM, err := ca.Issue("peer0.org1.example.com", identity.RolePeer, time.Hour, "localhost", "127.0.0.1")
	if err != nil {
		panic(err)
	}
	signer, err := identity.LoadSigningIdentity("Org1MSP", certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	msg := []byte("proposal response payload")
	sig, err := signer.Sign(msg)
	if err != nil {
		panic(err)
	}

	msp, err := identity.NewMSP(identity.MSPConfig{
		ID:             "Org1MSP",
		RootCerts:      [][]byte{ca.CertificatePEM()},
		SignatureCache: identity.NewSignatureCache(0),
	})
	if err != nil {
		panic(err)
	}
	id, err := msp.DeserializeIdentity(signer.Serialize())
	if err != nil {
		panic(err)
	}
	fmt.Println(id, id.HasRole(identity.RolePeer), id.Verify(msg, sig))

	_, err = msp.DeserializeIdentity(mustSerialize("Org3MSP", certPEM))
	fmt.Println(err)
	// Output:
	// Org1MSP CN=peer0.org1.example.com (peer) true <nil>
	// identity: MSP id Org3MSP is not Org1MSP
}

func mustSerialize(mspID string, certPEM []byte) []byte {
	b, err := identity.Serialize(mspID, certPEM)
	if err != nil {
		panic(err)
	}
	return b
}
