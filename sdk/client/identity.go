package client

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
)

// Identity is who the client is on the network: the MSP id of its
// organization and its X.509 certificate in PEM form.
//
// Certificate is kept byte for byte as the application supplied it: it goes
// verbatim into msp.SerializedIdentity.id_bytes, and the transaction ids and
// signatures the network checks cover those exact bytes. Do not re-encode it.
type Identity struct {
	// MSPID is the MSP id of the identity's organization, such as "Org1MSP".
	MSPID string
	// Certificate is the PEM text of the identity's X.509 certificate.
	Certificate []byte
}

// NewIdentity returns the identity of mspID with the PEM certificate
// certPEM, after checking that mspID is not empty and that certPEM holds an
// X.509 certificate. certPEM is copied, unchanged.
func NewIdentity(mspID string, certPEM []byte) (Identity, error) {
	id := Identity{MSPID: mspID, Certificate: bytes.Clone(certPEM)}
	if _, err := id.parseCertificate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// NewIdentityFromFiles reads the PEM certificate in certFile and returns the
// identity of mspID with it; see NewIdentity.
func NewIdentityFromFiles(mspID, certFile string) (Identity, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return Identity{}, fmt.Errorf("client: reading certificate: %w", err)
	}
	id, err := NewIdentity(mspID, certPEM)
	if err != nil {
		return Identity{}, fmt.Errorf("%w (file %s)", err, certFile)
	}
	return id, nil
}

// Serialize returns the identity as the network sees it: the deterministic
// encoding of msp.SerializedIdentity{mspid: MSPID, id_bytes: Certificate}.
// These bytes are the creator of the client's proposals and transactions
// and the identity of its commit-status and event requests.
func (id Identity) Serialize() ([]byte, error) {
	if id.MSPID == "" {
		return nil, errors.New("client: identity has no MSP id")
	}
	if len(id.Certificate) == 0 {
		return nil, fmt.Errorf("client: identity of %s has no certificate", id.MSPID)
	}
	b, err := marshal(&msppb.SerializedIdentity{Mspid: id.MSPID, IdBytes: id.Certificate})
	if err != nil {
		return nil, fmt.Errorf("client: serializing identity of %s: %w", id.MSPID, err)
	}
	return b, nil
}

// parseCertificate checks the identity and returns its parsed certificate:
// the first CERTIFICATE block of the PEM text.
func (id Identity) parseCertificate() (*x509.Certificate, error) {
	if id.MSPID == "" {
		return nil, errors.New("client: identity has no MSP id")
	}
	rest := id.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("client: certificate of %s: no PEM CERTIFICATE block found", id.MSPID)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("client: certificate of %s: %w", id.MSPID, err)
		}
		return cert, nil
	}
}

// marshal encodes m deterministically, so that maps (the transient map)
// always encode the same way.
func marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
