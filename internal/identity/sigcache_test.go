package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSignatureCacheHitsAndMisses(t *testing.T) {
	key := newP256(t)
	c := NewSignatureCache(10)
	msg := []byte("m")
	sig, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name         string
		msg, sig     []byte
		wantErr      error
		hits, misses uint64
	}{
		{"first verification computes", msg, sig, nil, 0, 1},
		{"second is a hit", msg, sig, nil, 1, 1},
		{"third is a hit", msg, sig, nil, 2, 1},
		{"other message misses and fails", []byte("n"), sig, ErrBadSignature, 2, 2},
		{"high-S twin misses and fails", msg, flipS(t, sig), ErrHighS, 2, 3},
		{"failure was not remembered", msg, flipS(t, sig), ErrHighS, 2, 4},
	}
	for _, s := range steps {
		err := c.Verify(&key.PublicKey, s.msg, s.sig)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: got %v, want %v", s.name, err, s.wantErr)
		}
		st := c.Stats()
		if st.Hits != s.hits || st.Misses != s.misses {
			t.Fatalf("%s: %d hits, %d misses; want %d, %d", s.name, st.Hits, st.Misses, s.hits, s.misses)
		}
	}
	if st := c.Stats(); st.Len != 1 || st.Capacity != 10 || st.Evictions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSignatureCacheKeyIncludesTheKey(t *testing.T) {
	// Ed25519 signatures are deterministic, so two keys can be asked about
	// the very same (message, signature) pair.
	pub1, key1, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	c := NewSignatureCache(10)
	msg := []byte("m")
	sig := ed25519.Sign(key1, msg)
	if err := c.Verify(pub1, msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(pub2, msg, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key got %v from the cache, want ErrBadSignature", err)
	}
}

func TestSignatureCacheForgetsTheOldest(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public()
	c := NewSignatureCache(3)
	msgs := make([][]byte, 6)
	sigs := make([][]byte, 6)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "message %d", i)
		sigs[i] = ed25519.Sign(key, msgs[i])
	}
	verify := func(i int) (hit bool) {
		t.Helper()
		before := c.Stats().Hits
		if err := c.Verify(pub, msgs[i], sigs[i]); err != nil {
			t.Fatal(err)
		}
		return c.Stats().Hits > before
	}
	verify(0)
	verify(1)
	verify(2)
	if !verify(0) { // a hit does not make it younger
		t.Fatal("message 0 missed")
	}
	verify(3) // forgets 0
	verify(4) // forgets 1
	st := c.Stats()
	if st.Len != 3 || st.Evictions != 2 || st.Hits != 1 || st.Misses != 5 {
		t.Fatalf("stats %+v, want 3 entries, 2 evictions, 1 hit, 5 misses", st)
	}
	for _, tc := range []struct {
		i   int
		hit bool
	}{{2, true}, {3, true}, {4, true}, {0, false}, {1, false}, {2, false}} {
		// 0 is added again (forgetting 2), then 1 (forgetting 3), so 2 is
		// gone by its second look-up.
		if hit := verify(tc.i); hit != tc.hit {
			t.Errorf("message %d: hit %v, want %v", tc.i, hit, tc.hit)
		}
	}
	if st := c.Stats(); st.Len != 3 {
		t.Fatalf("cache holds %d entries past its capacity of 3", st.Len)
	}
}

// A signature longer than any valid one is neither held nor answered from
// the cache: it is verified, and refused, every time.
func TestSignatureCacheLongSignatures(t *testing.T) {
	key := newP256(t)
	c := NewSignatureCache(0)
	msg := []byte("m")
	sig, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	long := append(append([]byte(nil), sig...), make([]byte, maxCachedSignature)...)
	c.Remember(&key.PublicKey, msg, long)
	for range 2 {
		if err := c.Verify(&key.PublicKey, msg, long); err == nil {
			t.Fatal("a signature with trailing bytes verified")
		}
	}
	if st := c.Stats(); st.Len != 0 || st.Hits != 0 {
		t.Fatalf("stats %+v, want nothing held and no hit", st)
	}
}

func TestSignatureCacheDefaultsAndNil(t *testing.T) {
	if got := NewSignatureCache(0).Stats().Capacity; got != DefaultSignatureCacheCapacity {
		t.Errorf("capacity %d, want the default %d", got, DefaultSignatureCacheCapacity)
	}
	var c *SignatureCache
	key := newP256(t)
	sig, _ := Sign(key, []byte("m"))
	if err := c.Verify(&key.PublicKey, []byte("m"), sig); err != nil {
		t.Fatalf("nil cache: %v", err)
	}
	if err := c.Verify(&key.PublicKey, []byte("n"), sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("nil cache: got %v, want ErrBadSignature", err)
	}
	if c.Stats() != (SignatureCacheStats{}) {
		t.Error("nil cache has counters")
	}
	if err := NewSignatureCache(1).Verify(struct{}{}, nil, nil); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("unsupported key: got %v", err)
	}
}

func TestSignatureCacheConcurrent(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public()
	const distinct = 20
	c := NewSignatureCache(distinct / 2)
	msgs := make([][]byte, distinct)
	sigs := make([][]byte, distinct)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "m%d", i)
		sigs[i] = ed25519.Sign(key, msgs[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				j := (g*7 + i) % distinct
				if err := c.Verify(pub, msgs[j], sigs[j]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	if st.Hits+st.Misses != 400 || st.Len > distinct/2 {
		t.Fatalf("stats %+v: want 400 look-ups, at most %d entries", st, distinct/2)
	}
}

func TestSignatureCacheRemember(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("endorsement")
	sig, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSignatureCache(0)
	c.Remember(&key.PublicKey, msg, sig)
	if err := c.Verify(&key.PublicKey, msg, sig); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Hits != 1 || st.Misses != 0 {
		t.Errorf("stats %+v, want one hit and no miss", st)
	}
	// Another message with the same signature is still verified, and fails.
	if err := c.Verify(&key.PublicKey, []byte("other"), sig); err == nil {
		t.Error("a remembered signature verified another message")
	}
	var nilCache *SignatureCache
	nilCache.Remember(&key.PublicKey, msg, sig) // no effect, no panic
}

// A peer's endorsement signed with SignAndRemember is a hit when the
// peer's MSP identity, deserialized from the endorsement, verifies it.
func TestSignAndRememberIsAHitForTheSignersIdentity(t *testing.T) {
	p := pki(t)
	cfg := p.org1Config(nil)
	cfg.SignatureCache = NewSignatureCache(0)
	m := newTestMSP(t, cfg)
	signer := mustSigningIdentity(t, "Org1MSP", p.peer)
	id, err := m.DeserializeIdentity(signer.Serialize())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("endorsement")
	sig, err := signer.SignAndRemember(msg, cfg.SignatureCache)
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
	if st := cfg.SignatureCache.Stats(); st.Hits != 1 || st.Misses != 0 {
		t.Errorf("stats %+v, want one hit and no miss", st)
	}
	if err := id.Verify([]byte("other"), sig); err == nil {
		t.Error("a remembered signature verified another message")
	}
	if _, err := signer.SignAndRemember(msg, nil); err != nil { // no cache: signs only
		t.Fatal(err)
	}
}

// TestSignatureCacheKeyTables checks that a key gets its precomputed table
// at its keyTableAfter-th verified signature, not before, that rejected
// signatures do not count, and that verifications with the table answer as
// without: valid signatures pass, a changed message fails with
// ErrBadSignature, a high S with ErrHighS.
func TestSignatureCacheKeyTables(t *testing.T) {
	key := newP256(t)
	c := NewSignatureCache(0)
	verify := func(i int) {
		t.Helper()
		msg := fmt.Appendf(nil, "message %d", i)
		sig, err := Sign(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Verify(&key.PublicKey, msg, sig); err != nil {
			t.Fatalf("verification %d: %v", i, err)
		}
		if err := c.Verify(&key.PublicKey, append(msg, '!'), sig); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("verification %d of another message: %v, want ErrBadSignature", i, err)
		}
		if err := c.Verify(&key.PublicKey, msg, flipS(t, sig)); !errors.Is(err, ErrHighS) {
			t.Fatalf("verification %d with a high S: %v, want ErrHighS", i, err)
		}
		if err := c.Verify(&key.PublicKey, msg, []byte{0x30, 0x00}); !errors.Is(err, ErrMalformedSignature) {
			t.Fatalf("verification %d of a malformed signature: %v, want ErrMalformedSignature", i, err)
		}
	}
	// Each round verifies one signature and rejects three.
	for i := range keyTableAfter - 1 {
		verify(i)
	}
	if st := c.Stats(); st.KeyTables != 0 || st.KeyTablesBuilt != 0 {
		t.Fatalf("a table after %d verified signatures and %d rejected: %+v", keyTableAfter-1, 3*(keyTableAfter-1), st)
	}
	for i := keyTableAfter - 1; i < keyTableAfter+3; i++ {
		verify(i)
	}
	if st := c.Stats(); st.KeyTables != 1 || st.KeyTablesBuilt != 1 {
		t.Fatalf("after %d verified signatures: %+v, want one table", keyTableAfter+3, st)
	}
	// Ed25519 keys never get one.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	for i := range 2 * keyTableAfter {
		msg := fmt.Appendf(nil, "ed %d", i)
		if err := c.Verify(pub, msg, ed25519.Sign(priv, msg)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Stats().KeyTables; n != 1 {
		t.Fatalf("%d tables after Ed25519 verifications, want 1", n)
	}
}

// TestSignatureCacheKeyTablesRejectedDoNotCount: a flood of rejected
// signatures in the name of a key, the key's certificate being public,
// never buys it a table.
func TestSignatureCacheKeyTablesRejectedDoNotCount(t *testing.T) {
	key := newP256(t)
	c := NewSignatureCache(0)
	sig, err := Sign(key, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 * keyTableAfter {
		if err := c.Verify(&key.PublicKey, fmt.Appendf(nil, "other %d", i), sig); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%v, want ErrBadSignature", err)
		}
	}
	if st := c.Stats(); st.KeyTablesBuilt != 0 {
		t.Fatalf("%d tables computed for rejected signatures", st.KeyTablesBuilt)
	}
}

// fakeClock is a SignatureCache's clock that moves only when told.
type fakeClock struct{ t atomic.Int64 }

func (f *fakeClock) now() time.Time            { return time.Unix(0, f.t.Load()) }
func (f *fakeClock) advance(d time.Duration)   { f.t.Add(int64(d)) }
func (f *fakeClock) install(c *SignatureCache) { f.t.Store(1); c.now, c.epoch = f.now, f.now() }

// verifyN verifies n fresh signatures of key through c.
func verifyN(t *testing.T, c *SignatureCache, key *ecdsa.PrivateKey, n int) {
	t.Helper()
	for i := range n {
		msg := fmt.Appendf(nil, "%p %d", key, i)
		sig, err := Sign(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Verify(&key.PublicKey, msg, sig); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSignatureCacheKeyTablesPaced: keys that reach the count together get
// their tables one per minTableInterval, the others on a later
// verification.
func TestSignatureCacheKeyTablesPaced(t *testing.T) {
	c := NewSignatureCache(0)
	var clock fakeClock
	clock.install(c)
	keys := []*ecdsa.PrivateKey{newP256(t), newP256(t), newP256(t)}
	for _, k := range keys {
		verifyN(t, c, k, keyTableAfter)
	}
	if n := c.Stats().KeyTablesBuilt; n != 1 {
		t.Fatalf("%d tables computed at one instant, want 1", n)
	}
	clock.advance(minTableInterval)
	verifyN(t, c, keys[1], 1)
	verifyN(t, c, keys[2], 1)
	if n := c.Stats().KeyTablesBuilt; n != 2 {
		t.Fatalf("%d tables computed after one interval, want 2", n)
	}
	clock.advance(minTableInterval)
	verifyN(t, c, keys[2], 1)
	if st := c.Stats(); st.KeyTablesBuilt != 3 || st.KeyTables != 3 {
		t.Fatalf("after two intervals: %+v, want 3 tables", st)
	}
}

// TestSignatureCacheKeyTablesBounded verifies with more keys than the cache
// keeps tables for: it holds maxKeyTables, and a key whose table was
// evicted gets a new one after keyTableAfter more verifications.
func TestSignatureCacheKeyTablesBounded(t *testing.T) {
	c := NewSignatureCache(0)
	var clock fakeClock
	clock.install(c)
	keys := make([]*ecdsa.PrivateKey, maxKeyTables+1)
	for i := range keys {
		keys[i] = newP256(t)
		verifyN(t, c, keys[i], keyTableAfter)
		clock.advance(minTableInterval)
	}
	if st := c.Stats(); st.KeyTables != maxKeyTables || st.KeyTablesBuilt != maxKeyTables+1 {
		t.Fatalf("%+v, want the bound %d held and %d computed", st, maxKeyTables, maxKeyTables+1)
	}
	// keys[0]'s table was the least recently used: evicted. Its next
	// verifications compute, then build it again (evicting keys[1]'s).
	tableOf := func(key *ecdsa.PrivateKey) bool {
		id, err := keyIDOf(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		_, ok := c.tables.get(id)
		return ok
	}
	if tableOf(keys[0]) {
		t.Fatal("the least recently used table was not evicted")
	}
	verifyN(t, c, keys[0], keyTableAfter)
	if !tableOf(keys[0]) {
		t.Fatal("an evicted key did not get its table again")
	}
}

// TestSignatureCacheKeyTablesConcurrent verifies one key's signatures from
// many goroutines across the moment its table is computed (run with -race).
func TestSignatureCacheKeyTablesConcurrent(t *testing.T) {
	key := newP256(t)
	c := NewSignatureCache(0)
	const goroutines, each = 8, 2 * keyTableAfter / 8 * 2
	msgs := make([][]byte, goroutines*each)
	sigs := make([][]byte, len(msgs))
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "concurrent %d", i)
		var err error
		if sigs[i], err = Sign(key, msgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(msgs))
	for g := range goroutines {
		wg.Go(func() {
			for i := g * each; i < (g+1)*each; i++ {
				if err := c.Verify(&key.PublicKey, msgs[i], sigs[i]); err != nil {
					errs <- err
				}
				if err := c.Verify(&key.PublicKey, msgs[(i+1)%len(msgs)], sigs[i]); !errors.Is(err, ErrBadSignature) {
					errs <- fmt.Errorf("wrong message: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := c.Stats(); st.KeyTables != 1 || st.KeyTablesBuilt != 1 {
		t.Fatalf("%+v, want one table computed once", st)
	}
}

func keyIDOf(pub *ecdsa.PublicKey) ([32]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(spki), nil
}

// TestSignatureCacheKeyTablesRefusedCountKept: a key past the count whose
// table may not be computed yet (another was, within minTableInterval)
// keeps its count and gets its table at its first verification after the
// interval.
func TestSignatureCacheKeyTablesRefusedCountKept(t *testing.T) {
	c := NewSignatureCache(0)
	var clock fakeClock
	clock.install(c)
	first, second := newP256(t), newP256(t)
	verifyN(t, c, first, keyTableAfter)
	verifyN(t, c, second, keyTableAfter) // refused: the interval is not over
	if n := c.Stats().KeyTablesBuilt; n != 1 {
		t.Fatalf("%d tables computed within one interval, want 1", n)
	}
	clock.advance(minTableInterval)
	verifyN(t, c, second, 1)
	if n := c.Stats().KeyTablesBuilt; n != 2 {
		t.Fatalf("the refused key got no table at its next verification: %d computed", n)
	}

}

// deviceKey is a crypto.Signer outside Go's own key types, as a hardware
// module's is; a faulty one returns another message's signature.
type deviceKey struct {
	key    *ecdsa.PrivateKey
	faulty bool
}

func (d deviceKey) Public() crypto.PublicKey { return d.key.Public() }

func (d deviceKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if d.faulty {
		other := sha256.Sum256([]byte("another message"))
		digest = other[:]
	}
	return d.key.Sign(r, digest, opts)
}

// A device's signature is verified before it is remembered: a faulty
// device's is refused, not remembered as valid.
func TestSignAndRememberChecksADevicesSignature(t *testing.T) {
	p := pki(t)
	key, err := ParsePrivateKeyPEM(p.peer.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, faulty := range []bool{false, true} {
		signer, err := NewSigningIdentity("Org1MSP", p.peer.certPEM, deviceKey{key: key.(*ecdsa.PrivateKey), faulty: faulty})
		if err != nil {
			t.Fatal(err)
		}
		c := NewSignatureCache(0)
		sig, err := signer.SignAndRemember([]byte("endorsement"), c)
		if faulty {
			if err == nil || !strings.Contains(err.Error(), "does not verify") {
				t.Errorf("a faulty device's signature: %v, want it refused", err)
			}
			if st := c.Stats(); st.Len != 0 {
				t.Errorf("a faulty device's signature was remembered: %+v", st)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Verify(signer.PublicKey(), []byte("endorsement"), sig); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.Hits != 1 {
			t.Errorf("a device's valid signature was not remembered: %+v", st)
		}
	}
}
