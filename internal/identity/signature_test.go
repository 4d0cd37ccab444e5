package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"testing"
)

func newP256(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// derRS encodes (r, s) independently of the code under test.
func derRS(tb testing.TB, r, s *big.Int) []byte {
	tb.Helper()
	b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// splitRS decodes (r, s) independently of the code under test.
func splitRS(tb testing.TB, sig []byte) (r, s *big.Int) {
	tb.Helper()
	var v struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &v); err != nil || len(rest) > 0 {
		tb.Fatalf("signature %x is not DER: %v", sig, err)
	}
	return v.R, v.S
}

// flipS returns the same signature with s replaced by N-s: valid
// mathematically, low S if it was high and high if it was low.
func flipS(tb testing.TB, sig []byte) []byte {
	r, s := splitRS(tb, sig)
	return derRS(tb, r, new(big.Int).Sub(elliptic.P256().Params().N, s))
}

func isHighS(tb testing.TB, sig []byte) bool {
	_, s := splitRS(tb, sig)
	return s.Cmp(new(big.Int).Rsh(elliptic.P256().Params().N, 1)) > 0
}

func TestSignVerifiesWithStandardLibrary(t *testing.T) {
	key := newP256(t)
	for _, msg := range [][]byte{nil, []byte("proposal bytes"), make([]byte, 10_000)} {
		sig, err := Sign(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			t.Errorf("ecdsa.VerifyASN1 rejects our signature of a %d-byte message", len(msg))
		}
		if isHighS(t, sig) {
			t.Errorf("signature has high S")
		}
		if err := Verify(&key.PublicKey, msg, sig); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
}

func TestVerifyStandardLibrarySignatures(t *testing.T) {
	key := newP256(t)
	msg := []byte("envelope payload")
	digest := sha256.Sum256(msg)
	var sawHigh, sawLow bool
	for i := 0; i < 64 && !(sawHigh && sawLow); i++ {
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		low, high := sig, flipS(t, sig)
		if isHighS(t, sig) {
			low, high = high, sig
			sawHigh = true
		} else {
			sawLow = true
		}
		if err := Verify(&key.PublicKey, msg, low); err != nil {
			t.Fatalf("low-S signature from the standard library: %v", err)
		}
		err = Verify(&key.PublicKey, msg, high)
		if !errors.Is(err, ErrHighS) || !errors.Is(err, ErrBadSignature) {
			t.Fatalf("high-S signature: got %v, want ErrHighS matching ErrBadSignature", err)
		}
		if err.Error() != "identity: signature has high S" {
			t.Fatalf("high-S error says %q", err)
		}
		// The standard library accepts both: the high one is valid, and
		// refused only by the low-S rule.
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], high) {
			t.Fatal("flipped signature is not valid for the standard library")
		}
	}
	if !sawHigh || !sawLow {
		t.Fatalf("64 standard library signatures were all on one side of N/2 (high %v, low %v)", sawHigh, sawLow)
	}
}

func TestSignAlwaysLowS(t *testing.T) {
	key := newP256(t)
	n := 1000
	if testing.Short() {
		n = 200
	}
	for i := range n {
		msg := []byte{byte(i), byte(i >> 8)}
		sig, err := Sign(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		if isHighS(t, sig) || !IsLowS(sig) {
			t.Fatalf("signature %d has high S", i)
		}
	}
}

// opaqueSigner hides the concrete key type, as a hardware key would.
type opaqueSigner struct{ k crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

func TestSignWithOpaqueSigner(t *testing.T) {
	key := opaqueSigner{newP256(t)}
	for i := range 40 {
		sig, err := Sign(key, []byte("msg"))
		if err != nil {
			t.Fatal(err)
		}
		if !IsLowS(sig) {
			t.Fatalf("signature %d has high S", i)
		}
		if err := Verify(key.Public(), []byte("msg"), sig); err != nil {
			t.Fatal(err)
		}
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	sig, err := Sign(opaqueSigner{edKey}, []byte("msg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(edKey.Public(), []byte("msg"), sig); err != nil {
		t.Fatal(err)
	}
}

func TestEd25519RoundTrip(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("block header")
	sig, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("ed25519.Verify rejects our signature: it must cover the message, not a digest")
	}
	if err := Verify(pub, msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, []byte("block headeR"), sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other message: got %v, want ErrBadSignature", err)
	}
	std := ed25519.Sign(key, msg)
	if err := Verify(pub, msg, std); err != nil {
		t.Fatalf("standard library signature: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	key := newP256(t)
	pub := &key.PublicKey
	msg := []byte("message")
	sig, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	r, s := splitRS(t, sig)
	n := elliptic.P256().Params().N
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edSig := ed25519.Sign(edKey, msg)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		msg  []byte
		sig  []byte
		want error
	}{
		{"other message", pub, []byte("massage"), sig, ErrBadSignature},
		{"other key", &newP256(t).PublicKey, msg, sig, ErrBadSignature},
		{"empty signature", pub, msg, nil, ErrMalformedSignature},
		{"truncated", pub, msg, sig[:len(sig)-1], ErrMalformedSignature},
		{"trailing byte", pub, msg, append(append([]byte{}, sig...), 0), ErrMalformedSignature},
		{"third integer", pub, msg, mustMarshal(t, struct{ R, S, T *big.Int }{r, s, big.NewInt(1)}), ErrMalformedSignature},
		{"r zero", pub, msg, derRS(t, big.NewInt(0), s), ErrMalformedSignature},
		{"s zero", pub, msg, derRS(t, r, big.NewInt(0)), ErrMalformedSignature},
		{"r negative", pub, msg, derRS(t, new(big.Int).Neg(r), s), ErrMalformedSignature},
		{"s is N", pub, msg, derRS(t, r, n), ErrMalformedSignature},
		{"s plus N", pub, msg, derRS(t, r, new(big.Int).Add(s, n)), ErrMalformedSignature},
		{"high S", pub, msg, flipS(t, sig), ErrHighS},
		{"garbage", pub, msg, []byte("not a signature at all"), ErrMalformedSignature},
		{"Ed25519 short", edPub, msg, edSig[:63], ErrMalformedSignature},
		{"Ed25519 other message", edPub, []byte("other"), edSig, ErrBadSignature},
		{"Ed25519 signature for ECDSA key", pub, msg, edSig, ErrMalformedSignature},
		{"ECDSA signature for Ed25519 key", edPub, msg, sig, ErrMalformedSignature},
		{"P-384 key", &p384.PublicKey, msg, sig, ErrUnsupportedKey},
		{"nil key", nil, msg, sig, ErrUnsupportedKey},
		{"nil ECDSA key", (*ecdsa.PublicKey)(nil), msg, sig, ErrUnsupportedKey},
		{"short Ed25519 key", ed25519.PublicKey(edPub[:31]), msg, edSig, ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.pub, tc.msg, tc.sig)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want != ErrUnsupportedKey && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("%v does not match ErrBadSignature", err)
			}
		})
	}
}

func TestSignUnsupportedKey(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Sign(p384, []byte("x"))
	if !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("got %v, want ErrUnsupportedKey", err)
	}
	if want := "identity: signing key: ECDSA P-384 key not supported (want ECDSA P-256 or Ed25519)"; err.Error() != want {
		t.Fatalf("error says %q, want %q", err, want)
	}
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
