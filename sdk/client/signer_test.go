package client

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
)

func TestECDSASignaturesAreLowSAndVerify(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	// About half of raw ECDSA signatures have a high S; 200 signatures miss
	// the normalisation with probability 2^-200.
	for i := range 200 {
		msg := fmt.Appendf(nil, "message %d", i)
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !isLowS(sig) {
			t.Fatalf("signature %d is not canonical low-S DER: %x", i, sig)
		}
		digest := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			t.Fatalf("signature %d does not verify over SHA-256(message)", i)
		}
	}
}

func TestLowSNormalisesHighS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	digest := sha256.Sum256([]byte("m"))
	r, sv, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	low, high := new(big.Int).Set(sv), new(big.Int).Sub(n, sv)
	if low.Cmp(half) > 0 {
		low, high = high, low
	}
	highDER, err := asn1.Marshal(ecdsaSignature{R: r, S: high})
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], highDER) {
		t.Fatal("test setup: the high-S signature does not verify")
	}
	got, err := lowS(highDER)
	if err != nil {
		t.Fatal(err)
	}
	var parsed ecdsaSignature
	if _, err := asn1.Unmarshal(got, &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.R.Cmp(r) != 0 || parsed.S.Cmp(low) != 0 {
		t.Fatalf("lowS = (r %v, s %v), want (r %v, s %v)", parsed.R, parsed.S, r, low)
	}
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], got) {
		t.Fatal("normalised signature does not verify")
	}
	// A low signature passes unchanged.
	lowDER, _ := asn1.Marshal(ecdsaSignature{R: r, S: low})
	if again, err := lowS(lowDER); err != nil || !bytes.Equal(again, lowDER) {
		t.Fatalf("lowS(low) = %x, %v; want it unchanged", again, err)
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, append(bytes.Clone(lowDER), 0)} {
		if _, err := lowS(bad); err == nil {
			t.Errorf("lowS(%x) accepted a malformed signature", bad)
		}
	}
}

// highSSigner is a crypto.Signer (a hardware key, say) that returns the
// high-S form of every signature.
type highSSigner struct {
	key    *ecdsa.PrivateKey
	hashes []crypto.Hash
}

func (h *highSSigner) Public() crypto.PublicKey { return &h.key.PublicKey }

func (h *highSSigner) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h.hashes = append(h.hashes, opts.HashFunc())
	r, s, err := ecdsa.Sign(rnd, h.key, digest)
	if err != nil {
		return nil, err
	}
	n := elliptic.P256().Params().N
	if s.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		s.Sub(n, s)
	}
	return asn1.Marshal(ecdsaSignature{R: r, S: s})
}

func TestCryptoSignerIsNormalisedToLowS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hw := &highSSigner{key: key}
	s, err := NewSigner(hw)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("proposal bytes")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !isLowS(sig) {
		t.Fatalf("signature is not low-S: %x", sig)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Fatal("signature does not verify")
	}
	if len(hw.hashes) != 1 || hw.hashes[0] != crypto.SHA256 {
		t.Fatalf("crypto.Signer asked with hashes %v, want [SHA-256]", hw.hashes)
	}
}

// paddedSigner is a crypto.Signer whose DER has an extra INTEGER inside
// the SEQUENCE, which encoding/asn1 skips when it reads a signature.
type paddedSigner struct{ key *ecdsa.PrivateKey }

func (p paddedSigner) Public() crypto.PublicKey { return &p.key.PublicKey }

func (p paddedSigner) Sign(rnd io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	r, s, err := ecdsa.Sign(rnd, p.key, digest)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct{ R, S, Extra *big.Int }{r, s, big.NewInt(1)})
}

func TestCryptoSignerWithNonCanonicalDERIsRefused(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(paddedSigner{key})
	if err != nil {
		t.Fatal(err)
	}
	if sig, err := s.Sign([]byte("m")); err == nil || !strings.Contains(err.Error(), "malformed ECDSA signature") {
		t.Fatalf("Sign = %x, %v; want the malformed-signature error", sig, err)
	}
}

func TestEd25519SignsTheMessageItself(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("proposal bytes")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("Ed25519 signature of the message does not verify")
	}
}

func TestNewSignerFromKeyPEM(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// "EC PARAMETERS" as openssl ecparam -genkey writes it: the P-256 OID.
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00000000000000000000000000000000",
	}, Bytes: sec1})

	good := []struct {
		name string
		pem  []byte
		pub  crypto.PublicKey
	}{
		{"PKCS#8 ECDSA", pkcs8PEM(t, ecKey), &ecKey.PublicKey},
		{"SEC1 ECDSA", pemBlock("EC PRIVATE KEY", sec1), &ecKey.PublicKey},
		{"SEC1 after EC PARAMETERS", append(ecParams, pemBlock("EC PRIVATE KEY", sec1)...), &ecKey.PublicKey},
		{"PKCS#8 Ed25519", pkcs8PEM(t, edKey), edPub},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSignerFromKeyPEM(tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("hello")
			sig, err := s.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := tc.pub.(type) {
			case *ecdsa.PublicKey:
				digest := sha256.Sum256(msg)
				if !ecdsa.VerifyASN1(pub, digest[:], sig) || !isLowS(sig) {
					t.Fatal("signature does not verify or is high-S")
				}
			case ed25519.PublicKey:
				if !ed25519.Verify(pub, msg, sig) {
					t.Fatal("signature does not verify")
				}
			}
			if got := s.(*keySigner).Public(); !tc.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(got) {
				t.Fatal("Public() is not the key's public key")
			}
		})
	}

	bad := []struct {
		name, pem, want string
	}{
		{"empty", "", "no private key PEM block"},
		{"not PEM", "hello", "no private key PEM block"},
		{"certificate", string(pemBlock("CERTIFICATE", []byte{1})), `"CERTIFICATE"`},
		{"encrypted PKCS#8", string(pemBlock("ENCRYPTED PRIVATE KEY", []byte{1})), "encrypted"},
		{"encrypted SEC1", string(encrypted), "encrypted"},
		{"garbage PKCS#8", string(pemBlock("PRIVATE KEY", []byte{1, 2, 3})), "parsing PRIVATE KEY"},
		{"P-384", string(pkcs8PEM(t, p384)), "P-384"},
		{"RSA", string(pkcs8PEM(t, rsaKey)), "not supported"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSignerFromKeyPEM([]byte(tc.pem))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), "client: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to start with \"client: \" and contain %q", err, tc.want)
			}
		})
	}
}

func TestNewSignerFromKeyFile(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, "key.pem"), pkcs8PEM(t, key))
	if _, err := NewSignerFromKeyFile(path); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	if _, err := NewSignerFromKeyFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %v, want one naming %s", err, missing)
	}
	junk := writeFile(t, filepath.Join(dir, "junk.pem"), []byte("junk"))
	if _, err := NewSignerFromKeyFile(junk); err == nil || !strings.Contains(err.Error(), junk) {
		t.Fatalf("error %v, want one naming %s", err, junk)
	}
	if _, err := NewSigner(nil); err == nil {
		t.Fatal("NewSigner(nil) accepted")
	}
}

// BenchmarkSignP256 is a signature as the client makes three per
// transaction: SHA-256, ECDSA, and the low-S normalisation with its DER
// reading and writing.
func BenchmarkSignP256(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSigner(key)
	if err != nil {
		b.Fatal(err)
	}
	msg := bytes.Repeat([]byte{7}, 1500)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLowS is the normalisation alone, on signatures half of which
// have a high S, as ECDSA produces them.
func BenchmarkLowS(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	var sigs [][]byte
	for i := range 64 {
		digest := sha256.Sum256([]byte{byte(i)})
		der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			b.Fatal(err)
		}
		sigs = append(sigs, der)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := lowS(sigs[i%len(sigs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
