package identity

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
)

// DefaultSignatureCacheCapacity is the capacity of a SignatureCache made with
// a capacity of zero: about 8 MiB of entries, enough for the signatures a
// busy peer checks between a transaction's endorsement and its commit.
const DefaultSignatureCacheCapacity = 32768

// SignatureCache remembers signatures that verified, so that a node never
// verifies the same signature twice (a peer's own endorsements, an envelope
// the Gateway already checked). It is bounded: past its capacity it forgets
// the least recently used signature. It is safe for concurrent use; the
// verification itself runs outside its lock.
//
// An entry is keyed by (SHA-256 of the public key's PKIX encoding,
// SHA-256 of the message, the signature bytes) and means "this key signed
// this message with exactly these bytes". It is never keyed by a transaction
// id, which a forger chooses freely. Rejected signatures are not remembered,
// so a flood of bad signatures cannot evict good ones.
//
// A nil *SignatureCache is valid and caches nothing.
type SignatureCache struct {
	capacity int
	entries  *lru[sigCacheKey, struct{}]
}

type sigCacheKey struct {
	keyID  [sha256.Size]byte
	digest [sha256.Size]byte
	sig    string
}

// SignatureCacheStats are counters of a SignatureCache since it was made.
type SignatureCacheStats struct {
	Hits      uint64 // verifications answered from the cache
	Misses    uint64 // verifications that had to compute
	Evictions uint64 // entries forgotten to stay within capacity
	Len       int    // entries held now
	Capacity  int    // most entries held
}

// NewSignatureCache returns an empty cache holding at most capacity
// signatures; a capacity of zero or less means DefaultSignatureCacheCapacity.
func NewSignatureCache(capacity int) *SignatureCache {
	if capacity <= 0 {
		capacity = DefaultSignatureCacheCapacity
	}
	return &SignatureCache{capacity: capacity, entries: newLRU[sigCacheKey, struct{}](capacity)}
}

// Verify is the package function Verify, answered from the cache when the
// same key, message and signature verified before.
func (c *SignatureCache) Verify(pub crypto.PublicKey, msg, sig []byte) error {
	if c == nil {
		return Verify(pub, msg, sig)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Verify(pub, msg, sig) // not a key we can name: let Verify refuse it
	}
	return c.verify(sha256.Sum256(spki), pub, msg, sig)
}

// verify checks sig with keyID = SHA-256(PKIX encoding of pub), which
// identities compute once.
func (c *SignatureCache) verify(keyID [sha256.Size]byte, pub crypto.PublicKey, msg, sig []byte) error {
	digest := sha256.Sum256(msg)
	if c == nil {
		return verifyDigest(pub, msg, &digest, sig)
	}
	k := sigCacheKey{keyID: keyID, digest: digest, sig: string(sig)}
	if _, ok := c.entries.get(k); ok {
		return nil
	}
	if err := verifyDigest(pub, msg, &digest, sig); err != nil {
		return err
	}
	c.entries.add(k, struct{}{})
	return nil
}

// Remember records sig as pub's valid signature of msg without verifying
// it: for signatures this process made itself, such as a peer's own
// endorsements, which it meets again when it validates their block. Never
// call it with a signature that came from elsewhere.
func (c *SignatureCache) Remember(pub crypto.PublicKey, msg, sig []byte) {
	if c == nil {
		return
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return
	}
	c.entries.add(sigCacheKey{keyID: sha256.Sum256(spki), digest: sha256.Sum256(msg), sig: string(sig)}, struct{}{})
}

// Stats returns the cache's counters. A nil cache has all zero.
func (c *SignatureCache) Stats() SignatureCacheStats {
	if c == nil {
		return SignatureCacheStats{}
	}
	s := c.entries.stats()
	return SignatureCacheStats{Hits: s.hits, Misses: s.misses, Evictions: s.evictions, Len: s.len, Capacity: c.capacity}
}
