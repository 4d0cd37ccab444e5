package identity

import (
	"crypto/sha256"
	"sync"
)

// maxCachedSignature is the longest signature a SignatureCache holds: a
// DER ECDSA P-256 signature takes at most 72 bytes, an Ed25519 one 64.
// Longer ones verify nothing (those are the only keys Verify accepts) and
// are never remembered.
const maxCachedSignature = 72

// signatureKey names one signature: this key signed this message with
// exactly these bytes. It holds no pointer, so a set of them costs the
// garbage collector nothing to scan, and a look-up compares it in place.
type signatureKey struct {
	keyID  [sha256.Size]byte // SHA-256 of the public key's PKIX encoding
	digest [sha256.Size]byte // SHA-256 of the message
	sig    [maxCachedSignature]byte
	sigLen uint8
}

// makeSignatureKey returns the key of sig, and false if sig is too long to
// be held.
func makeSignatureKey(keyID, digest *[sha256.Size]byte, sig []byte) (signatureKey, bool) {
	if len(sig) > maxCachedSignature {
		return signatureKey{}, false
	}
	k := signatureKey{keyID: *keyID, digest: *digest, sigLen: uint8(len(sig))}
	copy(k.sig[:], sig)
	return k, true
}

// signatureSet is a bounded set of signatures, safe for concurrent use.
// Past its capacity it forgets the oldest: a signature is remembered to be
// met again once or twice within seconds (a transaction's endorsement and
// then its block's validation), so the order of use that an LRU keeps
// would cost a list update on every hit for nothing. Its memory is two
// arrays without pointers, which grow up to the capacity: the map and the
// ring of keys in the order they were added.
type signatureSet struct {
	mu       sync.Mutex
	capacity int
	members  map[signatureKey]struct{}
	order    []signatureKey // a ring: order[next] is the oldest once full
	next     int

	hits, misses, evictions uint64
}

func newSignatureSet(capacity int) *signatureSet {
	return &signatureSet{capacity: capacity, members: map[signatureKey]struct{}{}}
}

// contains reports whether k is in the set, and counts a hit or a miss.
func (s *signatureSet) contains(k *signatureKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.members[*k]
	if ok {
		s.hits++
	} else {
		s.misses++
	}
	return ok
}

// add puts k in the set, forgetting the oldest member if the set is full.
func (s *signatureSet) add(k *signatureKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := len(s.members)
	if s.members[*k] = struct{}{}; len(s.members) == held {
		return // it was there already
	}
	if len(s.order) < s.capacity {
		s.order = append(s.order, *k)
		return
	}
	delete(s.members, s.order[s.next])
	s.evictions++
	s.order[s.next] = *k
	s.next = (s.next + 1) % len(s.order)
}

func (s *signatureSet) stats() lruStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return lruStats{hits: s.hits, misses: s.misses, evictions: s.evictions, len: len(s.members)}
}
