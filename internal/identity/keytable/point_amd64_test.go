//go:build !purego

package keytable

import (
	"crypto/elliptic"
	"math/big"
	mathrand "math/rand/v2"
	"testing"
	"unsafe"

	"filippo.io/nistec"
)

// TestLayoutMirrorsNistec checks what point_amd64.go assumes of the nistec
// it links to: P256Point is three Montgomery-domain field elements X, Y, Z,
// and the mixed addition takes an entry as affine x, y and honours its
// sign, sel and zero arguments as declared.
func TestLayoutMirrorsNistec(t *testing.T) {
	if unsafe.Sizeof(nistec.P256Point{}) != unsafe.Sizeof(jacobian{}) {
		t.Fatalf("nistec.P256Point is %d bytes, the mirror %d", unsafe.Sizeof(nistec.P256Point{}), unsafe.Sizeof(jacobian{}))
	}
	params := elliptic.P256().Params()
	g := asJacobian(nistec.NewP256Point().SetGenerator())
	if got := fromMontgomery(&g.z); got != plainOne {
		t.Fatalf("the generator's Z is %x, want 1", got)
	}
	if got := fromMontgomery(&g.x); limbsToInt(&got).Cmp(params.Gx) != 0 {
		t.Fatalf("the generator's X is %x, want Gx", got)
	}
	if got := fromMontgomery(&g.y); limbsToInt(&got).Cmp(params.Gy) != 0 {
		t.Fatalf("the generator's Y is %x, want Gy", got)
	}

	table := generatorTable()
	g1, g2 := &table.points[0], &table.points[1] // G and 2G, affine
	if x := fromMontgomery(&g1.x); limbsToInt(&x).Cmp(params.Gx) != 0 {
		t.Fatalf("the table's first entry has x %x, want Gx", x)
	}
	encode := func(p *nistec.P256Point) string { return string(p.Bytes()) }
	point := func(k int64) string {
		p, err := nistec.NewP256Point().ScalarBaseMult(scalarBytes(big.NewInt(k)))
		if err != nil {
			t.Fatal(err)
		}
		return encode(p)
	}
	negG := nistec.NewP256Point().SetGenerator()
	negG.Negate(negG)
	for _, c := range []struct {
		what            string
		entry           *entry
		sign, sel, zero int
		want            string
	}{
		{"G + 2G", g2, 0, 1, 1, point(3)},
		{"G - 2G", g2, 1, 1, 1, encode(negG)},
		{"sel 0 keeps G", g2, 0, 0, 1, point(1)},
		{"zero 0 gives 2G", g2, 0, 1, 0, point(2)},
		{"zero 0 with sign gives -G", g1, 1, 1, 0, encode(negG)},
	} {
		p := nistec.NewP256Point().SetGenerator()
		p256PointAddAffineAsm(p, p, c.entry, c.sign, c.sel, c.zero)
		if encode(p) != c.want {
			t.Errorf("%s: wrong point", c.what)
		}
	}
}

// TestXModOrderIs compares the Jacobian comparison with the affine
// x-coordinate for points of random Z, and r off by one either way.
func TestXModOrderIs(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(7, 8))
	for range 200 {
		a, b := randomScalar(rng), randomScalar(rng)
		// a·G + b·G through an addition, so that Z is not 1.
		pa, _ := nistec.NewP256Point().ScalarBaseMult(scalarBytes(a))
		pb, _ := nistec.NewP256Point().ScalarBaseMult(scalarBytes(b))
		sum := nistec.NewP256Point().Add(pa, pb)
		x := new(big.Int).SetBytes(must(sum.BytesX()))
		r := new(big.Int).Mod(x, curveOrder)
		if r.Sign() == 0 {
			continue
		}
		if !xModOrderIs(sum, r) {
			t.Fatalf("x mod n = %x not recognised", r)
		}
		for _, off := range []int64{-1, 1} {
			other := new(big.Int).Add(r, big.NewInt(off))
			if other.Sign() > 0 && other.Cmp(curveOrder) < 0 && xModOrderIs(sum, other) {
				t.Fatalf("r = x mod n %+d accepted", off)
			}
		}
	}
	if xModOrderIs(nistec.NewP256Point(), big.NewInt(1)) {
		t.Fatal("the point at infinity matched r = 1")
	}
}

// BenchmarkNewGeneratorTable is the generator's table, made once per
// process at its own width.
func BenchmarkNewGeneratorTable(b *testing.B) {
	g := nistec.NewP256Point().SetGenerator()
	for b.Loop() {
		newTable(g, generatorWindowBits)
	}
}
