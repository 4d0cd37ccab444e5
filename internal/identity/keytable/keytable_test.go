package keytable

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	mathrand "math/rand/v2"
	"testing"

	"filippo.io/nistec"
)

// signature is one case of the differential tests: a key, a digest and a
// signature that crypto/ecdsa may or may not accept.
type signature struct {
	pub    *ecdsa.PublicKey
	digest []byte
	r, s   *big.Int
}

// agree fails t unless the table of c.pub answers c as crypto/ecdsa does,
// and returns that answer.
func agree(t testing.TB, table *Table, c signature, what string) bool {
	t.Helper()
	want := ecdsa.Verify(c.pub, c.digest, c.r, c.s)
	if got := table.Verify(c.digest, c.r, c.s); got != want {
		t.Fatalf("%s: keytable answers %v, crypto/ecdsa %v (digest %x r %x s %x)", what, got, want, c.digest, c.r, c.s)
	}
	return want
}

func newKey(t testing.TB) (*ecdsa.PrivateKey, *Table) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	table, err := New(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, table
}

func sign(t testing.TB, key *ecdsa.PrivateKey, msg []byte) signature {
	t.Helper()
	digest := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signature{pub: &key.PublicKey, digest: digest[:], r: r, s: s}
}

func TestVerifyAgreesWithECDSA(t *testing.T) {
	n := curveOrder
	one := big.NewInt(1)
	for k := range 4 {
		key, table := newKey(t)
		for i := range 300 {
			c := sign(t, key, []byte{byte(k), byte(i), byte(i >> 8)})
			if !agree(t, table, c, "valid signature") {
				t.Fatal("crypto/ecdsa rejected its own signature")
			}
			mutations := map[string]signature{
				"digest bit flipped": {c.pub, flip(c.digest, i%256), c.r, c.s},
				"r+1":                {c.pub, c.digest, new(big.Int).Add(c.r, one), c.s},
				"s-1":                {c.pub, c.digest, c.r, new(big.Int).Sub(c.s, one)},
				"high S (n-s)":       {c.pub, c.digest, c.r, new(big.Int).Sub(n, c.s)},
				"r+n":                {c.pub, c.digest, new(big.Int).Add(c.r, n), c.s},
				"s+n":                {c.pub, c.digest, c.r, new(big.Int).Add(c.s, n)},
				"r and s swapped":    {c.pub, c.digest, c.s, c.r},
			}
			for what, m := range mutations {
				agree(t, table, m, what)
			}
		}
		// The digest's range: reduced modulo n, and longer than 32 bytes.
		c := sign(t, key, []byte("long digest"))
		long := append(append([]byte(nil), c.digest...), 0xff, 0x00)
		if !agree(t, table, signature{c.pub, long, c.r, c.s}, "digest with extra bytes") {
			t.Fatal("a digest longer than 32 bytes must be truncated to its first 32")
		}
	}
}

func TestVerifyRejectsOutOfRangeScalars(t *testing.T) {
	key, table := newKey(t)
	c := sign(t, key, []byte("range"))
	n := curveOrder
	for _, tc := range []struct {
		what string
		r, s *big.Int
	}{
		{"r = 0", big.NewInt(0), c.s},
		{"s = 0", c.r, big.NewInt(0)},
		{"r = n", new(big.Int).Set(n), c.s},
		{"s = n", c.r, new(big.Int).Set(n)},
		{"r negative", new(big.Int).Neg(c.r), c.s},
		{"s negative", c.r, new(big.Int).Neg(c.s)},
		{"s = n-1", c.r, new(big.Int).Sub(n, big.NewInt(1))},
		{"r = 2^256", new(big.Int).Lsh(big.NewInt(1), 256), c.s},
	} {
		if agree(t, table, signature{c.pub, c.digest, tc.r, tc.s}, tc.what) {
			t.Fatalf("%s: accepted", tc.what)
		}
	}
}

// forged is a signature (r, s) of digest that verifies because the public
// key is chosen for it: with u1 = e/s and u2 = r/s, u1·G + u2·Q is any point
// R we like when Q = (R - u1·G)/u2. It reaches the cases random signatures
// never do.
func forged(t *testing.T, rPoint *nistec.P256Point, r, u1, u2 *big.Int) signature {
	t.Helper()
	n := curveOrder
	u2Inv := new(big.Int).ModInverse(u2, n)
	s := new(big.Int).Mul(r, u2Inv)
	s.Mod(s, n)
	e := new(big.Int).Mul(u1, s)
	e.Mod(e, n)

	u1G, err := nistec.NewP256Point().ScalarBaseMult(scalarBytes(u1))
	if err != nil {
		t.Fatal(err)
	}
	diff := nistec.NewP256Point().Add(rPoint, nistec.NewP256Point().Negate(u1G))
	q, err := nistec.NewP256Point().ScalarMult(diff, scalarBytes(u2Inv))
	if err != nil {
		t.Fatal(err)
	}
	b := q.Bytes()
	if len(b) != 65 {
		t.Fatal("forged key is the point at infinity")
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(b[1:33]), Y: new(big.Int).SetBytes(b[33:])}
	return signature{pub: pub, digest: scalarBytes(e), r: r, s: s}
}

func scalarBytes(k *big.Int) []byte { return k.FillBytes(make([]byte, 32)) }

func randomScalar(rng *mathrand.Rand) *big.Int {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	k := new(big.Int).SetBytes(b)
	k.Mod(k, curveOrder)
	if k.Sign() == 0 {
		k.SetInt64(1)
	}
	return k
}

func tableOf(t *testing.T, pub *ecdsa.PublicKey) *Table {
	t.Helper()
	table, err := New(pub)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestVerifyEdgeCases reaches, with forged keys, what honest signatures
// almost never do: an x-coordinate of R at or above the order, a digest
// that is zero modulo the order, and R at infinity.
func TestVerifyEdgeCases(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	n, p := curveOrder, elliptic.P256().Params().P

	// A point whose x-coordinate lies in [n, p): r = x - n.
	found := 0
	for offset := int64(1); found < 8 && offset < 1000; offset++ {
		x := new(big.Int).Add(n, big.NewInt(offset))
		y := curveY(x)
		if y == nil {
			continue
		}
		found++
		rPoint := point(t, x, y)
		r := new(big.Int).Sub(x, n)
		c := forged(t, rPoint, r, randomScalar(rng), randomScalar(rng))
		if !agree(t, tableOf(t, c.pub), c, "x(R) >= n") {
			t.Fatal("crypto/ecdsa rejected a signature whose R has x >= n")
		}
		// And r = x itself, not reduced, must fail: r >= n.
		agree(t, tableOf(t, c.pub), signature{c.pub, c.digest, x, c.s}, "unreduced r")
	}
	if found == 0 {
		t.Fatal("no point with x in [n, p) found")
	}
	if p.Cmp(n) <= 0 {
		t.Fatal("p <= n")
	}

	// The digest is zero modulo the order, so u1 = 0 and R = u2·Q.
	for range 8 {
		k := randomScalar(rng)
		rPoint, _ := nistec.NewP256Point().ScalarBaseMult(scalarBytes(k))
		x := new(big.Int).SetBytes(must(rPoint.BytesX()))
		r := new(big.Int).Mod(x, n)
		c := forged(t, rPoint, r, big.NewInt(0), randomScalar(rng))
		if new(big.Int).SetBytes(c.digest).Sign() != 0 {
			t.Fatal("digest not zero")
		}
		if !agree(t, tableOf(t, c.pub), c, "zero digest") {
			t.Fatal("crypto/ecdsa rejected a signature of a zero digest")
		}
		// The same with the digest written as n, which is zero modulo n.
		agree(t, tableOf(t, c.pub), signature{c.pub, scalarBytes(n), c.r, c.s}, "digest n")
	}

	// u1·G + u2·Q is the point at infinity: Q = -(u1/u2)·G.
	for range 8 {
		u1, u2 := randomScalar(rng), randomScalar(rng)
		k := new(big.Int).Mul(u1, new(big.Int).ModInverse(u2, n))
		k.Neg(k).Mod(k, n)
		qPoint, _ := nistec.NewP256Point().ScalarBaseMult(scalarBytes(k))
		b := qPoint.Bytes()
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(b[1:33]), Y: new(big.Int).SetBytes(b[33:])}
		r := randomScalar(rng)
		s := new(big.Int).Mul(r, new(big.Int).ModInverse(u2, n))
		s.Mod(s, n)
		e := new(big.Int).Mul(u1, s)
		e.Mod(e, n)
		if agree(t, tableOf(t, pub), signature{pub, scalarBytes(e), r, s}, "R at infinity") {
			t.Fatal("a signature whose R is the point at infinity was accepted")
		}
	}
}

// TestMultiply checks k·Q against nistec's own ScalarMult for scalars whose
// digits exercise every carry: all ones, alternating, powers of two; with
// every width newTable accepts up to 12 bits (a key's is 6, amd64's
// generator's 9), on every architecture.
func TestMultiply(t *testing.T) {
	key, table := newKey(t)
	q := point(t, key.X, key.Y)
	tables := []*Table{table, newTable(q, 7), newTable(q, 9), newTable(q, 12)}
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	cases := []*big.Int{big.NewInt(1), big.NewInt(31), big.NewInt(32), big.NewInt(33), big.NewInt(63), big.NewInt(64),
		big.NewInt(255), big.NewInt(256), big.NewInt(257), big.NewInt(511),
		new(big.Int).Sub(curveOrder, big.NewInt(1)),
		new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)), // 2^256-1: every digit carries
	}
	for i := 0; i < 256; i += 5 {
		cases = append(cases, new(big.Int).Lsh(big.NewInt(1), uint(i)))
	}
	alternating, _ := new(big.Int).SetString("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 16)
	cases = append(cases, alternating, new(big.Int).Rsh(alternating, 1))
	for range 100 {
		cases = append(cases, randomScalar(rng))
	}
	for _, k := range cases {
		k = new(big.Int).Mod(k, curveOrder) // multiply's domain
		want, err := nistec.NewP256Point().ScalarMult(q, scalarBytes(k))
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			var got nistec.P256Point
			table.multiply(&got, k)
			if got.Equal(want) != 1 {
				t.Fatalf("multiply(%x) with %d-bit digits differs from ScalarMult", k, table.bits)
			}
		}
	}
}

// TestMultiplyGenerator checks k·G, as a verification computes it,
// against nistec's ScalarBaseMult, the zero scalar included.
func TestMultiplyGenerator(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(5, 6))
	cases := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(32), big.NewInt(33),
		new(big.Int).Sub(curveOrder, big.NewInt(1)), new(big.Int).Rsh(curveOrder, 1)}
	for i := 0; i < 256; i += 7 {
		cases = append(cases, new(big.Int).Lsh(big.NewInt(1), uint(i)))
	}
	for range 100 {
		cases = append(cases, randomScalar(rng))
	}
	for _, k := range cases {
		var got nistec.P256Point
		limbs := limbsOf(k)
		d := recodeForGenerator(&limbs)
		multiplyGenerator(&got, &limbs, &d)
		want, err := nistec.NewP256Point().ScalarBaseMult(scalarBytes(k))
		if err != nil {
			t.Fatal(err)
		}
		if got.Equal(want) != 1 {
			t.Fatalf("multiplyGenerator(%x) differs from ScalarBaseMult", k)
		}
	}
}

func TestNewRejectsOtherKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := newKey(t)
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: key.X, Y: new(big.Int).Add(key.Y, big.NewInt(1))}
	tooBig := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).Lsh(big.NewInt(1), 256), Y: key.Y}
	for what, pub := range map[string]*ecdsa.PublicKey{
		"nil": nil, "P-384": &p384.PublicKey, "off the curve": offCurve, "x of 257 bits": tooBig,
		"no coordinates": {Curve: elliptic.P256()},
	} {
		if _, err := New(pub); err != ErrNotP256 {
			t.Errorf("%s: New = %v, want ErrNotP256", what, err)
		}
	}
}

// FuzzVerify mutates a valid signature's digest, r and s and requires the
// same answer as crypto/ecdsa.
func FuzzVerify(f *testing.F) {
	key, table := newKey(f)
	valid := sign(f, key, []byte("fuzz"))
	f.Add(valid.digest, scalarBytes(valid.r), scalarBytes(valid.s))
	f.Add(valid.digest, scalarBytes(valid.r), scalarBytes(new(big.Int).Sub(curveOrder, valid.s)))
	f.Add([]byte{}, []byte{1}, []byte{1})
	f.Fuzz(func(t *testing.T, digest, r, s []byte) {
		agree(t, table, signature{&key.PublicKey, digest, new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)}, "fuzzed")
	})
}

func BenchmarkVerify(b *testing.B) {
	key, table := newKey(b)
	c := sign(b, key, []byte("bench"))
	b.Run("keytable", func(b *testing.B) {
		for b.Loop() {
			if !table.Verify(c.digest, c.r, c.s) {
				b.Fatal("rejected")
			}
		}
	})
	// Under load, a verification mostly starts with the table out of the
	// cache: other processes and other keys' tables have run since. Here
	// each starts after 8 MiB were written, more than the caches below
	// the last level hold; different signatures select different entries.
	b.Run("keytable, cold cache", func(b *testing.B) {
		var signatures []signature
		for i := range 16 {
			signatures = append(signatures, sign(b, key, []byte{'b', byte(i)}))
		}
		evict := make([]byte, 8<<20)
		i := 0
		for b.Loop() {
			b.StopTimer()
			for j := 0; j < len(evict); j += 64 {
				evict[j]++
			}
			b.StartTimer()
			c := signatures[i%len(signatures)]
			i++
			if !table.Verify(c.digest, c.r, c.s) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("crypto/ecdsa", func(b *testing.B) {
		for b.Loop() {
			if !ecdsa.Verify(c.pub, c.digest, c.r, c.s) {
				b.Fatal("rejected")
			}
		}
	})
}

func BenchmarkNew(b *testing.B) {
	key, _ := newKey(b)
	b.Run("key", func(b *testing.B) {
		for b.Loop() {
			if _, err := New(&key.PublicKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNewTableRefusesWidthsTheProofDoesNotCover: multiply's proof needs
// the top window at bit 252, and digits must fit in int16.
func TestNewTableRefusesWidthsTheProofDoesNotCover(t *testing.T) {
	g := nistec.NewP256Point().SetGenerator()
	for _, bits := range []int{5, 8, 10, 18} { // 18 puts the top window at 252, but its digits overflow int16
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("newTable accepted %d-bit windows", bits)
				}
			}()
			newTable(g, bits)
		}()
	}
}

func flip(b []byte, bit int) []byte {
	c := append([]byte(nil), b...)
	c[bit/8%len(c)] ^= 1 << (bit % 8)
	return c
}

// curveY returns a y with (x, y) on P-256, or nil when x³ - 3x + b is not a
// square modulo p.
func curveY(x *big.Int) *big.Int {
	params := elliptic.P256().Params()
	p := params.P
	rhs := new(big.Int).Exp(x, big.NewInt(3), p)
	rhs.Sub(rhs, new(big.Int).Mul(x, big.NewInt(3)))
	rhs.Add(rhs, params.B)
	rhs.Mod(rhs, p)
	return new(big.Int).ModSqrt(rhs, p)
}

func point(t *testing.T, x, y *big.Int) *nistec.P256Point {
	t.Helper()
	b := make([]byte, 65)
	b[0] = 4
	x.FillBytes(b[1:33])
	y.FillBytes(b[33:])
	pt, err := nistec.NewP256Point().SetBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzVerifyForged builds valid signatures from fuzzed scalars (R = k·G,
// u1, u2, with the key forged to fit), so that the fuzzer explores
// acceptance too, and scalars of every digit pattern: a valid signature
// must be accepted, as crypto/ecdsa accepts it.
func FuzzVerifyForged(f *testing.F) {
	n := curveOrder
	nMinus1 := scalarBytes(new(big.Int).Sub(n, big.NewInt(1)))
	f.Add([]byte{1}, []byte{2}, []byte{3})
	f.Add(nMinus1, nMinus1, nMinus1)
	f.Add(bytes.Repeat([]byte{0x82}, 32), bytes.Repeat([]byte{0x7f}, 32), []byte{0x20})
	f.Fuzz(func(t *testing.T, kb, u1b, u2b []byte) {
		if len(kb) > 32 || len(u1b) > 32 || len(u2b) > 32 {
			return
		}
		k := new(big.Int).Mod(new(big.Int).SetBytes(kb), n)
		u1 := new(big.Int).Mod(new(big.Int).SetBytes(u1b), n)
		u2 := new(big.Int).Mod(new(big.Int).SetBytes(u2b), n)
		if k.Sign() == 0 || u2.Sign() == 0 || k.Cmp(u1) == 0 {
			return // R at infinity, no u2, or Q at infinity
		}
		rPoint, err := nistec.NewP256Point().ScalarBaseMult(scalarBytes(k))
		if err != nil {
			t.Fatal(err)
		}
		r := new(big.Int).Mod(new(big.Int).SetBytes(must(rPoint.BytesX())), n)
		if r.Sign() == 0 {
			return
		}
		c := forged(t, rPoint, r, u1, u2)
		if !agree(t, tableOf(t, c.pub), c, "forged") {
			t.Fatalf("crypto/ecdsa rejected a forged valid signature (k %x u1 %x u2 %x)", k, u1, u2)
		}
	})
}
