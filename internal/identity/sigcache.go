package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"sync/atomic"
	"time"

	"github.com/chorusledger/chorus/internal/identity/keytable"
)

// DefaultSignatureCacheCapacity is the capacity of a SignatureCache made with
// a capacity of zero: about 10 MiB of entries, enough for the signatures a
// busy peer checks between a transaction's endorsement and its commit.
const DefaultSignatureCacheCapacity = 32768

// SignatureCache remembers signatures that verified, so that a node never
// verifies the same signature twice (a peer's own endorsements, an envelope
// the Gateway already checked). It is bounded: past its capacity it forgets
// the oldest signature. It is safe for concurrent use; the
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
// most: once keyTableAfter signatures of a P-256 key have verified (bad
// ones do not count), the cache computes the key's keytable.Table and
// verifies its signatures with it (about 13 µs instead of 49 on amd64, 22
// elsewhere; ADR 0016). It keeps at most maxKeyTables tables, the most
// recently used, about 90 KB each on amd64 (130 KB elsewhere), and
// computes at most one every minTableInterval, so that more keys in turn
// than it keeps tables for cost at most 2% of a core in tables computed
// and evicted again.
type SignatureCache struct {
	capacity int
	entries  *signatureSet
	// keyVerified counts the verifications that succeeded without a table
	// per key (by keyID); tables holds the keys' tables.
	keyVerified *lru[[sha256.Size]byte, *atomic.Int32]
	tables      *lru[[sha256.Size]byte, *keytable.Table]
	// nextTable is the earliest time, in nanoseconds since epoch, at which
	// another table may be computed; tablesBuilt counts them. Times are
	// differences of now's readings, monotonic with time.Now, so a step of
	// the wall clock does not stall tables.
	nextTable   atomic.Int64
	tablesBuilt atomic.Uint64
	now         func() time.Time // time.Now; tests replace it
	epoch       time.Time
}

// keyTableAfter is the number of verified signatures a key needs before
// the cache computes its table. A table costs about 0.4 ms, the time it
// saves in 15 verifications, so keys that sign once or twice never get
// one.
const keyTableAfter = 16

// maxKeyTables bounds the tables a SignatureCache holds (about 8 MB), and
// maxKeysCounted the keys whose verifications it counts. minTableInterval
// spaces the computation of tables: at most 40 a second, 16 ms of CPU.
const (
	maxKeyTables     = 64
	maxKeysCounted   = 4096
	minTableInterval = 25 * time.Millisecond
)

// SignatureCacheStats are counters of a SignatureCache since it was made.
type SignatureCacheStats struct {
	Hits      uint64 // verifications answered from the cache
	Misses    uint64 // verifications that had to compute
	Evictions uint64 // entries forgotten to stay within capacity
	Len       int    // entries held now
	Capacity  int    // most entries held
	KeyTables int    // public keys whose precomputed tables are held now
	// KeyTablesBuilt counts the tables computed, evicted ones included.
	KeyTablesBuilt uint64
}

// NewSignatureCache returns an empty cache holding at most capacity
// signatures; a capacity of zero or less means DefaultSignatureCacheCapacity.
func NewSignatureCache(capacity int) *SignatureCache {
	if capacity <= 0 {
		capacity = DefaultSignatureCacheCapacity
	}
	return &SignatureCache{
		capacity:    capacity,
		entries:     newSignatureSet(capacity),
		keyVerified: newLRU[[sha256.Size]byte, *atomic.Int32](maxKeysCounted),
		tables:      newLRU[[sha256.Size]byte, *keytable.Table](maxKeyTables),
		now:         time.Now,
		epoch:       time.Now(),
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
	k, cacheable := makeSignatureKey(&keyID, &digest, sig)
	if cacheable && c.entries.contains(&k) {
		return nil
	}
	table, _ := c.tables.get(keyID)
	if err := verifyDigestWith(table, pub, msg, &digest, sig); err != nil {
		return err
	}
	if cacheable {
		c.entries.add(&k)
	}
	if table == nil {
		c.countVerified(keyID, pub)
	}
	return nil
}

// countVerified counts a signature of pub (whose keyID it is) that
// verified without a table, and computes the key's table when the count
// reaches keyTableAfter (or passed it, the key's table having been
// evicted) and no other table was computed in the last minTableInterval.
// A key that is not P-256 never gets one.
func (c *SignatureCache) countVerified(keyID [sha256.Size]byte, pub crypto.PublicKey) {
	ecdsaPub, ok := pub.(*ecdsa.PublicKey)
	if !ok || ecdsaPub == nil || ecdsaPub.Curve != elliptic.P256() {
		return
	}
	count, ok := c.keyVerified.get(keyID)
	if !ok {
		count = new(atomic.Int32)
		c.keyVerified.add(keyID, count) // a concurrent first one may replace it: one count lost
	}
	n := count.Add(1)
	// Of concurrent verifications past the count, the one that starts it
	// again may compute the table; if it may not yet (another table was
	// computed less than minTableInterval ago), it gives the count back
	// and a later verification tries again.
	if n < keyTableAfter || !count.CompareAndSwap(n, 0) {
		return
	}
	if !c.mayComputeTable() {
		count.Add(n)
		return
	}
	table, err := keytable.New(ecdsaPub)
	if err != nil {
		return // not a point of the curve; such a key verifies nothing anyway
	}
	c.tablesBuilt.Add(1)
	c.tables.add(keyID, table)
}

// mayComputeTable reports whether a table may be computed now, and if so
// reserves the next minTableInterval.
func (c *SignatureCache) mayComputeTable() bool {
	now := int64(c.now().Sub(c.epoch))
	next := c.nextTable.Load()
	return now >= next && c.nextTable.CompareAndSwap(next, now+int64(minTableInterval))
}

// Remember records sig as pub's valid signature of msg without verifying
// it: for signatures this process made itself, such as a peer's own
// endorsements, which it meets again when it validates their block. Never
// call it with a signature that came from elsewhere. A SigningIdentity's
// SignAndRemember does the same for less.
func (c *SignatureCache) Remember(pub crypto.PublicKey, msg, sig []byte) {
	if c == nil {
		return
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return
	}
	keyID, digest := sha256.Sum256(spki), sha256.Sum256(msg)
	c.remember(&keyID, &digest, sig)
}

// remember records sig as the valid signature of the message whose
// SHA-256 is digest by the key whose ID is keyID.
func (c *SignatureCache) remember(keyID, digest *[sha256.Size]byte, sig []byte) {
	if k, ok := makeSignatureKey(keyID, digest, sig); ok {
		c.entries.add(&k)
	}
}

// Stats returns the cache's counters. A nil cache has all zero.
func (c *SignatureCache) Stats() SignatureCacheStats {
	if c == nil {
		return SignatureCacheStats{}
	}
	s := c.entries.stats()
	return SignatureCacheStats{Hits: s.hits, Misses: s.misses, Evictions: s.evictions, Len: s.len, Capacity: c.capacity,
		KeyTables: c.tables.stats().len, KeyTablesBuilt: c.tablesBuilt.Load()}
}
