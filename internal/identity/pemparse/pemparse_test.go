package pemparse

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// material is a CA, its key and a CRL it signed, in PEM.
type material struct {
	key                      *ecdsa.PrivateKey
	certPEM, crlPEM, crl2PEM []byte
}

func newMaterial(t *testing.T) material {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	crl := func(number int64) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(number), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(number * 10), RevocationTime: time.Now()}},
		}, ca, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	return material{
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		crlPEM:  crl(1),
		crl2PEM: crl(2),
	}
}

func block(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPrivateKey(t *testing.T) {
	m := newMaterial(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(m.key)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(m.key)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPKCS8, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	// openssl ecparam -genkey writes the curve's parameters first.
	params := block("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	encryptedSEC1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: sec1})

	for _, c := range []struct {
		name string
		pem  []byte
		want any // a key to compare with, or the error text expected
	}{
		{"PKCS#8 ECDSA", block("PRIVATE KEY", pkcs8), m.key},
		{"SEC1", block("EC PRIVATE KEY", sec1), m.key},
		{"SEC1 after EC PARAMETERS", concat(params, block("EC PRIVATE KEY", sec1)), m.key},
		{"PKCS#8 Ed25519", block("PRIVATE KEY", edPKCS8), edKey},
		{"empty", nil, "no private key PEM block found"},
		{"EC PARAMETERS alone", params, "no private key PEM block found"},
		{"a certificate", m.certPEM, `PEM block is "CERTIFICATE", want "PRIVATE KEY" or "EC PRIVATE KEY"`},
		{"encrypted PKCS#8", block("ENCRYPTED PRIVATE KEY", pkcs8), ErrEncryptedKey.Error()},
		{"encrypted SEC1", encryptedSEC1, ErrEncryptedKey.Error()},
		{"SEC1 bytes labelled PKCS#8", block("PRIVATE KEY", sec1), "parsing PRIVATE KEY: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			key, err := PrivateKey(c.pem)
			if text, ok := c.want.(string); ok {
				if err == nil || !strings.Contains(err.Error(), text) {
					t.Fatalf("got %v, %v; want an error containing %q", key, err, text)
				}
				if text == ErrEncryptedKey.Error() && !errors.Is(err, ErrEncryptedKey) {
					t.Errorf("%v is not ErrEncryptedKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k, ok := key.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !k.Equal(c.want) {
				t.Errorf("got key %T, not the key encoded", key)
			}
		})
	}
}

func TestCertificates(t *testing.T) {
	m := newMaterial(t)
	other := newMaterial(t)
	certs, err := Certificates(concat(m.certPEM, other.certPEM))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].PublicKey.(*ecdsa.PublicKey).Equal(&m.key.PublicKey) || !certs[1].PublicKey.(*ecdsa.PublicKey).Equal(&other.key.PublicKey) {
		t.Fatalf("got %d certificates, not the two encoded in order", len(certs))
	}
	for _, c := range []struct{ name, pem, want string }{
		{"empty", "", "no PEM certificate found"},
		{"not PEM", "hello", "no PEM certificate found"},
		{"a CRL after a certificate", string(concat(m.certPEM, m.crlPEM)), `PEM block 2 is "X509 CRL", want "CERTIFICATE"`},
		{"not DER", string(block("CERTIFICATE", []byte("nope"))), "PEM block 1: parsing certificate: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			if certs, err := Certificates([]byte(c.pem)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %d certificates, %v; want an error containing %q", len(certs), err, c.want)
			}
		})
	}
}

func TestRevocationLists(t *testing.T) {
	m := newMaterial(t)
	crls, err := RevocationLists(concat(m.crlPEM, m.crl2PEM))
	if err != nil {
		t.Fatal(err)
	}
	if len(crls) != 2 || crls[0].Number.Int64() != 1 || crls[1].Number.Int64() != 2 {
		t.Fatalf("got %d CRLs, not the two encoded in order", len(crls))
	}
	for _, c := range []struct{ name, pem, want string }{
		{"empty", "", `no PEM block (want an "X509 CRL")`},
		{"a certificate after a CRL", string(concat(m.crlPEM, m.certPEM)), `PEM block 2 is "CERTIFICATE", want "X509 CRL"`},
		{"not DER", string(block("X509 CRL", []byte("nope"))), "PEM block 1: parsing CRL: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			if crls, err := RevocationLists([]byte(c.pem)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %d CRLs, %v; want an error containing %q", len(crls), err, c.want)
			}
		})
	}
}
