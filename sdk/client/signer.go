package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/chorusledger/chorus/internal/identity/p256der"
	"github.com/chorusledger/chorus/internal/identity/pemparse"
)

// Signer signs the messages the client sends: proposals, prepared
// transactions, commit-status and chaincode-events requests.
//
// Sign receives the whole message, never a digest, and returns its
// signature as Fabric's peers and orderers verify it:
//
//   - ECDSA P-256: ASN.1 DER SEQUENCE{r, s} over SHA-256(message), with
//     s <= N/2 (low S; Fabric refuses high-S signatures);
//   - Ed25519: the 64-byte signature of the message itself.
//
// Implementations must be safe for concurrent use. NewSigner and
// NewSignerFromKeyFile return such signers; implement Signer yourself (or use
// SignerFunc) to sign elsewhere, with a hardware key for instance.
type Signer interface {
	Sign(message []byte) ([]byte, error)
}

// SignerFunc adapts a function to the Signer interface.
type SignerFunc func(message []byte) ([]byte, error)

// Sign calls f(message).
func (f SignerFunc) Sign(message []byte) ([]byte, error) { return f(message) }

// keySigner signs with a private key held in memory or behind a
// crypto.Signer. It is immutable and safe for concurrent use.
type keySigner struct {
	key     crypto.Signer
	ed25519 bool
}

// NewSigner returns a Signer that signs with key, which must be an ECDSA
// P-256 or an Ed25519 private key: an *ecdsa.PrivateKey, an
// ed25519.PrivateKey, or any crypto.Signer with such a public key (a key in
// a hardware module, say). ECDSA signatures are normalised to low S. A
// crypto.Signer with an ECDSA key must return canonical ASN.1 DER, as
// crypto.Signer's contract says: Sign refuses anything else (trailing
// bytes inside the SEQUENCE, say) rather than re-encode it.
func NewSigner(key crypto.Signer) (Signer, error) {
	if key == nil {
		return nil, errors.New("client: nil signing key")
	}
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("client: ECDSA key on curve %s not supported (want P-256)", pub.Curve.Params().Name)
		}
		return &keySigner{key: key}, nil
	case ed25519.PublicKey:
		return &keySigner{key: key, ed25519: true}, nil
	default:
		return nil, fmt.Errorf("client: %T keys are not supported (want ECDSA P-256 or Ed25519)", pub)
	}
}

// NewSignerFromKeyFile reads a PEM private key from keyFile and returns a
// Signer for it; see NewSignerFromKeyPEM.
func NewSignerFromKeyFile(keyFile string) (Signer, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("client: reading private key: %w", err)
	}
	s, err := NewSignerFromKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, keyFile)
	}
	return s, nil
}

// NewSignerFromKeyPEM returns a Signer for a PEM private key: PKCS#8
// ("PRIVATE KEY") holding an ECDSA P-256 or Ed25519 key, or SEC1
// ("EC PRIVATE KEY", possibly after an "EC PARAMETERS" block, as openssl
// writes it). Encrypted keys are refused.
func NewSignerFromKeyPEM(keyPEM []byte) (Signer, error) {
	key, err := pemparse.PrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	cs, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("client: %T keys are not supported (want ECDSA P-256 or Ed25519)", key)
	}
	return NewSigner(cs)
}

// Sign signs message; see Signer.
func (s *keySigner) Sign(message []byte) ([]byte, error) {
	if s.ed25519 {
		sig, err := s.key.Sign(rand.Reader, message, crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("client: Ed25519 signing: %w", err)
		}
		return sig, nil
	}
	digest := sha256.Sum256(message)
	var der []byte
	var err error
	if k, ok := s.key.(*ecdsa.PrivateKey); ok {
		der, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
	} else {
		der, err = s.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("client: ECDSA signing: %w", err)
	}
	return lowS(der)
}

// Public returns the public key of the signer, so that a Gateway can check
// that it matches the identity's certificate.
func (s *keySigner) Public() crypto.PublicKey { return s.key.Public() }

// lowS returns the P-256 signature der with s replaced by N-s when s > N/2.
// Both verify; Fabric accepts only the low one. der must be canonical DER,
// as crypto.Signer's contract for ECDSA keys says.
func lowS(der []byte) ([]byte, error) {
	low, ok := p256der.ToLowS(der)
	if !ok {
		return nil, errors.New("client: the signing key produced a malformed ECDSA signature (want DER SEQUENCE { INTEGER r, INTEGER s } with 0 < r, s < N)")
	}
	return low, nil
}
