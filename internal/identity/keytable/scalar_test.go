package keytable

import (
	"math/big"
	mathrand "math/rand/v2"
	"testing"
)

// scalarCases are edge values below n and random ones.
func scalarCases(rng *mathrand.Rand, random int) []*big.Int {
	one := big.NewInt(1)
	cases := []*big.Int{
		big.NewInt(1), big.NewInt(2), big.NewInt(3),
		new(big.Int).Sub(curveOrder, one),
		new(big.Int).Sub(curveOrder, big.NewInt(2)),
		new(big.Int).Rsh(curveOrder, 1),
		new(big.Int).Add(new(big.Int).Rsh(curveOrder, 1), one),
	}
	for i := range 256 {
		p := new(big.Int).Lsh(one, uint(i))
		if p.Cmp(curveOrder) < 0 {
			cases = append(cases, p, new(big.Int).Sub(curveOrder, p))
		}
		if m := new(big.Int).Sub(p, one); m.Sign() > 0 && m.Cmp(curveOrder) < 0 {
			cases = append(cases, m)
		}
	}
	for range random {
		k := randomScalar(rng)
		if k.Sign() == 0 {
			continue
		}
		// Small values and values with long runs of ones or zeros too.
		switch rng.IntN(4) {
		case 0:
			k.Rsh(k, uint(rng.IntN(256)))
		case 1:
			k.Sub(curveOrder, k.Rsh(k, uint(rng.IntN(256))))
		}
		if k.Sign() > 0 && k.Cmp(curveOrder) < 0 {
			cases = append(cases, k)
		}
	}
	return cases
}

// TestInvertModOrder compares the inversion with math/big's, and checks
// that none of these inputs needs the fallback.
func TestInvertModOrder(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(11, 12))
	random := 200_000
	if testing.Short() {
		random = 20_000
	}
	for _, s := range scalarCases(rng, random) {
		limbs := limbsOf(s)
		got, ok := invertModOrder(&limbs)
		want := limbsOf(new(big.Int).ModInverse(s, curveOrder))
		if !ok || got != want {
			t.Fatalf("invertModOrder(%x) = %x, %v; want %x", s, got, ok, want)
		}
		if montgomeryMultiply(&limbs, &got) != montgomeryRInverse {
			t.Fatalf("the check refuses the right inverse of %x", s)
		}
	}
	if _, ok := invertModOrder(&scalar{}); ok {
		t.Error("invertModOrder(0) succeeded")
	}
}

func TestMontgomeryMultiply(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(13, 14))
	r := new(big.Int).Lsh(big.NewInt(1), 256)
	rInverse := new(big.Int).ModInverse(r, curveOrder)
	max256 := new(big.Int).Sub(r, big.NewInt(1))
	as := append(scalarCases(rng, 2_000), big.NewInt(0), max256, new(big.Int).Set(curveOrder))
	bs := append(scalarCases(rng, 2_000), big.NewInt(0))
	for i, a := range as {
		b := bs[i%len(bs)]
		al, bl := limbsOf(a), limbsOf(b)
		got := montgomeryMultiply(&al, &bl)
		want := new(big.Int).Mul(a, b)
		want.Mul(want, rInverse).Mod(want, curveOrder)
		if got != limbsOf(want) {
			t.Fatalf("montgomeryMultiply(%x, %x) = %x, want %x", a, b, got, limbsOf(want))
		}
	}
}

// TestVerificationScalars compares u1 and u2 with math/big's, for digests
// shorter and longer than 32 bytes and at least the order.
func TestVerificationScalars(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(15, 16))
	ks := scalarCases(rng, 3_000)
	for i, s := range ks {
		r := ks[(i*7+3)%len(ks)]
		digest := make([]byte, []int{0, 1, 20, 31, 32, 33, 48, 64}[i%8])
		for j := range digest {
			digest[j] = byte(rng.Uint32())
		}
		if i%50 == 0 && len(digest) >= 32 {
			for j := range 32 {
				digest[j] = 0xff // at least n
			}
		}
		u1, u2 := verificationScalars(digest, r, s)
		w := new(big.Int).ModInverse(s, curveOrder)
		e := new(big.Int).SetBytes(digest[:min(len(digest), 32)])
		want1 := new(big.Int).Mul(e, w)
		want1.Mod(want1, curveOrder)
		want2 := new(big.Int).Mul(r, w)
		want2.Mod(want2, curveOrder)
		if u1 != limbsOf(want1) || u2 != limbsOf(want2) {
			t.Fatalf("digest %x, r %x, s %x: u1, u2 = %x, %x; want %x, %x", digest, r, s, u1, u2, limbsOf(want1), limbsOf(want2))
		}
	}
}

func FuzzInvertModOrder(f *testing.F) {
	f.Add([]byte{1})
	f.Add(curveOrder.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 32 {
			b = b[:32]
		}
		s := new(big.Int).SetBytes(b)
		s.Mod(s, curveOrder)
		limbs := limbsOf(s)
		got, ok := invertModOrder(&limbs)
		if s.Sign() == 0 {
			if ok {
				t.Fatal("invertModOrder(0) succeeded")
			}
			return
		}
		if want := limbsOf(new(big.Int).ModInverse(s, curveOrder)); !ok || got != want {
			t.Fatalf("invertModOrder(%x) = %x, %v; want %x", s, got, ok, want)
		}
	})
}

// BenchmarkScalars times a verification's scalar arithmetic: the inversion
// alone, math/big's for comparison, and u1 and u2 with their inverse.
func BenchmarkScalars(b *testing.B) {
	rng := mathrand.New(mathrand.NewPCG(17, 18))
	ks := make([]*big.Int, 64)
	for i := range ks {
		ks[i] = randomScalar(rng)
	}
	digest := make([]byte, 32)
	b.Run("invertModOrder", func(b *testing.B) {
		b.ReportAllocs()
		limbs := make([]scalar, len(ks))
		for i, k := range ks {
			limbs[i] = limbsOf(k)
		}
		i := 0
		for b.Loop() {
			invertModOrder(&limbs[i%len(limbs)])
			i++
		}
	})
	b.Run("big.ModInverse", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			new(big.Int).ModInverse(ks[i%len(ks)], curveOrder)
			i++
		}
	})
	b.Run("verificationScalars", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			verificationScalars(digest, ks[(i+1)%len(ks)], ks[i%len(ks)])
			i++
		}
	})
}
