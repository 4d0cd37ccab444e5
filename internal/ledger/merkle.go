package ledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
)

// The Merkle tree of a block's transactions follows RFC 6962 §2.1: a leaf
// hashes as SHA-256(0x00 ‖ envelope), an interior node as
// SHA-256(0x01 ‖ left ‖ right), a tree of n > 1 leaves splits after the
// largest power of two smaller than n, and the empty tree hashes to
// SHA-256 of nothing.

// ErrMerkleProof is wrapped by VerifyMerkleProof when a proof does not
// prove the leaf.
var ErrMerkleProof = errors.New("Merkle proof does not verify")

type digest = [sha256.Size]byte

// leafHasher hashes leaves reusing one SHA-256 state and its buffers, so
// hashing a leaf allocates nothing.
type leafHasher struct {
	h      hash.Hash
	prefix []byte // {0x00}
	sum    []byte
}

func newLeafHasher() *leafHasher {
	return &leafHasher{h: sha256.New(), prefix: []byte{0x00}, sum: make([]byte, 0, sha256.Size)}
}

func (l *leafHasher) hash(data []byte) (d digest) {
	l.h.Reset()
	l.h.Write(l.prefix)
	l.h.Write(data)
	l.sum = l.h.Sum(l.sum[:0])
	copy(d[:], l.sum)
	return d
}

func nodeHash(left, right *digest) digest {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = 0x01
	copy(buf[1:], left[:])
	copy(buf[1+sha256.Size:], right[:])
	return sha256.Sum256(buf[:])
}

func leafHashes(data [][]byte) []digest {
	lh := newLeafHasher()
	out := make([]digest, len(data))
	for i, d := range data {
		out[i] = lh.hash(d)
	}
	return out
}

// reduce computes the root of the tree over leaves in place, destroying
// them. Pairing neighbours level by level and carrying an odd last node up
// unchanged builds exactly RFC 6962's tree: its left subtrees are always
// complete, so the split falls after the largest power of two below n.
func reduce(level []digest) digest {
	if len(level) == 0 {
		return sha256.Sum256(nil)
	}
	n := len(level)
	for n > 1 {
		half := n / 2
		for i := 0; i < half; i++ {
			level[i] = nodeHash(&level[2*i], &level[2*i+1])
		}
		if n%2 == 1 {
			level[half] = level[n-1]
			half++
		}
		n = half
	}
	return level[0]
}

// MerkleRoot returns the RFC 6962 Merkle tree hash of a block's envelopes.
func MerkleRoot(data [][]byte) []byte {
	r := reduce(leafHashes(data))
	return r[:]
}

// largestPow2Below returns the largest power of two strictly smaller than
// n, for n >= 2.
func largestPow2Below(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// MerkleProof returns the RFC 6962 audit path of envelope index in data:
// the sibling hashes from the leaf up to the root, as VerifyMerkleProof
// takes them.
func MerkleProof(data [][]byte, index int) ([][]byte, error) {
	if index < 0 || index >= len(data) {
		return nil, fmt.Errorf("ledger: Merkle proof of transaction %d in a block of %d", index, len(data))
	}
	path := auditPath(leafHashes(data), index, nil)
	out := make([][]byte, len(path))
	for i := range path {
		out[i] = path[i][:]
	}
	return out, nil
}

// auditPath is RFC 6962's PATH(m, D[n]), deepest sibling first.
func auditPath(leaves []digest, m int, scratch []digest) []digest {
	n := len(leaves)
	if n <= 1 {
		return nil
	}
	k := largestPow2Below(n)
	var sub []digest
	var sibling []digest
	if m < k {
		sub, sibling = leaves[:k], leaves[k:]
	} else {
		sub, sibling, m = leaves[k:], leaves[:k], m-k
	}
	scratch = append(scratch[:0], sibling...)
	root := reduce(scratch)
	return append(auditPath(sub, m, scratch), root)
}

// VerifyMerkleProof checks that leaf (an envelope's bytes) is entry index of
// a tree of size entries with the given root, using the audit path proof as
// MerkleProof returns it (RFC 9162 §2.1.3.2). It returns nil or an error
// wrapping ErrMerkleProof.
//
// The proof binds the leaf to the root, but not the tree size by itself
// (index 0 of 3 and of 4 can share a path): take size from the block the
// root was signed for, the number of its transactions.
func VerifyMerkleProof(root, leaf []byte, index, size uint64, proof [][]byte) error {
	if index >= size {
		return fmt.Errorf("ledger: %w: index %d is outside a tree of %d", ErrMerkleProof, index, size)
	}
	fn, sn := index, size-1
	r := newLeafHasher().hash(leaf)
	for i, p := range proof {
		if len(p) != sha256.Size {
			return fmt.Errorf("ledger: %w: proof hash %d has %d bytes, want %d", ErrMerkleProof, i, len(p), sha256.Size)
		}
		if sn == 0 {
			return fmt.Errorf("ledger: %w: proof has %d hashes, more than a tree of %d needs", ErrMerkleProof, len(proof), size)
		}
		sib := digest(p)
		if fn&1 == 1 || fn == sn {
			r = nodeHash(&sib, &r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = nodeHash(&r, &sib)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("ledger: %w: proof has %d hashes, too few for a tree of %d", ErrMerkleProof, len(proof), size)
	}
	if !bytes.Equal(r[:], root) {
		return fmt.Errorf("ledger: %w: it leads to root %x, not %x", ErrMerkleProof, r[:], root)
	}
	return nil
}
