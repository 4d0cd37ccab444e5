package identity

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
	"fmt"
	"math/big"
	"net"
	"time"
)

// backdate is how far before "now" issued certificates start, so that a
// node whose clock is a little behind accepts them at once.
const backdate = 5 * time.Minute

// crlLifetime is the period from a CRL's ThisUpdate to its NextUpdate.
const crlLifetime = 7 * 24 * time.Hour

// CA is a certificate authority held in memory: a P-256 key and its
// certificate. Tests use it, and so does the generator of local networks. It
// is not the CA service (which registers, enrolls and keeps state); it only
// signs what it is asked to. Its methods are safe for concurrent use.
type CA struct {
	mspID   string
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// CertRequest describes a certificate for CA.IssueCertificate.
type CertRequest struct {
	// CommonName is the subject's CN, such as "peer0.org1.example.com".
	CommonName string
	// Role is written as the subject's OU (client, peer, orderer, admin).
	// RoleMember writes no role OU, for a TLS certificate; an MSP refuses
	// such a certificate as an identity.
	Role Role
	// Lifetime is how long the certificate is valid from now. It must not
	// outlive the CA.
	Lifetime time.Duration
	// SANs are the subject alternative names: IP addresses ("127.0.0.1")
	// and DNS names ("localhost") alike.
	SANs []string
	// Ed25519 asks for an Ed25519 key rather than ECDSA P-256.
	Ed25519 bool
}

// NewCA creates a root CA with a new P-256 key and a self-signed certificate
// with subject CN=name, O=mspID, valid for lifetime.
func NewCA(name, mspID string, lifetime time.Duration) (*CA, error) {
	if name == "" || mspID == "" {
		return nil, errors.New("identity: a CA needs a name and an MSP id")
	}
	if lifetime <= 0 {
		return nil, fmt.Errorf("identity: CA %s: lifetime %v is not positive", name, lifetime)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: CA %s: generating key: %w", name, err)
	}
	tmpl, err := caTemplate(name, mspID, time.Now(), lifetime)
	if err != nil {
		return nil, err
	}
	return newCA(mspID, tmpl, tmpl, key, key)
}

// IssueIntermediate creates an intermediate CA under ca, with a new P-256
// key and the subject CN=name, O=<the CA's MSP id>, valid for lifetime. It
// can issue identities but no further CA (path length zero).
func (ca *CA) IssueIntermediate(name string, lifetime time.Duration) (*CA, error) {
	if name == "" {
		return nil, errors.New("identity: an intermediate CA needs a name")
	}
	now := time.Now()
	if err := ca.checkLifetime(name, now, lifetime); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: intermediate CA %s: generating key: %w", name, err)
	}
	tmpl, err := caTemplate(name, ca.mspID, now, lifetime)
	if err != nil {
		return nil, err
	}
	tmpl.MaxPathLenZero = true
	return newCA(ca.mspID, tmpl, ca.cert, key, ca.key)
}

// Issue creates a certificate for commonName with the given role OU, valid
// for lifetime, with SANs (IP addresses and DNS names), and a new P-256 key.
// It returns the certificate and the PKCS#8 private key, both PEM.
func (ca *CA) Issue(commonName string, role Role, lifetime time.Duration, sans ...string) (certPEM, keyPEM []byte, err error) {
	return ca.IssueCertificate(CertRequest{CommonName: commonName, Role: role, Lifetime: lifetime, SANs: sans})
}

// IssueSigningIdentity is Issue followed by LoadSigningIdentity: a new
// identity of the CA's organization, ready to sign, for tools and tests
// that keep its key in memory.
func (ca *CA) IssueSigningIdentity(commonName string, role Role, lifetime time.Duration, sans ...string) (*SigningIdentity, error) {
	certPEM, keyPEM, err := ca.Issue(commonName, role, lifetime, sans...)
	if err != nil {
		return nil, err
	}
	return LoadSigningIdentity(ca.mspID, certPEM, keyPEM)
}

// IssueCertificate creates the certificate req describes, with a new key. It
// returns the certificate and the PKCS#8 private key, both PEM. The
// certificate is fit for signing and for TLS (client and server).
func (ca *CA) IssueCertificate(req CertRequest) (certPEM, keyPEM []byte, err error) {
	if req.CommonName == "" {
		return nil, nil, errors.New("identity: a certificate needs a common name")
	}
	now := time.Now()
	if err := ca.checkLifetime(req.CommonName, now, req.Lifetime); err != nil {
		return nil, nil, err
	}
	var key crypto.Signer
	if req.Ed25519 {
		_, key, err = ed25519.GenerateKey(rand.Reader)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("identity: certificate for %s: generating key: %w", req.CommonName, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{CommonName: req.CommonName, Organization: []string{ca.mspID}}
	if req.Role != RoleMember {
		if _, ok := roleOU(req.Role.String()); !ok {
			return nil, nil, fmt.Errorf("identity: certificate for %s: no OU for %s", req.CommonName, req.Role)
		}
		subject.OrganizationalUnit = []string{req.Role.String()}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(req.Lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	for _, san := range req.SANs {
		if ip := net.ParseIP(san); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, san)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: certificate for %s: %w", req.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: certificate for %s: encoding key: %w", req.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// IssueCRL creates a PEM CRL, signed by ca, that revokes the certificates of
// the given serial numbers as of now. It is valid for a week; MSPs honour
// a CRL for as long as the configuration holds it.
func (ca *CA) IssueCRL(revoked ...*big.Int) ([]byte, error) {
	now := time.Now()
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, serial := range revoked {
		entries[i] = x509.RevocationListEntry{SerialNumber: serial, RevocationTime: now}
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		// CRL numbers must grow; the time does so without state.
		Number:                    big.NewInt(now.UnixNano()),
		ThisUpdate:                now,
		NextUpdate:                now.Add(crlLifetime),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("identity: CRL of %s: %w", subjectName(ca.cert), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// MSPID returns the MSP id the CA issues for.
func (ca *CA) MSPID() string { return ca.mspID }

// Certificate returns the CA's certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertificatePEM returns the CA's certificate in PEM, as MSPConfig takes it.
// The caller must not modify it.
func (ca *CA) CertificatePEM() []byte { return ca.certPEM }

// caTemplate is the template of a CA certificate.
func caTemplate(name, mspID string, now time.Time, lifetime time.Duration) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{mspID}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil
}

// newCA signs tmpl (holding key's public half) with parent and parentKey.
func newCA(mspID string, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) (*CA, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("identity: CA %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity: CA %s: %w", tmpl.Subject.CommonName, err)
	}
	return &CA{
		mspID:   mspID,
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
	}, nil
}

// checkLifetime refuses a certificate that would not be valid or would
// outlive the CA.
func (ca *CA) checkLifetime(name string, now time.Time, lifetime time.Duration) error {
	if lifetime <= 0 {
		return fmt.Errorf("identity: certificate for %s: lifetime %v is not positive", name, lifetime)
	}
	if end := now.Add(lifetime); end.After(ca.cert.NotAfter) {
		return fmt.Errorf("identity: certificate for %s would end at %s, after its CA %s (%s)",
			name, end.UTC().Format(time.RFC3339), subjectName(ca.cert), ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// randomSerial returns a random positive serial number of up to 128 bits.
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("identity: generating a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// KeyPEM returns the CA's private key as PKCS#8 PEM, for saving the CA
// (write it 0600).
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("identity: CA %s: encoding key: %w", subjectName(ca.cert), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadCA restores a CA saved with CertificatePEM and KeyPEM.
func LoadCA(mspID string, certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("identity: %s is not a CA certificate", subjectName(cert))
	}
	signer, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("identity: the key does not belong to CA %s", subjectName(cert))
	}
	block, _ := pem.Decode(certPEM)
	return &CA{mspID: mspID, cert: cert, certPEM: pem.EncodeToMemory(block), key: key}, nil
}
