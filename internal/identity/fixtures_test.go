package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The certificates of the tests are made once per test binary: Org1 has a
// root, an intermediate CA and a revoked intermediate CA; Org2 has a root.
// Org1's root and intermediate each revoke one identity they issued.

// issued is a certificate and its key, as CA.Issue returns them.
type issued struct {
	certPEM, keyPEM []byte
	cert            *x509.Certificate
}

type testPKI struct {
	start time.Time // before any certificate was made

	org1, org1Inter, org1BadInter, org2 *CA

	client, peer, admin, orderer issued // by Org1's root
	interClient                  issued // by Org1's intermediate
	edClient                     issued // Ed25519 key, by Org1's root
	shortLived                   issued // valid for one hour
	noRole                       issued // no role OU
	twoRoles                     issued // OU=client and OU=admin
	p384                         issued // ECDSA P-384 key
	revoked                      issued // revoked by Org1's root CRL
	interRevoked                 issued // revoked by Org1's intermediate CRL
	underBadInter                issued // issued by the revoked intermediate
	underShortInter              issued // outlives its intermediate CA, which lives two hours
	org2Peer                     issued

	shortInter *x509.Certificate // the two-hour intermediate
	rootCRL    []byte            // by Org1's root: revoked, org1BadInter
	interCRL   []byte            // by Org1's intermediate: interRevoked
	org2CRL    []byte            // by Org2's root, empty
}

var fixtures = sync.OnceValues(makePKI)

// pki returns the certificates of the tests.
func pki(tb testing.TB) *testPKI {
	tb.Helper()
	p, err := fixtures()
	if err != nil {
		tb.Fatalf("making test certificates: %v", err)
	}
	return p
}

const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 365 * 24 * time.Hour
)

func makePKI() (*testPKI, error) {
	p := &testPKI{start: time.Now()}
	var err error
	if p.org1, err = NewCA("ca.org1.example.com", "Org1MSP", caLifetime); err != nil {
		return nil, err
	}
	if p.org1Inter, err = p.org1.IssueIntermediate("ica.org1.example.com", caLifetime/2); err != nil {
		return nil, err
	}
	if p.org1BadInter, err = p.org1.IssueIntermediate("bad-ica.org1.example.com", caLifetime/2); err != nil {
		return nil, err
	}
	if p.org2, err = NewCA("ca.org2.example.com", "Org2MSP", caLifetime); err != nil {
		return nil, err
	}

	issue := func(ca *CA, req CertRequest) (issued, error) {
		if req.Lifetime == 0 {
			req.Lifetime = leafLifetime
		}
		certPEM, keyPEM, err := ca.IssueCertificate(req)
		if err != nil {
			return issued{}, err
		}
		cert, err := ParseCertificatePEM(certPEM)
		return issued{certPEM: certPEM, keyPEM: keyPEM, cert: cert}, err
	}
	for _, x := range []struct {
		dst *issued
		ca  *CA
		req CertRequest
	}{
		{&p.client, p.org1, CertRequest{CommonName: "User1@org1.example.com", Role: RoleClient}},
		{&p.peer, p.org1, CertRequest{CommonName: "peer0.org1.example.com", Role: RolePeer, SANs: []string{"localhost", "127.0.0.1"}}},
		{&p.admin, p.org1, CertRequest{CommonName: "Admin@org1.example.com", Role: RoleAdmin}},
		{&p.orderer, p.org1, CertRequest{CommonName: "orderer0.org1.example.com", Role: RoleOrderer}},
		{&p.interClient, p.org1Inter, CertRequest{CommonName: "User2@org1.example.com", Role: RoleClient}},
		{&p.edClient, p.org1, CertRequest{CommonName: "User3@org1.example.com", Role: RoleClient, Ed25519: true}},
		{&p.shortLived, p.org1, CertRequest{CommonName: "short-lived", Role: RoleClient, Lifetime: time.Hour}},
		{&p.noRole, p.org1, CertRequest{CommonName: "tls.org1.example.com", Role: RoleMember}},
		{&p.revoked, p.org1, CertRequest{CommonName: "Revoked@org1.example.com", Role: RoleClient}},
		{&p.interRevoked, p.org1Inter, CertRequest{CommonName: "Revoked2@org1.example.com", Role: RoleClient}},
		{&p.underBadInter, p.org1BadInter, CertRequest{CommonName: "User4@org1.example.com", Role: RoleClient}},
		{&p.org2Peer, p.org2, CertRequest{CommonName: "peer0.org2.example.com", Role: RolePeer}},
	} {
		if *x.dst, err = issue(x.ca, x.req); err != nil {
			return nil, err
		}
	}

	// Certificates CA.Issue refuses to make.
	if p.twoRoles, err = craftLeaf(p.org1, "TwoRoles@org1.example.com", []string{"client", "admin"}, elliptic.P256(), leafLifetime); err != nil {
		return nil, err
	}
	if p.p384, err = craftLeaf(p.org1, "P384@org1.example.com", []string{"client"}, elliptic.P384(), leafLifetime); err != nil {
		return nil, err
	}
	shortInter, err := craftCA(p.org1, "short-ica.org1.example.com", 2*time.Hour)
	if err != nil {
		return nil, err
	}
	p.shortInter = shortInter.cert
	if p.underShortInter, err = craftLeaf(shortInter, "User5@org1.example.com", []string{"client"}, elliptic.P256(), leafLifetime); err != nil {
		return nil, err
	}

	if p.rootCRL, err = p.org1.IssueCRL(p.revoked.cert.SerialNumber, p.org1BadInter.Certificate().SerialNumber); err != nil {
		return nil, err
	}
	if p.interCRL, err = p.org1Inter.IssueCRL(p.interRevoked.cert.SerialNumber); err != nil {
		return nil, err
	}
	if p.org2CRL, err = p.org2.IssueCRL(); err != nil {
		return nil, err
	}
	return p, nil
}

// craftLeaf signs, with ca, an identity certificate that CA.Issue would not
// make: several OUs, another curve, a lifetime beyond the CA's.
func craftLeaf(ca *CA, cn string, ous []string, curve elliptic.Curve, lifetime time.Duration) (issued, error) {
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return issued{}, err
	}
	serial, err := randomSerial()
	if err != nil {
		return issued{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{ca.MSPID()}, OrganizationalUnit: ous},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	return craft(ca, tmpl, key)
}

// craftCA makes an intermediate CA whatever its lifetime.
func craftCA(parent *CA, cn string, lifetime time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := caTemplate(cn, parent.MSPID(), time.Now(), lifetime)
	if err != nil {
		return nil, err
	}
	return newCA(parent.MSPID(), tmpl, parent.cert, key, parent.key)
}

func craft(ca *CA, tmpl *x509.Certificate, key crypto.Signer) (issued, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return issued{}, fmt.Errorf("crafting %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return issued{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return issued{}, err
	}
	return issued{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		cert:    cert,
	}, nil
}

// org1Config is the configuration of Org1's MSP with its CRLs, at the
// given clock (nil: time.Now).
func (p *testPKI) org1Config(now func() time.Time) MSPConfig {
	return MSPConfig{
		ID:                "Org1MSP",
		RootCerts:         [][]byte{p.org1.CertificatePEM()},
		IntermediateCerts: [][]byte{p.org1Inter.CertificatePEM(), p.org1BadInter.CertificatePEM(), pemOf(p.shortInter)},
		CRLs:              [][]byte{p.rootCRL, p.interCRL},
		Now:               now,
	}
}

func (p *testPKI) org2Config() MSPConfig {
	return MSPConfig{ID: "Org2MSP", RootCerts: [][]byte{p.org2.CertificatePEM()}, CRLs: [][]byte{p.org2CRL}}
}

func newTestMSP(tb testing.TB, cfg MSPConfig) *MSP {
	tb.Helper()
	m, err := NewMSP(cfg)
	if err != nil {
		tb.Fatalf("NewMSP(%s): %v", cfg.ID, err)
	}
	return m
}

// fixedClock is a clock stopped at t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func pemOf(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func mustSerialize(tb testing.TB, mspID string, certPEM []byte) []byte {
	tb.Helper()
	b, err := Serialize(mspID, certPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustSigningIdentity(tb testing.TB, mspID string, x issued) *SigningIdentity {
	tb.Helper()
	s, err := LoadSigningIdentity(mspID, x.certPEM, x.keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
