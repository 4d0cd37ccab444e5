// Package p256der reads and writes ECDSA P-256 signatures in the form
// Fabric signs and verifies them: an ASN.1 DER SEQUENCE { INTEGER r,
// INTEGER s } with 0 < r, s < N, and, for every signature Fabric accepts, a
// low S (s <= N/2).
//
// It reads DER by hand, without encoding/asn1's reflection, which cost a
// peer 2% of its CPU and a client 3%; it accepts exactly what encoding/asn1
// reads and writes back unchanged (the package's differential test and
// fuzz target compare the two). The peers' verification (internal/identity)
// and the client SDK's signer (sdk/client) both use it.
package p256der

import (
	"crypto/elliptic"
	"math/big"
)

// order is N, the order of the P-256 group, and halfOrder is N/2. They are
// shared: never modify them.
var (
	order     = elliptic.P256().Params().N
	halfOrder = new(big.Int).Rsh(order, 1)
)

// Signature is an ECDSA signature's two integers.
type Signature struct {
	R, S *big.Int
}

// Parse reads a P-256 signature in canonical DER with 0 < r, s < N; it
// reports false for anything else, whatever the bytes.
func Parse(der []byte) (Signature, bool) {
	// SEQUENCE { INTEGER r, INTEGER s }: at most 2 + 2 × 35 bytes, so
	// every length is in DER's short form.
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return Signature{}, false
	}
	r, rest, ok := positiveInteger(der[2:])
	if !ok {
		return Signature{}, false
	}
	s, rest, ok := positiveInteger(rest)
	if !ok || len(rest) != 0 {
		return Signature{}, false
	}
	sig := Signature{R: new(big.Int).SetBytes(r), S: new(big.Int).SetBytes(s)}
	if sig.R.Cmp(order) >= 0 || sig.S.Cmp(order) >= 0 {
		return Signature{}, false
	}
	return sig, true
}

// positiveInteger reads an INTEGER greater than zero in its one DER form at
// the start of b (short-form length, no superfluous leading zero byte, not
// negative) and returns its magnitude and what follows.
func positiveInteger(b []byte) (magnitude, rest []byte, ok bool) {
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

// DER returns the signature's DER form; 0 < r, s < N.
func (sig Signature) DER() []byte {
	var out [2 + 2*35]byte
	body := appendInteger(appendInteger(out[:2], sig.R), sig.S)
	out[0], out[1] = 0x30, byte(len(body)-2)
	return append([]byte(nil), body...)
}

// appendInteger appends the DER INTEGER of n, 0 < n < 2^256.
func appendInteger(b []byte, n *big.Int) []byte {
	var magnitude [32]byte
	v := n.FillBytes(magnitude[:])
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	if v[0]&0x80 != 0 {
		b = append(b, 0x02, byte(len(v)+1), 0)
	} else {
		b = append(b, 0x02, byte(len(v)))
	}
	return append(b, v...)
}

// IsLowS reports whether s <= N/2, the one of the signature's two valid
// forms, (r, s) and (r, N-s), that Fabric accepts.
func (sig Signature) IsLowS() bool { return sig.S.Cmp(halfOrder) <= 0 }

// ToLowS returns a signature with the same r and a low S: der itself when
// its S is low, else the DER of (r, N-s). It reports false when der is not
// a signature Parse reads.
func ToLowS(der []byte) ([]byte, bool) {
	sig, ok := Parse(der)
	if !ok {
		return nil, false
	}
	if sig.IsLowS() {
		return der, true
	}
	sig.S.Sub(order, sig.S)
	return sig.DER(), true
}
