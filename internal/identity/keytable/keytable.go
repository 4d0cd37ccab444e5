// Package keytable verifies ECDSA P-256 signatures made by one public key
// in a quarter (amd64) to a half (elsewhere) of the time crypto/ecdsa
// takes, using a table of the key's multiples computed once (about 0.5 ms
// and 90 KB a key on amd64, 0.4 ms and 130 KB elsewhere).
//
// A verification computes u1·G + u2·Q, where G is the curve's generator and
// Q the public key. crypto/ecdsa multiplies G with a precomputed table but
// must treat Q as a point it has never seen, which costs about 34 of its 47
// µs. A node verifies the signatures of a few keys over and over (a client
// that submits thousands of transactions, the other organizations' peers
// and orderers), so for those keys the table is worth keeping: with it, Q's
// multiplication is 43 point additions and no doublings. On amd64 the
// generator has a table of this package too, one per process and wider
// (475 KB, made in about 5 ms with the first key's table; ADR 0020): G's
// multiplication is at most 29 additions.
//
// Everything a verification handles is public (the key, the message's
// digest, the signature), so the table is indexed by the scalar's digits
// directly, without the constant-time lookups that signing needs. The
// arithmetic of points is filippo.io/nistec, the exported copy of the
// standard library's own P-256. On amd64 the table holds affine points and
// a verification adds them with nistec's assembly for mixed addition, for
// G as for Q, and compares x(R) with r without an inversion (point_amd64.go,
// ADR 0016); elsewhere it holds nistec's points and uses their exported
// operations (point_generic.go).
package keytable

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"unsafe"

	"filippo.io/nistec"
)

// windowBits is the width of the signed digits of a key's table. Q's
// multiplication adds one table entry per nonzero digit: 43 additions for
// 6 bits. Each window holds 2^(windowBits-1) multiples; 5 bits would take
// fewer bytes and 2 µs more, 7 bits about 1.7 times the bytes and 1.8 µs
// less (docs/performance.md). The generator, one table for the whole
// process, has wider windows on amd64 (generatorWindowBits, ADR 0020).
const windowBits = 6

// windows is the number of digits of a scalar below 2^256 in windowBits-bit
// windows, counting the carry that signed digits may push out of its top
// bits; maxWindows is the same for the narrowest width used.
const (
	windows    = (256 + 1 + windowBits - 1) / windowBits
	maxWindows = windows
)

// The proof in multiply's doc needs the top window to start at bit 252:
// each constant underflows otherwise.
const (
	_ = uint((windows-1)*windowBits - 252)
	_ = uint(252 - (windows-1)*windowBits)
)

// windowsOf is the number of bits-wide windows that hold a scalar below
// 2^256 and a carry: 257 bits. (windows is the same for windowBits, as a
// constant.)
func windowsOf(bits int) int { return (256 + 1 + bits - 1) / bits }

// checkWidth panics unless bits is a width multiply's proof covers (its
// top window starts at bit 252) and digits can hold (at most 15 bits, for
// int16).
func checkWidth(bits int) {
	if bits > 15 || (windowsOf(bits)-1)*bits != 252 {
		panic(fmt.Sprintf("keytable: %d-bit windows: the top window must start at bit 252 and a digit fit in int16", bits))
	}
}

// entriesPerWindow is the number of multiples a key's table holds per
// window: digit d in [1, 2^(windowBits-1)] uses entry d-1, digit -d its
// negation.
const entriesPerWindow = 1 << (windowBits - 1)

// Size is the number of bytes a key's Table holds: about 90 KB with
// affine entries (amd64), 130 KB with nistec's points.
const Size = windows * entriesPerWindow * entryBytes

// Table is the precomputed multiples of one P-256 point Q, a public key or
// the generator, for scalars recoded in signed digits of bits bits: entry
// i·2^(bits-1) + j is (j+1)·2^(bits·i)·Q. It is immutable once made and
// safe for concurrent use.
type Table struct {
	bits   int
	points []entry
}

// perWindow is the number of entries a window of t holds.
func (t *Table) perWindow() int { return 1 << (t.bits - 1) }

// at returns the entry for a nonzero digit of window i.
func (t *Table) at(i int, digit int16) *entry {
	if digit < 0 {
		digit = -digit
	}
	return &t.points[i<<(t.bits-1)+int(digit)-1]
}

// ErrNotP256 is returned by New for a key that is not a valid point of
// P-256.
var ErrNotP256 = errors.New("keytable: not an ECDSA P-256 public key")

var curveOrder = elliptic.P256().Params().N

// New computes the table of pub, which must be a point of P-256 other than
// the point at infinity.
func New(pub *ecdsa.PublicKey) (*Table, error) {
	if pub == nil || pub.Curve != elliptic.P256() || pub.X == nil || pub.Y == nil ||
		pub.X.Sign() < 0 || pub.Y.Sign() < 0 || pub.X.BitLen() > 256 || pub.Y.BitLen() > 256 {
		return nil, ErrNotP256
	}
	var uncompressed [65]byte
	uncompressed[0] = 4
	pub.X.FillBytes(uncompressed[1:33])
	pub.Y.FillBytes(uncompressed[33:])
	q, err := nistec.NewP256Point().SetBytes(uncompressed[:]) // checks the point is on the curve
	if err != nil {
		return nil, ErrNotP256
	}
	table := newTable(q, windowBits)
	prepareGenerator()
	return table, nil
}

// newTable computes the table of q, a point of P-256 other than the point
// at infinity, for bits-bit digits.
func newTable(q *nistec.P256Point, bits int) *Table {
	// No multiple in the table is the point at infinity: the order of the
	// group is an odd prime above 2^(bits-1), so it divides no
	// (j+1)·2^(bits·i). (Entries of the top window beyond what a scalar
	// below 2^256 selects are never used.)
	checkWidth(bits)
	t := &Table{bits: bits}
	n, per := windowsOf(bits), t.perWindow()
	multiples := make([]nistec.P256Point, n*per)
	step := nistec.NewP256Point().Set(q) // 2^(bits·i)·Q
	for i := range n {
		row := multiples[i*per : (i+1)*per]
		row[0].Set(step)
		for j := 1; j < per; j++ {
			row[j].Add(&row[j-1], step)
		}
		for range bits {
			step.Double(step)
		}
	}
	t.points = make([]entry, len(multiples))
	setEntries(t.points, multiples)
	return t
}

// Verify reports whether (r, s) is a valid ECDSA signature of digest, a
// SHA-256 hash, by the table's key. It accepts exactly the signatures
// crypto/ecdsa.Verify accepts for the same key and digest, high S included.
func (t *Table) Verify(digest []byte, r, s *big.Int) bool {
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(curveOrder) >= 0 || s.Cmp(curveOrder) >= 0 {
		return false
	}
	// u1 = e/s and u2 = r/s modulo the order, e the digest's leading 256
	// bits as an integer (scalar.go).
	u1, u2 := verificationScalars(digest, r, s)

	var sum, qMultiple nistec.P256Point
	d1, d2 := recodeForGenerator(&u1), t.recode(&u2)
	touched := touchGenerator(&d1) ^ t.touch(&d2)
	multiplyGenerator(&sum, &u1, &d1)
	t.apply(&qMultiple, &d2)
	keep(touched)
	sum.Add(&sum, &qMultiple) // nistec's complete addition: either may be the point at infinity
	// r must equal x(R) modulo the order; fails for the point at infinity.
	return xModOrderIs(&sum, r)
}

// touch reads an entry's last byte at entryBytes-1: both must be the
// entry's size, which these constants check at compile time (one of them
// underflows otherwise).
const (
	_ = uint(entryBytes - unsafe.Sizeof(entry{}))
	_ = uint(unsafe.Sizeof(entry{}) - entryBytes)
)

// keep takes a value a verification computed only for its reads' sake.
//
//go:noinline
func keep(byte) {}

// multiply sets p = k·Q for 0 <= k < the order n of the group, with signed
// digits of w = t.bits bits: digit d_i in [-2^(w-1)+1, 2^(w-1)] and
// k = Σ d_i·2^(w·i).
//
// Below the order, no addition meets a case that an incomplete (mixed)
// addition gets wrong, for the widths newTable accepts (checkWidth), which
// all put the top window at bit 252: w·(windowsOf(w)-1) = 252, as for 6 and
// 9 bits (8 bits would not). Before window i the sum holds b·Q with
// |b| <= 2^(w-1)·(2^(w·i)-1)/(2^w-1) < 2^(w·i-1)·2^w/(2^w-1), and window i
// adds c·Q with |c| >= 2^(w·i), so b ≠ ±c, and b is never a nonzero
// multiple of n. b ≡ ±c modulo n needs |b| + |c| >= n, so only the top
// window (c = d·2^252 with d <= 16, since k < 2^256) could reach it:
// b = c ± n is too small to be a partial sum except for d = 16,
// b = 2^256 - n, which makes k = 2^257 - n >= n; and b ≡ -c makes k = b + c
// a multiple of n, so zero, with every digit zero.
func (t *Table) multiply(p *nistec.P256Point, k *big.Int) {
	limbs := limbsOf(k)
	d := t.recode(&limbs)
	t.apply(p, &d)
}

// digits are a scalar's signed digits of a table's width, as multiply's
// doc describes them, lowest first; a width above windowBits leaves the
// last ones zero. checkWidth keeps every digit within int16.
type digits [maxWindows]int16

// recode returns the signed digits of limbs, a number below 2^256, for t's
// width.
func (t *Table) recode(limbs *scalar) digits {
	bits := t.bits
	var d digits
	carry := 0
	half := 1 << (bits - 1)
	for i := range windowsOf(bits) {
		digit := bitsAt(limbs, i*bits, bits) + carry
		carry = 0
		if digit > half {
			digit -= 1 << bits
			carry = 1
		}
		d[i] = int16(digit)
	}
	// The windows cover 257 bits, so the last carry is always zero.
	return d
}

// apply sets p to the sum of the table's entries that d, digits of
// t.bits bits, selects: the scalar's multiple of the table's point.
func (t *Table) apply(p *nistec.P256Point, d *digits) {
	p.Set(nistec.NewP256Point()) // the point at infinity
	started := false
	for i, digit := range d[:windowsOf(t.bits)] {
		if digit != 0 {
			addEntry(p, t.at(i, digit), digit < 0, started)
			started = true
		}
	}
}

// touch reads the first and last byte of every entry that d selects, and
// returns them folded together so that the reads are not left out. Its
// reads do not depend on one another, so the processor makes them all at
// once; the additions that follow, each depending on the last, then find
// their entries in the cache. Under load a table is mostly out of the
// cache when a verification starts (other processes, other keys' tables),
// and each addition would otherwise wait for its entry in turn:
// BenchmarkVerify's cold-cache case measures it.
func (t *Table) touch(d *digits) byte {
	var folded byte
	for i, digit := range d[:windowsOf(t.bits)] {
		if digit == 0 {
			continue
		}
		e := unsafe.Pointer(t.at(i, digit))
		folded ^= *(*byte)(e) ^ *(*byte)(unsafe.Add(e, entryBytes-1))
	}
	return folded
}

// limbsOf returns k, which is below 2^256, as four little-endian 64-bit
// limbs.
func limbsOf(k *big.Int) [4]uint64 {
	var b [32]byte
	k.FillBytes(b[:])
	return limbsOfBytes(&b)
}

// limbsOfBytes returns the big-endian number b as four little-endian
// 64-bit limbs.
func limbsOfBytes(b *[32]byte) [4]uint64 {
	var limbs [4]uint64
	for i := range limbs {
		limbs[i] = binary.BigEndian.Uint64(b[24-8*i:])
	}
	return limbs
}

// bytesOfLimbs is limbsOfBytes's inverse.
func bytesOfLimbs(limbs *[4]uint64) [32]byte {
	var b [32]byte
	for i, l := range limbs {
		binary.BigEndian.PutUint64(b[24-8*i:], l)
	}
	return b
}

// bitsAt returns n bits (n < 64) of the 256-bit number limbs starting at
// bit pos, reading zeros past its end.
func bitsAt(limbs *[4]uint64, pos, n int) int {
	if pos >= 256 {
		return 0
	}
	word, shift := pos/64, pos%64
	v := limbs[word] >> shift
	if shift+n > 64 && word+1 < 4 {
		v |= limbs[word+1] << (64 - shift)
	}
	return int(v & (1<<n - 1))
}
