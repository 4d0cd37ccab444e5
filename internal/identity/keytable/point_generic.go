//go:build !amd64 || purego

package keytable

import (
	"math/big"

	"filippo.io/nistec"
)

// entry is a table's multiple as nistec's point, in Jacobian coordinates:
// without access to nistec's field arithmetic, this is the form its
// exported operations take.
type entry = nistec.P256Point

// entryBytes is the size of an entry: three field elements.
const entryBytes = 96

// setEntries copies the multiples into the table.
func setEntries(points []entry, multiples []nistec.P256Point) {
	for i := range points {
		points[i].Set(&multiples[i])
	}
}

// prepareGenerator does nothing: nistec multiplies by the generator with a
// table of its own.
func prepareGenerator() {}

// recodeForGenerator returns no digits: multiplyGenerator takes the scalar
// itself.
func recodeForGenerator(*scalar) digits { return digits{} }

// addEntry adds e, negated if negate, to p. nistec's Add is complete, so
// started (whether p holds anything but the point at infinity) is not
// needed.
func addEntry(p *nistec.P256Point, e *entry, negate, started bool) {
	if negate {
		var negated nistec.P256Point
		p.Add(p, negated.Negate(e))
		return
	}
	p.Add(p, e)
}

// multiplyGenerator sets p = k·G for 0 <= k < the order, with nistec's
// table of the generator.
func multiplyGenerator(p *nistec.P256Point, k *scalar, _ *digits) {
	b := bytesOfLimbs(k)
	p.ScalarBaseMult(b[:]) // cannot fail: 32 bytes
}

// touchGenerator reads nothing: nistec's multiplication by the generator
// reads its whole table anyway.
func touchGenerator(*digits) byte { return 0 }

// xModOrderIs reports whether p is not the point at infinity and its affine
// x-coordinate, reduced modulo the order, is r.
func xModOrderIs(p *nistec.P256Point, r *big.Int) bool {
	x, err := p.BytesX() // fails for the point at infinity
	if err != nil {
		return false
	}
	// x < p < 2·order, so one subtraction reduces it.
	xInt := new(big.Int).SetBytes(x)
	if xInt.Cmp(curveOrder) >= 0 {
		xInt.Sub(xInt, curveOrder)
	}
	return xInt.Cmp(r) == 0
}
