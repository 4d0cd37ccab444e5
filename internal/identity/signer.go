package identity

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chorusledger/chorus/internal/identity/pemparse"
)

// Signer signs messages as one identity: the creator of proposals and
// transactions, the endorser of proposal responses, the orderer of blocks.
// Implementations are safe for concurrent use.
type Signer interface {
	// Sign returns the signature of msg: for ECDSA P-256, a low-S ASN.1 DER
	// signature over SHA-256(msg); for Ed25519, the signature of msg itself.
	Sign(msg []byte) ([]byte, error)
	// Serialize returns the signer's serialized identity
	// (msp.SerializedIdentity bytes), as it goes into a SignatureHeader's
	// creator or an Endorsement's endorser. The caller must not modify it.
	Serialize() []byte
}

// SigningIdentity is an identity with its private key: an MSP id, a
// certificate kept as the exact PEM bytes it was given, and the key of that
// certificate. It implements Signer and is safe for concurrent use.
type SigningIdentity struct {
	mspID      string
	certPEM    []byte
	cert       *x509.Certificate
	key        crypto.Signer
	serialized []byte
	keyID      [sha256.Size]byte // SHA-256 of the certificate's public key, as MSP identities name it
}

var _ Signer = (*SigningIdentity)(nil)

// NewSigningIdentity bundles an MSP id, a PEM certificate and its private key.
// The key must be ECDSA P-256 or Ed25519 and match the certificate's public
// key. certPEM is copied and kept byte for byte; its first block is the
// certificate. It does not validate the certificate against an MSP: that is
// the verifier's business.
func NewSigningIdentity(mspID string, certPEM []byte, key crypto.Signer) (*SigningIdentity, error) {
	if mspID == "" {
		return nil, errors.New("identity: signing identity without an MSP id")
	}
	cert, err := parseFirstCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: certificate of %s signing identity: %w", mspID, err)
	}
	name := "certificate for " + subjectName(cert)
	if err := checkSupportedKey(cert.PublicKey, name); err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("identity: private key does not match the public key of the %s", name)
	}
	certPEM = bytes.Clone(certPEM)
	serialized, err := Serialize(mspID, certPEM)
	if err != nil {
		return nil, err
	}
	return &SigningIdentity{mspID: mspID, certPEM: certPEM, cert: cert, key: key, serialized: serialized,
		keyID: sha256.Sum256(cert.RawSubjectPublicKeyInfo)}, nil
}

// LoadSigningIdentity builds a SigningIdentity from a PEM certificate and a
// PEM private key (PKCS#8 "PRIVATE KEY", or SEC1 "EC PRIVATE KEY").
func LoadSigningIdentity(mspID string, certPEM, keyPEM []byte) (*SigningIdentity, error) {
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	return NewSigningIdentity(mspID, certPEM, key)
}

// Sign signs msg with the identity's key; see the package function Sign.
func (s *SigningIdentity) Sign(msg []byte) ([]byte, error) { return Sign(s.key, msg) }

// SignAndRemember is Sign, recording the signature in cache as valid: for
// a signature this process will meet again, such as a peer's own
// endorsement in the block it validates. It costs less than Sign followed
// by the cache's Remember, which must name the key and hash msg again.
//
// A signature from a key outside this process (a crypto.Signer other than
// Go's own ECDSA and Ed25519 keys, such as a hardware module's) is
// verified before it is remembered: a faulty device's signature would
// otherwise pass here and fail on every other node.
func (s *SigningIdentity) SignAndRemember(msg []byte, cache *SignatureCache) ([]byte, error) {
	sig, digest, err := sign(s.key, msg)
	if err != nil {
		return nil, err
	}
	if cache == nil {
		return sig, nil
	}
	switch s.key.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		if err := verifyDigest(s.cert.PublicKey, msg, &digest, sig); err != nil {
			return nil, fmt.Errorf("identity: the %s key's signature does not verify: %w", s, err)
		}
	}
	cache.remember(&s.keyID, &digest, sig)
	return sig, nil
}

// Serialize returns the serialized identity, computed once. The caller must
// not modify it.
func (s *SigningIdentity) Serialize() []byte { return s.serialized }

// MSPID returns the MSP id of the identity.
func (s *SigningIdentity) MSPID() string { return s.mspID }

// CertificatePEM returns the certificate's PEM bytes exactly as given. The
// caller must not modify them.
func (s *SigningIdentity) CertificatePEM() []byte { return s.certPEM }

// Certificate returns the parsed certificate. The caller must not modify it.
func (s *SigningIdentity) Certificate() *x509.Certificate { return s.cert }

// PublicKey returns the public key of the certificate.
func (s *SigningIdentity) PublicKey() crypto.PublicKey { return s.cert.PublicKey }

// Expiry returns the certificate's NotAfter.
func (s *SigningIdentity) Expiry() time.Time { return s.cert.NotAfter }

// String names the identity for logs: "Org1MSP CN=peer0.org1".
func (s *SigningIdentity) String() string { return s.mspID + " " + subjectName(s.cert) }

// ParsePrivateKeyPEM reads an ECDSA P-256 or Ed25519 private key from PEM:
// PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY", possibly preceded by an
// "EC PARAMETERS" block as openssl writes it). Encrypted keys are refused.
func ParsePrivateKeyPEM(keyPEM []byte) (crypto.Signer, error) {
	key, err := pemparse.PrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	var signer crypto.Signer
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		signer = k
	case ed25519.PrivateKey:
		signer = k
	default:
		return nil, newKindError(ErrUnsupportedKey, nil,
			fmt.Sprintf("identity: private key: %T not supported (want ECDSA P-256 or Ed25519)", key))
	}
	if err := checkSupportedKey(signer.Public(), "private key"); err != nil {
		return nil, err
	}
	return signer, nil
}

// publicKeysEqual compares two public keys of any supported kind.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// subjectName names a certificate in messages: "CN=alice" when it has a
// common name, its whole subject otherwise.
func subjectName(cert *x509.Certificate) string {
	if cn := cert.Subject.CommonName; cn != "" {
		return "CN=" + printable(cn)
	}
	if s := cert.Subject.String(); s != "" {
		return printable(s)
	}
	return "serial " + serialHex(cert)
}

// serialHex writes a certificate's serial number in hexadecimal, as openssl
// and most tools show it.
func serialHex(cert *x509.Certificate) string { return cert.SerialNumber.Text(16) }

// printable makes an untrusted string (an MSP id, a common name) safe for
// messages and logs: at most 128 bytes, quoted if it holds anything but
// printable UTF-8.
func printable(s string) string {
	const maxLen = 128
	if len(s) > maxLen {
		n := maxLen
		for n > 0 && !utf8.RuneStart(s[n]) {
			n-- // cut between runes, not inside one
		}
		s = s[:n] + "..."
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
