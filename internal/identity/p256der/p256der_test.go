package p256der

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

// parseWithASN1 is the reference for Parse: encoding/asn1
// reads the signature and must write it back byte for byte.
func parseWithASN1(der []byte) (Signature, bool) {
	var sig Signature
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 ||
		sig.R.Sign() <= 0 || sig.R.Cmp(order) >= 0 ||
		sig.S.Sign() <= 0 || sig.S.Cmp(order) >= 0 {
		return Signature{}, false
	}
	canonical, err := asn1.Marshal(sig)
	if err != nil || !bytes.Equal(canonical, der) {
		return Signature{}, false
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
	n := encodeInts(order, big.NewInt(1))                                        // r = N
	nMinus1 := encodeInts(new(big.Int).Sub(order, big.NewInt(1)), big.NewInt(1)) // r = N-1
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
	b, err := asn1.Marshal(Signature{R: r, S: s})
	if err != nil {
		panic(err)
	}
	return b
}

// TestParse: the DER reader accepts exactly the signatures encoding/asn1
// reads back unchanged, with the same values, and the DER writer writes
// what encoding/asn1 writes.
func TestParse(t *testing.T) {
	accepted := 0
	for _, der := range derSeeds(t) {
		for cut := 0; cut <= len(der); cut++ { // every prefix too
			checkParse(t, der[:cut])
		}
		if _, ok := Parse(der); ok {
			accepted++
		}
	}
	if accepted != 23 {
		t.Errorf("%d of the seeds parsed; the valid ones are 23", accepted)
	}
}

func checkParse(t testing.TB, der []byte) {
	t.Helper()
	got, parsed := Parse(der)
	want, ok := parseWithASN1(der)
	switch {
	case ok != parsed:
		t.Fatalf("%x: parsed %v, encoding/asn1 %v", der, parsed, ok)
	case !ok:
	case got.R.Cmp(want.R) != 0 || got.S.Cmp(want.S) != 0:
		t.Fatalf("%x: parsed (%v, %v), encoding/asn1 (%v, %v)", der, got.R, got.S, want.R, want.S)
	case !bytes.Equal(got.DER(), der):
		t.Fatalf("%x: written back as %x", der, got.DER())
	}
}

// FuzzParse compares the DER reader with encoding/asn1 on
// arbitrary bytes.
func FuzzParse(f *testing.F) {
	for _, der := range derSeeds(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) { checkParse(t, der) })
}

// BenchmarkParse: the DER reader against encoding/asn1 (read
// and written back), on a real signature.
func BenchmarkParse(b *testing.B) {
	der := derSeeds(b)[len(derSeeds(b))-1]
	b.Run("der", func(b *testing.B) {
		for b.Loop() {
			if _, ok := Parse(der); !ok {
				b.Fatal("rejected")
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

// TestToLowS: a high S becomes N-S with r kept, the signature still
// verifies, a low S is returned as it was, and malformed bytes are refused.
func TestToLowS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	highs, lows := 0, 0
	for i := 0; highs < 20 || lows < 20; i++ {
		digest := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		in, _ := parseWithASN1(der)
		out, ok := ToLowS(der)
		if !ok {
			t.Fatalf("%x: refused", der)
		}
		got, ok := parseWithASN1(out)
		switch {
		case !ok:
			t.Fatalf("%x: normalised to %x, not canonical DER", der, out)
		case !ecdsa.VerifyASN1(&key.PublicKey, digest[:], out):
			t.Fatalf("%x: normalised to %x, which does not verify", der, out)
		case got.R.Cmp(in.R) != 0 || got.S.Cmp(halfOrder) > 0:
			t.Fatalf("%x: normalised to (%v, %v)", der, got.R, got.S)
		case in.S.Cmp(halfOrder) <= 0:
			lows++
			if &out[0] != &der[0] {
				t.Fatalf("%x: a low S was re-encoded", der)
			}
		default:
			highs++
			if new(big.Int).Add(got.S, in.S).Cmp(order) != 0 {
				t.Fatalf("%x: S %v became %v, want N-S", der, in.S, got.S)
			}
		}
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, encodeInts(order, big.NewInt(1)), encodeInts(big.NewInt(1), order)} {
		if out, ok := ToLowS(bad); ok {
			t.Errorf("ToLowS(%x) = %x, accepted", bad, out)
		}
	}
}

// BenchmarkToLowS: the normalisation every ECDSA signature made in
// Chorus goes through, on signatures half of which have a high S.
func BenchmarkToLowS(b *testing.B) {
	seeds := derSeeds(b)
	real := seeds[len(seeds)-20:]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := ToLowS(real[i%len(real)]); !ok {
			b.Fatal("refused")
		}
		i++
	}
}

// TestIsLowSAtTheBoundary: N/2 is low, N/2+1 is not.
func TestIsLowSAtTheBoundary(t *testing.T) {
	one := big.NewInt(1)
	for _, c := range []struct {
		s   *big.Int
		low bool
	}{
		{one, true},
		{new(big.Int).Set(halfOrder), true},
		{new(big.Int).Add(halfOrder, one), false},
		{new(big.Int).Sub(order, one), false},
	} {
		sig, ok := Parse(encodeInts(one, c.s))
		if !ok {
			t.Fatalf("s = %v: not parsed", c.s)
		}
		if sig.IsLowS() != c.low {
			t.Errorf("s = %v: IsLowS %v, want %v", c.s, !c.low, c.low)
		}
		low, ok := ToLowS(encodeInts(one, c.s))
		if ls, _ := Parse(low); !ok || !ls.IsLowS() || (c.low && ls.S.Cmp(c.s) != 0) {
			t.Errorf("s = %v: ToLowS gave %x", c.s, low)
		}
	}
}
