package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/chorusledger/chorus/internal/identity/keytable"
	"github.com/chorusledger/chorus/internal/identity/p256der"
)

// Sign signs msg with key the way Fabric's clients do:
//
//   - ECDSA P-256: an ASN.1 DER SEQUENCE { r, s } over SHA-256(msg), with S
//     normalised to at most N/2 (low S);
//   - Ed25519: the signature of msg itself (no prehash).
//
// key may be an *ecdsa.PrivateKey, an ed25519.PrivateKey, or any crypto.Signer
// (a hardware key, say) whose public key is ECDSA P-256 or Ed25519.
func Sign(key crypto.Signer, msg []byte) ([]byte, error) {
	sig, _, err := sign(key, msg)
	return sig, err
}

// sign is Sign, returning also SHA-256(msg).
func sign(key crypto.Signer, msg []byte) (sig []byte, digest [sha256.Size]byte, err error) {
	if err := checkSupportedKey(key.Public(), "signing key"); err != nil {
		return nil, digest, err
	}
	digest = sha256.Sum256(msg)
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		sig, err := key.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			return nil, digest, fmt.Errorf("identity: Ed25519 signing failed: %w", err)
		}
		return sig, digest, nil
	}
	var der []byte
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		der, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
	} else {
		der, err = key.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		return nil, digest, fmt.Errorf("identity: ECDSA signing failed: %w", err)
	}
	sig, err = toLowS(der)
	return sig, digest, err
}

// toLowS returns der with S replaced by N-S when S > N/2. der comes from our
// own signer, so a parse failure is an error of that signer.
func toLowS(der []byte) ([]byte, error) {
	low, ok := p256der.ToLowS(der)
	if !ok {
		return nil, fmt.Errorf("identity: signer produced a malformed signature: %w", ErrMalformedSignature)
	}
	return low, nil
}

// IsLowS reports whether sig is a well-formed ECDSA P-256 DER signature with
// S at most N/2.
func IsLowS(sig []byte) bool {
	s, ok := p256der.Parse(sig)
	return ok && s.IsLowS()
}

// Verify checks that sig is a signature of msg by pub, by the rules of Sign:
//
//   - ECDSA P-256 (*ecdsa.PublicKey): sig is canonical DER over SHA-256(msg)
//     and its S is at most N/2 (else ErrHighS);
//   - Ed25519 (ed25519.PublicKey): sig is the 64-byte signature of msg.
//
// A rejected signature gives an error matching ErrBadSignature; a key of
// another kind gives ErrUnsupportedKey. Verify never panics, whatever the
// bytes of msg and sig.
func Verify(pub crypto.PublicKey, msg, sig []byte) error {
	digest := sha256.Sum256(msg)
	return verifyDigest(pub, msg, &digest, sig)
}

// verifyDigest is Verify with SHA-256(msg) already computed, for callers
// that need the digest too.
func verifyDigest(pub crypto.PublicKey, msg []byte, digest *[sha256.Size]byte, sig []byte) error {
	return verifyDigestWith(nil, pub, msg, digest, sig)
}

// verifyDigestWith is verifyDigest computing an ECDSA verification with
// table, the precomputed multiples of pub, when it is not nil. Both
// answer the same (keytable's differential tests).
func verifyDigestWith(table *keytable.Table, pub crypto.PublicKey, msg []byte, digest *[sha256.Size]byte, sig []byte) error {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve != elliptic.P256() {
			return ErrUnsupportedKey
		}
		parsed, ok := p256der.Parse(sig)
		if !ok {
			return ErrMalformedSignature
		}
		if !parsed.IsLowS() {
			return ErrHighS
		}
		var valid bool
		if table != nil {
			valid = table.Verify(digest[:], parsed.R, parsed.S)
		} else {
			valid = ecdsa.Verify(pub, digest[:], parsed.R, parsed.S)
		}
		if !valid {
			return ErrBadSignature
		}
		return nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return ErrUnsupportedKey
		}
		if len(sig) != ed25519.SignatureSize {
			return ErrMalformedSignature
		}
		if !ed25519.Verify(pub, msg, sig) {
			return ErrBadSignature
		}
		return nil
	default:
		return ErrUnsupportedKey
	}
}

// checkSupportedKey returns nil for the public keys that Sign and Verify
// handle, else an error matching ErrUnsupportedKey that names what (such as
// "certificate for CN=alice") and the kind of key.
func checkSupportedKey(pub crypto.PublicKey, what string) error {
	var kind string
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if pub != nil && pub.Curve == elliptic.P256() {
			return nil
		}
		kind = "ECDSA key on an unknown curve"
		if pub != nil && pub.Curve != nil {
			kind = "ECDSA " + pub.Curve.Params().Name + " key"
		}
	case ed25519.PublicKey:
		if len(pub) == ed25519.PublicKeySize {
			return nil
		}
		kind = fmt.Sprintf("%d-byte Ed25519 key", len(pub))
	default:
		kind = fmt.Sprintf("%T key", pub)
	}
	return newKindError(ErrUnsupportedKey, nil,
		fmt.Sprintf("identity: %s: %s not supported (want ECDSA P-256 or Ed25519)", what, kind))
}
