package keytable

import (
	"math/big"
	"math/bits"
)

// This file computes a verification's scalars, u1 = e/s and u2 = r/s
// modulo the group order n, on four 64-bit limbs and without allocating:
// the inverse of s by Bernstein and Yang's "safegcd" divsteps, in their
// variable-time form, then Montgomery multiplications. math/big did it
// before (ADR 0021): its ModInverse alone allocates 11 times, and under
// load it cost about twice its benchmark, half of that in growing the
// stack of the goroutine that verifies.
//
// Every value here is public (signature, digest), so variable time is
// fine. Each inverse is checked (s·w = 1 modulo n, one multiplication)
// before it is used; were the check ever to fail, the verification would
// fall back to math/big rather than use a wrong inverse.

// scalar is an integer below 2^256 as four little-endian 64-bit limbs;
// the scalars of a verification are below the order n.
type scalar = [4]uint64

var (
	// orderLimbs is n, the order of P-256's group.
	orderLimbs = limbsOf(curveOrder)
	// orderInverse64 is n⁻¹ modulo 2^64 (n is odd).
	orderInverse64 = inverse64(orderLimbs[0])
	// montgomeryR2 is R² modulo n, R = 2^256: a Montgomery product with it
	// multiplies by R.
	montgomeryR2 = limbsOf(new(big.Int).Exp(big.NewInt(2), big.NewInt(512), curveOrder))
	// montgomeryRInverse is R⁻¹ modulo n: the Montgomery product of s and
	// its inverse.
	montgomeryRInverse = limbsOf(new(big.Int).ModInverse(new(big.Int).Lsh(big.NewInt(1), 256), curveOrder))
)

// inverse64 returns x⁻¹ modulo 2^64 for odd x, by Newton's iteration: x is
// its own inverse modulo 8, and each step doubles the bits that are right.
func inverse64(x uint64) uint64 {
	y := x
	for range 5 { // 3 → 6 → 12 → 24 → 48 → 96 bits
		y *= 2 - x*y
	}
	return y
}

// montgomeryMultiply returns a·b·R⁻¹ modulo n, fully reduced, for a < 2^256
// and b < n (so that the product is below n·R).
func montgomeryMultiply(a, b *scalar) scalar {
	var t [6]uint64
	m0 := -orderInverse64 // -n⁻¹ modulo 2^64
	for i := range 4 {
		// t += a·b[i]
		var carry uint64
		for j := range 4 {
			hi, lo := bits.Mul64(a[j], b[i])
			var c uint64
			lo, c = bits.Add64(lo, t[j], 0)
			hi += c
			lo, c = bits.Add64(lo, carry, 0)
			hi += c
			t[j], carry = lo, hi
		}
		var c uint64
		t[4], c = bits.Add64(t[4], carry, 0)
		t[5] = c
		// t = (t + m·n) / 2^64, with m making the low word zero.
		m := t[0] * m0
		hi, lo := bits.Mul64(m, orderLimbs[0])
		_, c = bits.Add64(lo, t[0], 0)
		carry = hi + c
		for j := 1; j < 4; j++ {
			hi, lo = bits.Mul64(m, orderLimbs[j])
			lo, c = bits.Add64(lo, t[j], 0)
			hi += c
			lo, c = bits.Add64(lo, carry, 0)
			hi += c
			t[j-1], carry = lo, hi
		}
		t[3], c = bits.Add64(t[4], carry, 0)
		t[4] = t[5] + c
	}
	// t < 2n: subtract n once if t >= n.
	var r scalar
	var borrow uint64
	r[0], borrow = bits.Sub64(t[0], orderLimbs[0], 0)
	r[1], borrow = bits.Sub64(t[1], orderLimbs[1], borrow)
	r[2], borrow = bits.Sub64(t[2], orderLimbs[2], borrow)
	r[3], borrow = bits.Sub64(t[3], orderLimbs[3], borrow)
	_, borrow = bits.Sub64(t[4], 0, borrow)
	if borrow != 0 {
		return scalar{t[0], t[1], t[2], t[3]}
	}
	return r
}

// verificationScalars returns u1 = e/s and u2 = r/s modulo n, for the
// digest's integer e (its leading 256 bits) and 0 < r, s < n.
func verificationScalars(digest []byte, r, s *big.Int) (u1, u2 scalar) {
	sLimbs := limbsOf(s)
	w, ok := invertModOrder(&sLimbs)
	if !ok || montgomeryMultiply(&sLimbs, &w) != montgomeryRInverse {
		w = limbsOf(new(big.Int).ModInverse(s, curveOrder))
	}
	wR := montgomeryMultiply(&w, &montgomeryR2) // w·R modulo n
	e, rLimbs := digestLimbs(digest), limbsOf(r)
	return montgomeryMultiply(&e, &wR), montgomeryMultiply(&rLimbs, &wR)
}

// digestLimbs is the integer of a digest's leading 256 bits, as ECDSA
// defines it; a shorter digest is taken whole.
func digestLimbs(digest []byte) scalar {
	var b [32]byte
	if len(digest) > 32 {
		digest = digest[:32]
	}
	copy(b[32-len(digest):], digest)
	return limbsOfBytes(&b)
}

// The inversion works on signed numbers of nine 30-bit limbs, so that every
// product of a limb and a divstep matrix entry (both below 2^30 in
// magnitude) and their sums fit in an int64. Limbs 0 to 7 hold 30 bits
// each, in [0, 2^30); limb 8 holds the rest, with the sign.
const (
	limbBits  = 30
	limbMask  = 1<<limbBits - 1
	limbCount = 9
	// maxBatches bounds the inversion's loop: a 256-bit input needs at
	// most 741 divsteps (Bernstein and Yang), 25 batches of 30.
	maxBatches = 40
)

type signed30 [limbCount]int64

// transition is the matrix of 30 divsteps, scaled by 2^30: the batch
// takes (f, g) to ((u·f + v·g)/2^30, (q·f + r·g)/2^30).
type transition struct{ u, v, q, r int64 }

var (
	orderSigned30 = toSigned30(&orderLimbs)
	// orderInverse30 is n⁻¹ modulo 2^30.
	orderInverse30 = int64(orderInverse64 & limbMask)
)

// isZero reports whether x is 0: every limb zero, since limbs 0 to 7 are
// in [0, 2^30) and only limb 8 is signed.
func (x *signed30) isZero() bool {
	var or int64
	for _, l := range x {
		or |= l
	}
	return or == 0
}

func toSigned30(x *scalar) signed30 {
	var s signed30
	for i := range s {
		s[i] = int64(bitsAt(x, i*limbBits, limbBits))
	}
	return s
}

// invertModOrder returns s⁻¹ modulo n for 0 < s < n; false for s = 0.
func invertModOrder(s *scalar) (scalar, bool) {
	if *s == (scalar{}) {
		return scalar{}, false
	}
	// f and g start as n and s; d and e track the multiples of s that
	// f and g are, modulo n: f ≡ d·s and g ≡ e·s. When g reaches 0, f is
	// ±1 (n is prime), so d·s ≡ ±1.
	f, g := orderSigned30, toSigned30(s)
	var d, e signed30
	e[0] = 1
	eta := int64(-1) // -δ of Bernstein and Yang, δ = 1 to start
	for range maxBatches {
		var t transition
		eta, t = divsteps30(eta, uint64(f[0]), uint64(g[0]))
		updateDE(&d, &e, &t)
		updateFG(&f, &g, &t)
		if g.isZero() {
			return normalize(&d, f[limbCount-1] < 0), true
		}
	}
	return scalar{}, false
}

// divsteps30 applies 30 divsteps to (f, g), of which it needs only the
// low bits (f odd), and returns the new eta and the steps' matrix. Runs of
// steps that halve g are taken together (trailing zeros), and up to six
// steps that add f to g when g is odd are taken in one addition, of w·f
// with w = -g/f modulo 2^k; k never reaches past the next swap, which
// eta + 1 steps away at the earliest.
func divsteps30(eta int64, f, g uint64) (int64, transition) {
	u, v, q, r := int64(1), int64(0), int64(0), int64(1)
	left := limbBits
	for {
		zeros := bits.TrailingZeros64(g | ^uint64(0)<<left)
		g >>= zeros
		u <<= zeros
		v <<= zeros
		eta -= int64(zeros)
		left -= zeros
		if left == 0 {
			return eta, transition{u, v, q, r}
		}
		// g is odd.
		if eta < 0 {
			eta = -eta
			f, g = g, -f
			u, q = q, -u
			v, r = r, -v
		}
		k := min(int(eta)+1, left, 6)
		// -f⁻¹ ≡ f·(f² - 2) modulo 64 for odd f, since (f² - 1)² ≡ 0.
		w := g * f * (f*f - 2) & (1<<k - 1)
		g += w * f
		q += int64(w) * u
		r += int64(w) * v
	}
}

// updateFG sets (f, g) to the batch's ((u·f + v·g)/2^30, (q·f + r·g)/2^30);
// the divisions are exact.
func updateFG(f, g *signed30, t *transition) {
	cf := t.u*f[0] + t.v*g[0]
	cg := t.q*f[0] + t.r*g[0]
	cf >>= limbBits
	cg >>= limbBits
	for i := 1; i < limbCount; i++ {
		cf += t.u*f[i] + t.v*g[i]
		cg += t.q*f[i] + t.r*g[i]
		f[i-1], g[i-1] = cf&limbMask, cg&limbMask
		cf >>= limbBits
		cg >>= limbBits
	}
	f[limbCount-1], g[limbCount-1] = cf, cg
}

// updateDE sets (d, e) to the batch's ((u·d + v·e)/2^30, (q·d + r·e)/2^30)
// modulo n, adding the multiples of n that make the divisions exact. Kept
// in (-2n, n): the multiples include u or v, q or r for a negative d or e.
func updateDE(d, e *signed30, t *transition) {
	sd, se := d[limbCount-1]>>63, e[limbCount-1]>>63 // -1 if negative
	md := t.u&sd + t.v&se
	me := t.q&sd + t.r&se
	cd := t.u*d[0] + t.v*e[0]
	ce := t.q*d[0] + t.r*e[0]
	md -= (orderInverse30*cd + md) & limbMask
	me -= (orderInverse30*ce + me) & limbMask
	cd += orderSigned30[0] * md
	ce += orderSigned30[0] * me
	cd >>= limbBits
	ce >>= limbBits
	for i := 1; i < limbCount; i++ {
		cd += t.u*d[i] + t.v*e[i] + orderSigned30[i]*md
		ce += t.q*d[i] + t.r*e[i] + orderSigned30[i]*me
		d[i-1], e[i-1] = cd&limbMask, ce&limbMask
		cd >>= limbBits
		ce >>= limbBits
	}
	d[limbCount-1], e[limbCount-1] = cd, ce
}

// normalize returns d, or -d if negate, reduced into [0, n); d is in
// (-2n, n).
func normalize(d *signed30, negate bool) scalar {
	// Limbs 0 to 7 make the low 240 bits; limb 8, signed, the rest: the
	// value as a 320-bit two's complement number.
	var x [5]uint64
	var acc uint64
	filled, word := 0, 0
	for i := range limbCount - 1 {
		limb := uint64(d[i])
		acc |= limb << filled
		filled += limbBits
		if filled >= 64 {
			x[word] = acc
			word++
			filled -= 64
			acc = limb >> (limbBits - filled)
		}
	}
	top := d[limbCount-1]
	x[3] = acc | uint64(top)<<48
	x[4] = uint64(top >> 16)
	if negate {
		var borrow uint64
		for i := range x {
			x[i], borrow = bits.Sub64(0, x[i], borrow)
		}
	}
	n := [5]uint64{orderLimbs[0], orderLimbs[1], orderLimbs[2], orderLimbs[3], 0}
	for int64(x[4]) < 0 { // at most twice
		var carry uint64
		for i := range x {
			x[i], carry = bits.Add64(x[i], n[i], carry)
		}
	}
	for {
		var y [5]uint64
		var borrow uint64
		for i := range x {
			y[i], borrow = bits.Sub64(x[i], n[i], borrow)
		}
		if borrow != 0 {
			return scalar{x[0], x[1], x[2], x[3]}
		}
		x = y
	}
}
