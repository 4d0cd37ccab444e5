//go:build !purego

package keytable

import (
	"crypto/elliptic"
	"encoding/binary"
	"math/big"
	"sync"
	"unsafe"

	"filippo.io/nistec"
)

// This file reaches three assembly functions of filippo.io/nistec that it
// does not export, through go:linkname: mixed addition of an affine point
// to a Jacobian one, and field multiplication and squaring. ADR 0016 says
// why, and what guards it: the version is pinned in go.sum, the functions'
// declarations below copy their signatures, the layouts mirrored here are
// checked by TestLayoutMirrorsNistec, and every verification is checked
// against crypto/ecdsa by the package's differential and fuzz tests.

// fieldElement is an element of P-256's base field as nistec's assembly
// holds it: four little-endian 64-bit limbs, in the Montgomery domain
// (times R = 2^256 modulo p) unless said otherwise.
type fieldElement [4]uint64

// entry is a table's multiple in affine coordinates, laid out as nistec's
// p256AffinePoint, which its mixed addition takes.
type entry struct {
	x, y fieldElement
}

// entryBytes is the size of an entry: two field elements.
const entryBytes = 64

// jacobian mirrors the layout of nistec.P256Point on the architectures
// with its assembly: X, Y, Z with x = X/Z² and y = Y/Z³, Z = 0 at infinity.
type jacobian struct {
	x, y, z fieldElement
}

func asJacobian(p *nistec.P256Point) *jacobian { return (*jacobian)(unsafe.Pointer(p)) }

// p256PointAddAffineAsm sets res = in1 + in2, or in1 - in2 if sign is not
// 0; res = in1 if sel is 0; res = ±in2 if zero is 0 (in1 is taken as the
// point at infinity). It does not handle in1 = in2, which needs a
// doubling; in1 = -in2 gives Z = 0, the point at infinity.
//
//go:linkname p256PointAddAffineAsm filippo.io/nistec.p256PointAddAffineAsm
//go:noescape
func p256PointAddAffineAsm(res, in1 *nistec.P256Point, in2 *entry, sign, sel, zero int)

// p256Mul sets res = in1·in2·R⁻¹ mod p: the Montgomery product, which is
// below p.
//
//go:linkname p256Mul filippo.io/nistec.p256Mul
//go:noescape
func p256Mul(res, in1, in2 *fieldElement)

// p256Sqr sets res = in squared n times, in the Montgomery domain.
//
//go:linkname p256Sqr filippo.io/nistec.p256Sqr
//go:noescape
func p256Sqr(res, in *fieldElement, n int)

var (
	fieldPrime = elliptic.P256().Params().P
	// rSquared is R² mod p outside the Montgomery domain: multiplying by
	// it brings a value into the domain.
	rSquared = fieldElement(limbsOf(new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), 512), fieldPrime)))
	// plainOne is 1 outside the domain: multiplying by it brings a value
	// out of the domain, fully reduced.
	plainOne = fieldElement{1}
)

// toMontgomery returns x·R mod p for x < p given outside the domain.
func toMontgomery(x fieldElement) fieldElement {
	var m fieldElement
	p256Mul(&m, &x, &rSquared)
	return m
}

// fromMontgomery returns the value x stands for, fully reduced below p.
func fromMontgomery(x *fieldElement) fieldElement {
	var v fieldElement
	p256Mul(&v, x, &plainOne)
	return v
}

// setEntries converts the multiples, none of them the point at infinity,
// to affine coordinates with one inversion for all of them (Montgomery's
// trick): x = X/Z², y = Y/Z³.
func setEntries(points []entry, multiples []nistec.P256Point) {
	// prefix[i] = Z_0·…·Z_i
	prefix := make([]fieldElement, len(multiples))
	prefix[0] = asJacobian(&multiples[0]).z
	for i := 1; i < len(multiples); i++ {
		p256Mul(&prefix[i], &prefix[i-1], &asJacobian(&multiples[i]).z)
	}
	inverse := invert(&prefix[len(prefix)-1]) // (Z_0·…·Z_i)⁻¹, i from the last down
	for i := len(multiples) - 1; i >= 0; i-- {
		m := asJacobian(&multiples[i])
		zInv := inverse
		if i > 0 {
			p256Mul(&zInv, &inverse, &prefix[i-1])
			p256Mul(&inverse, &inverse, &m.z)
		}
		var zInv2, zInv3 fieldElement
		p256Sqr(&zInv2, &zInv, 1)
		p256Mul(&zInv3, &zInv2, &zInv)
		e := &points[i]
		p256Mul(&e.x, &m.x, &zInv2)
		p256Mul(&e.y, &m.y, &zInv3)
	}
}

// invert returns x⁻¹ in the Montgomery domain, for x not zero. Everything
// a table holds is public, so math/big's variable-time inversion is fine;
// it runs once per table.
func invert(x *fieldElement) fieldElement {
	v := fromMontgomery(x)
	b := limbsToInt(&v)
	b.ModInverse(b, fieldPrime)
	return toMontgomery(fieldElement(limbsOf(b)))
}

// limbsToInt returns the integer of four little-endian limbs.
func limbsToInt(v *fieldElement) *big.Int {
	var be [32]byte
	for i, limb := range v {
		binary.BigEndian.PutUint64(be[24-8*i:], limb)
	}
	return new(big.Int).SetBytes(be[:])
}

// addEntry adds e, negated if negate, to p; started says whether p holds
// anything yet (if not, it is the point at infinity and becomes ±e).
// multiply's doc says why the incomplete addition is exact there.
func addEntry(p *nistec.P256Point, e *entry, negate, started bool) {
	sign, zero := 0, 0
	if negate {
		sign = 1
	}
	if started {
		zero = 1
	}
	p256PointAddAffineAsm(p, p, e, sign, 1, zero)
}

// generatorWindowBits is the width of the generator's table: one table for
// the whole process, so it can be wider than a key's (ADR 0020). At 9 bits
// it holds 29 windows of 256 entries, 475 KB, and a multiplication adds at
// most 29 of them instead of 43.
const generatorWindowBits = 9

// The generator's width must put its top window at bit 252 (multiply's
// doc) and fit a digit in int16: each constant underflows otherwise.
const (
	_ = uint(((256+1+generatorWindowBits-1)/generatorWindowBits-1)*generatorWindowBits - 252)
	_ = uint(252 - ((256+1+generatorWindowBits-1)/generatorWindowBits-1)*generatorWindowBits)
	_ = uint(15 - generatorWindowBits)
)

// generatorTable is the table of the generator, made once. nistec
// multiplies the generator with an affine table too, but selects each
// entry in constant time, reading all of its window: a verification has no
// secret to hide, and reads one.
var generatorTable = sync.OnceValue(func() *Table {
	return newTable(nistec.NewP256Point().SetGenerator(), generatorWindowBits)
})

// prepareGenerator makes the generator's table, if it is not made yet:
// New calls it, so that its 5 ms are spent with a key's table (which the
// signature cache makes at most once per key) rather than in a
// verification.
func prepareGenerator() { generatorTable() }

// recodeForGenerator returns k's digits for the generator's table.
func recodeForGenerator(k *scalar) digits { return generatorTable().recode(k) }

// multiplyGenerator sets p = k·G for 0 <= k < the order, d being k's
// digits from recodeForGenerator.
func multiplyGenerator(p *nistec.P256Point, _ *scalar, d *digits) {
	generatorTable().apply(p, d)
}

// touchGenerator is Table.touch for the generator's table.
func touchGenerator(d *digits) byte { return generatorTable().touch(d) }

// xModOrderIs reports whether p is not the point at infinity and its affine
// x-coordinate, reduced modulo the order, is r (0 < r < order). It compares
// in Jacobian coordinates, X = x·Z², instead of inverting Z: x mod order
// = r means x = r or, when r + order < p, x = r + order.
func xModOrderIs(p *nistec.P256Point, r *big.Int) bool {
	j := asJacobian(p)
	if fromMontgomery(&j.z) == (fieldElement{}) {
		return false
	}
	var z2 fieldElement
	p256Sqr(&z2, &j.z, 1)
	x := fromMontgomery(&j.x)
	matches := func(candidate *big.Int) bool {
		c := toMontgomery(fieldElement(limbsOf(candidate)))
		var cz2 fieldElement
		p256Mul(&cz2, &c, &z2)
		return fromMontgomery(&cz2) == x
	}
	if matches(r) {
		return true
	}
	rPlusOrder := new(big.Int).Add(r, curveOrder)
	return rPlusOrder.Cmp(fieldPrime) < 0 && matches(rPlusOrder)
}
