package identity

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/identity/pemparse"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
)

// Serialize returns the bytes of msp.SerializedIdentity{mspid: mspID,
// id_bytes: certPEM}, the form in which an identity travels as a creator or
// an endorser. certPEM is kept byte for byte: Fabric's clients put the PEM
// text the application supplied, and the transaction id and the signatures
// cover these exact bytes. The marshalling is deterministic.
func Serialize(mspID string, certPEM []byte) ([]byte, error) {
	if mspID == "" {
		return nil, fmt.Errorf("identity: cannot serialize an identity without an MSP id")
	}
	if len(certPEM) == 0 {
		return nil, fmt.Errorf("identity: cannot serialize an identity of %s without a certificate", printable(mspID))
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&msppb.SerializedIdentity{Mspid: mspID, IdBytes: certPEM})
	if err != nil {
		return nil, fmt.Errorf("identity: serializing an identity of %s: %w", printable(mspID), err)
	}
	return b, nil
}

// Deserialize reads serialized identity bytes, as Serialize writes them, and
// parses the certificate. It checks the form only; MSP.DeserializeIdentity
// also validates the identity. The bytes are untrusted: every failure is an
// error matching ErrMalformedIdentity.
func Deserialize(serialized []byte) (mspID string, cert *x509.Certificate, err error) {
	sid, err := unmarshalSerialized(serialized)
	if err != nil {
		return "", nil, err
	}
	cert, err = parseIdentityCert(sid)
	if err != nil {
		return "", nil, err
	}
	return sid.GetMspid(), cert, nil
}

// unmarshalSerialized decodes a msp.SerializedIdentity and requires an MSP id.
func unmarshalSerialized(serialized []byte) (*msppb.SerializedIdentity, error) {
	if len(serialized) == 0 {
		return nil, newKindError(ErrMalformedIdentity, nil, "identity: malformed serialized identity: empty")
	}
	sid := new(msppb.SerializedIdentity)
	if err := proto.Unmarshal(serialized, sid); err != nil {
		return nil, newKindError(ErrMalformedIdentity, err, "identity: malformed serialized identity: "+err.Error())
	}
	if sid.GetMspid() == "" {
		return nil, newKindError(ErrMalformedIdentity, nil, "identity: malformed serialized identity: no MSP id")
	}
	return sid, nil
}

// parseIdentityCert parses the certificate in id_bytes.
func parseIdentityCert(sid *msppb.SerializedIdentity) (*x509.Certificate, error) {
	cert, err := parseFirstCertPEM(sid.GetIdBytes())
	if err != nil {
		return nil, newKindError(ErrMalformedIdentity, err,
			fmt.Sprintf("identity: malformed serialized identity of %s: id_bytes: %v", sid.GetMspid(), err))
	}
	return cert, nil
}

// ParseCertificatePEM parses the first PEM block of certPEM, which must be a
// CERTIFICATE. Like Fabric, it ignores what follows the first block (a chain
// appended by the application, say).
func ParseCertificatePEM(certPEM []byte) (*x509.Certificate, error) {
	cert, err := parseFirstCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return cert, nil
}

// parseFirstCertPEM is ParseCertificatePEM with errors that the caller
// prefixes.
func parseFirstCertPEM(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("no PEM block where a certificate was expected")
	}
	return pemparse.Certificate(block)
}
