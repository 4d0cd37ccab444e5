package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"
)

// parseWithASN1 is the reference for parseECDSASignature: encoding/asn1
// reads the signature and must write it back byte for byte.
func parseWithASN1(der []byte) (ecdsaSignature, bool) {
	var sig ecdsaSignature
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 ||
		sig.R.Sign() <= 0 || sig.R.Cmp(p256Order) >= 0 ||
		sig.S.Sign() <= 0 || sig.S.Cmp(p256Order) >= 0 {
		return ecdsaSignature{}, false
	}
	canonical, err := asn1.Marshal(sig)
	if err != nil || !bytes.Equal(canonical, der) {
		return ecdsaSignature{}, false
	}
	return sig, true
}

// derSeeds are signatures and near-signatures: real ones, and each DER
// rule broken once.
func derSeeds(t testing.TB) [][]byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},       // r = s = 1
		{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01},       // r = 0
		{0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01},       // r = -1
		{0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01}, // superfluous zero
		{0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01}, // needed zero
		{0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, // long-form length
		{0x30, 0x06, 0x02, 0x81, 0x01, 0x01, 0x02, 0x01, 0x01},
		{0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00}, // an extra element
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},       // trailing byte
		{0x30, 0x04, 0x02, 0x00, 0x02, 0x00},                         // empty integers
		{0x30, 0x80}, {0x30}, {},
		{0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
		{0x30, 0x06, 0x03, 0x01, 0x01, 0x02, 0x01, 0x01},
	}
	n := encodeInts(p256Order, big.NewInt(1))                                        // r = N
	nMinus1 := encodeInts(new(big.Int).Sub(p256Order, big.NewInt(1)), big.NewInt(1)) // r = N-1
	seeds = append(seeds, n, nMinus1)
	for i := range 20 {
		digest := sha256.Sum256([]byte{byte(i)})
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, sig)
	}
	return seeds
}

func encodeInts(r, s *big.Int) []byte {
	b, err := asn1.Marshal(ecdsaSignature{R: r, S: s})
	if err != nil {
		panic(err)
	}
	return b
}

// TestParseECDSASignature: the DER reader accepts exactly the signatures
// encoding/asn1 reads back unchanged, with the same values, and the DER
// writer writes what encoding/asn1 writes.
func TestParseECDSASignature(t *testing.T) {
	accepted := 0
	for _, der := range derSeeds(t) {
		for cut := 0; cut <= len(der); cut++ { // every prefix too
			checkParse(t, der[:cut])
		}
		if _, err := parseECDSASignature(der); err == nil {
			accepted++
		}
	}
	if accepted < 22 {
		t.Errorf("only %d of the seeds parsed; the valid ones are 22", accepted)
	}
}

func checkParse(t testing.TB, der []byte) {
	t.Helper()
	got, err := parseECDSASignature(der)
	want, ok := parseWithASN1(der)
	switch {
	case ok != (err == nil):
		t.Fatalf("%x: parsed %v, encoding/asn1 %v", der, err == nil, ok)
	case !ok:
		if err != ErrMalformedSignature {
			t.Fatalf("%x: error %v, want ErrMalformedSignature", der, err)
		}
	case got.R.Cmp(want.R) != 0 || got.S.Cmp(want.S) != 0:
		t.Fatalf("%x: parsed (%v, %v), encoding/asn1 (%v, %v)", der, got.R, got.S, want.R, want.S)
	case !bytes.Equal(encodeECDSASignature(got), der):
		t.Fatalf("%x: written back as %x", der, encodeECDSASignature(got))
	}
}

// FuzzParseECDSASignature compares the DER reader with encoding/asn1 on
// arbitrary bytes.
func FuzzParseECDSASignature(f *testing.F) {
	for _, der := range derSeeds(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) { checkParse(t, der) })
}

// BenchmarkParseECDSASignature: the DER reader against encoding/asn1 (read
// and written back), on a real signature.
func BenchmarkParseECDSASignature(b *testing.B) {
	der := derSeeds(b)[len(derSeeds(b))-1]
	b.Run("der", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseECDSASignature(der); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-asn1", func(b *testing.B) {
		for b.Loop() {
			if _, ok := parseWithASN1(der); !ok {
				b.Fatal("rejected")
			}
		}
	})
}
