package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"sync/atomic"

	"github.com/chorusledger/chorus/internal/identity/keytable"
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
//
// It also makes the verifications it computes faster for the keys that sign
// most: once a P-256 key has had keyTableAfter signatures verified, the
// cache computes its keytable.Table and verifies its signatures with it
// (about 22 µs instead of 49). It keeps at most maxKeyTables tables, the
// most recently used, about 130 KB each.
type SignatureCache struct {
	capacity int
	entries  *lru[sigCacheKey, struct{}]
	// keyMisses counts the verifications computed per key (by keyID) that
	// has no table yet; tables holds the keys' tables.
	keyMisses *lru[[sha256.Size]byte, *atomic.Int32]
	tables    *lru[[sha256.Size]byte, *keytable.Table]
}

// keyTableAfter is the number of verifications a key needs before the
// cache computes its table. A table costs about 0.4 ms, the time it saves
// in 15 verifications, so keys that sign once or twice never get one.
const keyTableAfter = 16

// maxKeyTables bounds the tables a SignatureCache holds (about 8 MB), and
// maxKeysCounted the keys whose verifications it counts.
const (
	maxKeyTables   = 64
	maxKeysCounted = 4096
)

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
	KeyTables int    // public keys whose precomputed tables are held now
}

// NewSignatureCache returns an empty cache holding at most capacity
// signatures; a capacity of zero or less means DefaultSignatureCacheCapacity.
func NewSignatureCache(capacity int) *SignatureCache {
	if capacity <= 0 {
		capacity = DefaultSignatureCacheCapacity
	}
	return &SignatureCache{
		capacity:  capacity,
		entries:   newLRU[sigCacheKey, struct{}](capacity),
		keyMisses: newLRU[[sha256.Size]byte, *atomic.Int32](maxKeysCounted),
		tables:    newLRU[[sha256.Size]byte, *keytable.Table](maxKeyTables),
	}
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
	if err := verifyDigestWith(c.keyTable(keyID, pub), pub, msg, &digest, sig); err != nil {
		return err
	}
	c.entries.add(k, struct{}{})
	return nil
}

// keyTable returns the table of pub, whose keyID it is, or nil when pub has
// none yet; a key that is not P-256 never has one.
func (c *SignatureCache) keyTable(keyID [sha256.Size]byte, pub crypto.PublicKey) *keytable.Table {
	if table, ok := c.tables.get(keyID); ok {
		return table
	}
	ecdsaPub, ok := pub.(*ecdsa.PublicKey)
	if !ok || ecdsaPub == nil || ecdsaPub.Curve != elliptic.P256() {
		return nil
	}
	count, ok := c.keyMisses.get(keyID)
	if !ok {
		count = new(atomic.Int32)
		c.keyMisses.add(keyID, count) // a concurrent first miss may replace it: one count lost
	}
	// The verification that brings the count to keyTableAfter, or past it
	// when the key's table was evicted, starts the count again and
	// computes the table; concurrent ones go on without.
	n := count.Add(1)
	if n < keyTableAfter || !count.CompareAndSwap(n, 0) {
		return nil
	}
	table, err := keytable.New(ecdsaPub)
	if err != nil {
		return nil // not a point of the curve: the verification rejects it
	}
	c.tables.add(keyID, table)
	return table
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
	return SignatureCacheStats{Hits: s.hits, Misses: s.misses, Evictions: s.evictions, Len: s.len, Capacity: c.capacity,
		KeyTables: c.tables.stats().len}
}
