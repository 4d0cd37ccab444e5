package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
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
