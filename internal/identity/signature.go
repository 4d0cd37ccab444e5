package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"

	"github.com/chorusledger/chorus/internal/identity/keytable"
)

// p256Order and p256HalfOrder are N and N/2 of the P-256 group. A signature
// (r, s) and (r, N-s) are both valid; Fabric accepts only the one with
// s <= N/2, so every signature Chorus makes or accepts has a low S.
var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// ecdsaSignature is the ASN.1 form of an ECDSA signature.
type ecdsaSignature struct {
	R, S *big.Int
}

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
	sig, err := parseECDSASignature(der)
	if err != nil {
		return nil, fmt.Errorf("identity: signer produced a malformed signature: %w", err)
	}
	if sig.S.Cmp(p256HalfOrder) <= 0 {
		return der, nil
	}
	sig.S.Sub(p256Order, sig.S)
	return encodeECDSASignature(sig), nil
}

// parseECDSASignature reads a P-256 signature in canonical DER with
// 0 < r, s < N; anything else is ErrMalformedSignature. It accepts exactly
// what encoding/asn1 would read back unchanged (TestParseECDSASignature
// compares the two), without its reflection: on a peer, encoding/asn1
// here cost 2% of the CPU.
func parseECDSASignature(der []byte) (ecdsaSignature, error) {
	// SEQUENCE { INTEGER r, INTEGER s }: at most 2 + 2 × 35 bytes, so
	// every length is in DER's short form.
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return ecdsaSignature{}, ErrMalformedSignature
	}
	r, rest, ok := parseDERPositiveInteger(der[2:])
	if !ok {
		return ecdsaSignature{}, ErrMalformedSignature
	}
	s, rest, ok := parseDERPositiveInteger(rest)
	if !ok || len(rest) != 0 {
		return ecdsaSignature{}, ErrMalformedSignature
	}
	sig := ecdsaSignature{R: new(big.Int).SetBytes(r), S: new(big.Int).SetBytes(s)}
	if sig.R.Cmp(p256Order) >= 0 || sig.S.Cmp(p256Order) >= 0 {
		return ecdsaSignature{}, ErrMalformedSignature
	}
	return sig, nil
}

// parseDERPositiveInteger reads an INTEGER greater than zero in its one
// DER form at the start of b (short-form length, no superfluous leading
// zero byte, not negative) and returns its magnitude and what follows.
func parseDERPositiveInteger(b []byte) (magnitude, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != 0x02 || b[1] >= 0x80 || int(b[1]) > len(b)-2 || b[1] == 0 {
		return nil, nil, false
	}
	v, rest := b[2:2+b[1]], b[2+b[1]:]
	switch {
	case v[0]&0x80 != 0: // negative
		return nil, nil, false
	case v[0] == 0 && (len(v) == 1 || v[1]&0x80 == 0): // zero, or a superfluous zero byte
		return nil, nil, false
	}
	return v, rest, true
}

// encodeECDSASignature returns the DER form of (r, s), 0 < r, s < N.
func encodeECDSASignature(sig ecdsaSignature) []byte {
	integer := func(n *big.Int) []byte {
		v := n.Bytes()
		if v[0]&0x80 != 0 {
			v = append([]byte{0}, v...)
		}
		return append([]byte{0x02, byte(len(v))}, v...)
	}
	body := append(integer(sig.R), integer(sig.S)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// IsLowS reports whether sig is a well-formed ECDSA P-256 DER signature with
// S at most N/2.
func IsLowS(sig []byte) bool {
	s, err := parseECDSASignature(sig)
	return err == nil && s.S.Cmp(p256HalfOrder) <= 0
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
		parsed, err := parseECDSASignature(sig)
		if err != nil {
			return err
		}
		if parsed.S.Cmp(p256HalfOrder) > 0 {
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
