package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	mathrand "math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// benchMsg is about the size of a proposal.
var benchMsg = make([]byte, 1024)

func BenchmarkSignP256(b *testing.B) {
	key := newP256(b)
	for b.Loop() {
		if _, err := Sign(key, benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyP256(b *testing.B) {
	key := newP256(b)
	sig, err := Sign(key, benchMsg)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := Verify(&key.PublicKey, benchMsg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is Identity.Verify answered by the signature cache,
// as a peer sees its own endorsements again at commit.
func BenchmarkVerifyCached(b *testing.B) {
	p := pki(b)
	cfg := p.org1Config(nil)
	cfg.SignatureCache = NewSignatureCache(0)
	m := newTestMSP(b, cfg)
	s := mustSigningIdentity(b, "Org1MSP", p.peer)
	id, err := m.DeserializeIdentity(s.Serialize())
	if err != nil {
		b.Fatal(err)
	}
	sig, err := s.Sign(benchMsg)
	if err != nil {
		b.Fatal(err)
	}
	if err := id.Verify(benchMsg, sig); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := id.Verify(benchMsg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignEd25519(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	for b.Loop() {
		if _, err := Sign(key, benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEd25519(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	sig := ed25519.Sign(key, benchMsg)
	for b.Loop() {
		if err := Verify(pub, benchMsg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeserializeIdentity measures a creator seen before (a cache hit)
// and one seen for the first time (full chain and CRL validation).
func BenchmarkDeserializeIdentity(b *testing.B) {
	p := pki(b)
	serialized := mustSerialize(b, "Org1MSP", p.interClient.certPEM)
	b.Run("cached", func(b *testing.B) {
		m := newTestMSP(b, p.org1Config(nil))
		for b.Loop() {
			if _, err := m.DeserializeIdentity(serialized); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("manager cached", func(b *testing.B) {
		mg, err := NewManager(newTestMSP(b, p.org1Config(nil)), newTestMSP(b, p.org2Config()))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := mg.DeserializeIdentity(serialized); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		m := newTestMSP(b, p.org1Config(nil))
		var i uint64
		for b.Loop() {
			// An unknown field makes new bytes for the same identity, so the
			// cache, keyed by bytes, misses every time.
			i++
			fresh := protowire.AppendVarint(protowire.AppendTag(bytes.Clone(serialized), 15, protowire.VarintType), i)
			if _, err := m.DeserializeIdentity(fresh); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSignatureCacheFull measures a full cache of the default
// capacity: a signature remembered (the oldest forgotten), and a look-up
// that hits, each of a signature among twice the capacity, in turn.
func BenchmarkSignatureCacheFull(b *testing.B) {
	key := newP256(b)
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	keyID := sha256.Sum256(spki)
	n := 2 * DefaultSignatureCacheCapacity
	msgs, sigs := make([][]byte, n), make([][]byte, n)
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	for i := range n {
		msgs[i] = fmt.Appendf(nil, "endorsement %d", i)
		sigs[i] = make([]byte, 71)
		for j := range sigs[i] {
			sigs[i][j] = byte(rng.Uint32())
		}
	}
	c := NewSignatureCache(0)
	i := 0
	b.Run("remember", func(b *testing.B) {
		for b.Loop() {
			c.Remember(&key.PublicKey, msgs[i%n], sigs[i%n])
			i++
		}
	})
	// Look-ups of the signatures the cache holds, the last remembered, in
	// a random order.
	held := rng.Perm(DefaultSignatureCacheCapacity)
	hits := c.Stats().Hits
	b.Run("hit", func(b *testing.B) {
		j := 0
		for b.Loop() {
			k := (i - 1 - held[j%len(held)]) % n
			j++
			if err := c.verify(keyID, &key.PublicKey, msgs[k], sigs[k]); err != nil {
				b.Fatal(err)
			}
		}
	})
	if c.Stats().Hits == hits {
		b.Fatal("no hit")
	}
}

// BenchmarkSignEndorsement is a peer's signature of its endorsement, which
// it remembers in its signature cache.
func BenchmarkSignEndorsement(b *testing.B) {
	signer := mustSigningIdentity(b, "Org1MSP", pki(b).peer)
	c := NewSignatureCache(0)
	b.Run("Sign and Remember", func(b *testing.B) {
		for b.Loop() {
			sig, err := signer.Sign(benchMsg)
			if err != nil {
				b.Fatal(err)
			}
			c.Remember(signer.PublicKey(), benchMsg, sig)
		}
	})
	b.Run("SignAndRemember", func(b *testing.B) {
		for b.Loop() {
			if _, err := signer.SignAndRemember(benchMsg, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
