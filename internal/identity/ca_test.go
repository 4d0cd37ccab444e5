package identity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCAIssue(t *testing.T) {
	p := pki(t)
	root := p.org1.Certificate()
	if !root.IsCA || root.Subject.CommonName != "ca.org1.example.com" || !slices.Equal(root.Subject.Organization, []string{"Org1MSP"}) {
		t.Fatalf("root CA certificate: %v", root.Subject)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Fatalf("root is not self-signed: %v", err)
	}
	inter := p.org1Inter.Certificate()
	if !inter.IsCA || !inter.MaxPathLenZero || inter.CheckSignatureFrom(root) != nil {
		t.Fatal("intermediate is not a path-length-zero CA signed by the root")
	}

	peer := p.peer.cert
	if err := peer.CheckSignatureFrom(root); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(peer.Subject.OrganizationalUnit, []string{"peer"}) || peer.IsCA {
		t.Errorf("peer certificate subject %v", peer.Subject)
	}
	if !slices.Equal(peer.DNSNames, []string{"localhost"}) || len(peer.IPAddresses) != 1 || !peer.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("SANs: DNS %v, IP %v", peer.DNSNames, peer.IPAddresses)
	}
	if !slices.Contains(peer.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(peer.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("extended key usage %v, want server and client auth", peer.ExtKeyUsage)
	}
	if got := peer.NotAfter.Sub(peer.NotBefore); got < leafLifetime || got > leafLifetime+backdate+time.Minute {
		t.Errorf("validity %v, want about %v", got, leafLifetime+backdate)
	}
	block, _ := pem.Decode(p.peer.keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("key is not a PKCS#8 PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() || !k.PublicKey.Equal(peer.PublicKey) {
		t.Fatal("key is not the P-256 key of the certificate")
	}
	if _, ok := p.edClient.cert.PublicKey.(ed25519.PublicKey); !ok {
		t.Fatal("Ed25519 request gave another kind of key")
	}
	if len(p.noRole.cert.Subject.OrganizationalUnit) != 0 {
		t.Errorf("RoleMember wrote OUs %v", p.noRole.cert.Subject.OrganizationalUnit)
	}
	if p.client.cert.SerialNumber.Cmp(p.peer.cert.SerialNumber) == 0 || p.client.cert.SerialNumber.Sign() <= 0 {
		t.Error("serial numbers are not distinct and positive")
	}
}

func TestCAIssueErrors(t *testing.T) {
	p := pki(t)
	for _, tc := range []struct {
		name string
		req  CertRequest
		want string
	}{
		{"outlives the CA", CertRequest{CommonName: "x", Role: RoleClient, Lifetime: 2 * caLifetime}, "after its CA CN=ca.org1.example.com"},
		{"no lifetime", CertRequest{CommonName: "x", Role: RoleClient}, "lifetime 0s is not positive"},
		{"no name", CertRequest{Role: RoleClient, Lifetime: time.Hour}, "needs a common name"},
		{"unknown role", CertRequest{CommonName: "x", Role: Role(42), Lifetime: time.Hour}, "no OU for role(42)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.org1.IssueCertificate(tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewCA("", "Org1MSP", time.Hour); err == nil {
		t.Error("NewCA accepted an empty name")
	}
	if _, err := NewCA("ca", "Org1MSP", 0); err == nil {
		t.Error("NewCA accepted a zero lifetime")
	}
	if _, err := p.org1.IssueIntermediate("ica", 2*caLifetime); err == nil {
		t.Error("IssueIntermediate accepted a lifetime beyond the root's")
	}
}

func TestIssueCRL(t *testing.T) {
	p := pki(t)
	block, _ := pem.Decode(p.rootCRL)
	if block == nil || block.Type != "X509 CRL" {
		t.Fatal("CRL is not an X509 CRL PEM block")
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(p.org1.Certificate()); err != nil {
		t.Fatalf("CRL is not signed by its CA: %v", err)
	}
	var serials []*big.Int
	for _, e := range crl.RevokedCertificateEntries {
		serials = append(serials, e.SerialNumber)
	}
	want := []*big.Int{p.revoked.cert.SerialNumber, p.org1BadInter.Certificate().SerialNumber}
	if !slices.EqualFunc(serials, want, func(a, b *big.Int) bool { return a.Cmp(b) == 0 }) {
		t.Fatalf("CRL revokes %v, want %v", serials, want)
	}
}

func TestCASaveAndLoad(t *testing.T) {
	ca, err := NewCA("ca.org1", "Org1MSP", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA("Org1MSP", ca.CertificatePEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := loaded.Issue("user1", RoleClient, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	msp, err := NewMSP(MSPConfig{ID: "Org1MSP", RootCerts: [][]byte{ca.CertificatePEM()}})
	if err != nil {
		t.Fatal(err)
	}
	ser, _ := Serialize("Org1MSP", cert)
	if _, err := msp.DeserializeIdentity(ser); err != nil {
		t.Fatalf("a certificate from the reloaded CA is not accepted by the original's MSP: %v", err)
	}
	other, _ := NewCA("ca.org2", "Org2MSP", time.Hour)
	otherKey, _ := other.KeyPEM()
	if _, err := LoadCA("Org1MSP", ca.CertificatePEM(), otherKey); err == nil {
		t.Fatal("loaded a CA with another CA's key")
	}
}
