package identity

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chorusledger/chorus/internal/identity/pemparse"
	"github.com/chorusledger/chorus/internal/zerocopy"
)

// DefaultIdentityCacheSize is the number of validated identities an MSP
// remembers when its configuration does not say.
const DefaultIdentityCacheSize = 1024

// MSPConfig describes one organization's membership service provider: its
// MSP id and the certificate authorities and revocation lists that decide
// who belongs to it. It is plain data, as the channel configuration carries
// it, plus the clock and caches of the node.
type MSPConfig struct {
	// ID is the MSP id, such as "Org1MSP".
	ID string
	// RootCerts are the PEM certificates of the root CAs; each element may
	// hold several certificates. At least one is required.
	RootCerts [][]byte
	// IntermediateCerts are the PEM certificates of intermediate CAs, each
	// of which must chain to a root.
	IntermediateCerts [][]byte
	// CRLs are PEM certificate revocation lists ("X509 CRL"), each signed by
	// one of the CAs above.
	CRLs [][]byte

	// Now is the clock validity periods are checked against; nil means
	// time.Now.
	Now func() time.Time
	// IdentityCacheSize bounds the validated identities remembered; zero or
	// less means DefaultIdentityCacheSize.
	IdentityCacheSize int
	// SignatureCache, if not nil, is consulted by Identity.Verify. One cache
	// is usually shared by all the MSPs of a node.
	SignatureCache *SignatureCache
}

// MSP validates the identities of one organization: their certificate must
// chain to one of its CAs, be valid at the MSP's clock, not be revoked by
// one of its CRLs, and carry exactly one role OU (client, peer, orderer or
// admin).
//
// An MSP is immutable once built, and safe for concurrent use. A change of
// configuration (a new CA, a new CRL) means building a new MSP, which starts
// with an empty identity cache.
type MSP struct {
	id            string
	roots         *x509.CertPool
	intermediates *x509.CertPool
	// revoked maps a CA certificate (its DER bytes) to the serial numbers
	// (decimal) that a CRL signed by that CA revokes.
	revoked    map[string]map[string]revocation
	now        func() time.Time
	identities *lru[string, *Identity]
	sigCache   *SignatureCache
}

// revocation records where a certificate was revoked, for error messages.
type revocation struct {
	at    time.Time
	crlBy string // the CA that signed the CRL
}

// NewMSP checks cfg and builds the MSP: every root and intermediate must be
// a CA certificate, every intermediate must chain to a root, and every CRL
// must be signed by one of these CAs.
func NewMSP(cfg MSPConfig) (*MSP, error) {
	if cfg.ID == "" {
		return nil, errors.New("identity: MSP without an id")
	}
	m := &MSP{
		id:            cfg.ID,
		roots:         x509.NewCertPool(),
		intermediates: x509.NewCertPool(),
		revoked:       make(map[string]map[string]revocation),
		now:           cfg.Now,
		sigCache:      cfg.SignatureCache,
	}
	if m.now == nil {
		m.now = time.Now
	}
	size := cfg.IdentityCacheSize
	if size <= 0 {
		size = DefaultIdentityCacheSize
	}
	m.identities = newLRU[string, *Identity](size)

	roots, err := m.parseCAs("root", cfg.RootCerts)
	if err != nil {
		return nil, err
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("identity: MSP %s has no root CA certificate", cfg.ID)
	}
	for _, c := range roots {
		m.roots.AddCert(c)
	}
	intermediates, err := m.parseCAs("intermediate", cfg.IntermediateCerts)
	if err != nil {
		return nil, err
	}
	for _, c := range intermediates {
		m.intermediates.AddCert(c)
	}
	for _, c := range intermediates {
		// Checked at a time the certificate was valid, as Fabric does, so that
		// an expired intermediate does not make the whole configuration
		// unusable; identities it issued are refused at validation.
		_, err := c.Verify(x509.VerifyOptions{
			Roots:         m.roots,
			Intermediates: m.intermediates,
			CurrentTime:   c.NotBefore.Add(time.Second),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return nil, fmt.Errorf("identity: intermediate CA %s of %s does not chain to a root CA of %s: %w",
				subjectName(c), cfg.ID, cfg.ID, err)
		}
	}
	if err := m.loadCRLs(cfg.CRLs, append(roots, intermediates...)); err != nil {
		return nil, err
	}
	return m, nil
}

// parseCAs parses PEM CA certificates and checks that they are CAs.
func (m *MSP) parseCAs(kind string, pems [][]byte) ([]*x509.Certificate, error) {
	var cas []*x509.Certificate
	for i, p := range pems {
		certs, err := pemparse.Certificates(p)
		if err != nil {
			return nil, fmt.Errorf("identity: %s CA certificates #%d of %s: %w", kind, i, m.id, err)
		}
		for _, c := range certs {
			if !c.IsCA {
				return nil, fmt.Errorf("identity: %s certificate %s of %s is not a CA certificate (basic constraints CA:TRUE missing)",
					kind, subjectName(c), m.id)
			}
		}
		cas = append(cas, certs...)
	}
	return cas, nil
}

// loadCRLs parses the CRLs and files their revoked serials under every CA
// that signed them.
func (m *MSP) loadCRLs(pems [][]byte, cas []*x509.Certificate) error {
	for i, p := range pems {
		crls, err := pemparse.RevocationLists(p)
		if err != nil {
			return fmt.Errorf("identity: CRL #%d of %s: %w", i, m.id, err)
		}
		for _, crl := range crls {
			signed := false
			for _, ca := range cas {
				if !bytes.Equal(ca.RawSubject, crl.RawIssuer) || crl.CheckSignatureFrom(ca) != nil {
					continue
				}
				signed = true
				serials := m.revoked[string(ca.Raw)]
				if serials == nil {
					serials = make(map[string]revocation)
					m.revoked[string(ca.Raw)] = serials
				}
				for _, e := range crl.RevokedCertificateEntries {
					serials[e.SerialNumber.String()] = revocation{at: e.RevocationTime, crlBy: subjectName(ca)}
				}
			}
			if !signed {
				return fmt.Errorf("identity: CRL #%d of %s, issued by %s, is not signed by any CA of %s",
					i, m.id, printable(crl.Issuer.String()), m.id)
			}
		}
	}
	return nil
}

// ID returns the MSP id.
func (m *MSP) ID() string { return m.id }

// DeserializeIdentity reads serialized identity bytes (a creator, an
// endorser) and validates the identity against this MSP at the MSP's clock.
// The bytes are untrusted. Identities that validated are remembered by their
// serialized bytes, so a creator seen again costs a map look-up and a check
// of its validity period.
func (m *MSP) DeserializeIdentity(serialized []byte) (*Identity, error) {
	now := m.now()
	// The look-up's key shares serialized's bytes instead of copying them
	// (about 1 KB, several times per transaction): get does not keep its
	// key, and nothing changes serialized meanwhile.
	if id, ok := m.identities.get(zerocopy.String(serialized)); ok && id.validAt(now) {
		return id, nil
	}
	sid, err := unmarshalSerialized(serialized)
	if err != nil {
		return nil, err
	}
	if sid.GetMspid() != m.id {
		return nil, m.mismatch(sid.GetMspid())
	}
	cert, err := parseIdentityCert(sid)
	if err != nil {
		return nil, err
	}
	v, err := m.validate(cert, now)
	if err != nil {
		return nil, err
	}
	id := &Identity{
		mspID:      m.id,
		cert:       cert,
		serialized: bytes.Clone(serialized),
		role:       v.role,
		keyID:      sha256.Sum256(cert.RawSubjectPublicKeyInfo),
		validFrom:  v.validFrom,
		validUntil: v.validUntil,
		msp:        m,
	}
	m.identities.add(string(id.serialized), id)
	return id, nil
}

// Validate checks id against this MSP at the MSP's clock: an identity held
// for a while may have expired since it was deserialized, and one
// deserialized by another MSP (of an older configuration) may be revoked
// here.
func (m *MSP) Validate(id *Identity) error {
	now := m.now()
	if id.msp == m && id.validAt(now) {
		return nil
	}
	if id.mspID != m.id {
		return m.mismatch(id.mspID)
	}
	_, err := m.validate(id.cert, now)
	return err
}

// mismatch is the error for an identity of another MSP.
func (m *MSP) mismatch(mspID string) error {
	return newKindError(ErrMSPMismatch, nil, fmt.Sprintf("identity: MSP id %s is not %s", printable(mspID), m.id))
}

// validation is what validate learns of a valid certificate.
type validation struct {
	role Role
	// validFrom and validUntil bound the period in which the chain found is
	// valid: the latest NotBefore and the earliest NotAfter of its
	// certificates.
	validFrom, validUntil time.Time
}

// validate checks an identity certificate: not a CA, a supported key, valid
// at now, chaining to a root, not revoked, with one role OU.
func (m *MSP) validate(cert *x509.Certificate, now time.Time) (validation, error) {
	name := subjectName(cert)
	if cert.IsCA {
		return validation{}, newKindError(ErrInvalidCertificate, nil,
			fmt.Sprintf("identity: certificate for %s of %s is a CA certificate, which cannot be an identity", name, m.id))
	}
	if err := checkSupportedKey(cert.PublicKey, "certificate for "+name); err != nil {
		return validation{}, err
	}
	if err := checkPeriod(cert, now, "certificate for "+name); err != nil {
		return validation{}, err
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         m.roots,
		Intermediates: m.intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return validation{}, m.chainError(cert, now, err)
	}
	for _, chain := range chains {
		if err := m.checkRevoked(chain); err != nil {
			return validation{}, err
		}
	}
	role, err := roleFromOUs(cert)
	if err != nil {
		return validation{}, newKindError(ErrInvalidCertificate, nil,
			fmt.Sprintf("identity: certificate for %s of %s %s", name, m.id, err))
	}
	v := validation{role: role, validFrom: cert.NotBefore, validUntil: cert.NotAfter}
	for _, c := range chains[0] {
		if c.NotBefore.After(v.validFrom) {
			v.validFrom = c.NotBefore
		}
		if c.NotAfter.Before(v.validUntil) {
			v.validUntil = c.NotAfter
		}
	}
	return v, nil
}

// checkPeriod checks that cert is valid at now; what names the certificate.
func checkPeriod(cert *x509.Certificate, now time.Time, what string) error {
	if now.Before(cert.NotBefore) {
		return newKindError(ErrNotYetValid, nil, fmt.Sprintf("identity: %s is not yet valid: valid from %s, now is %s",
			what, cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	if now.After(cert.NotAfter) {
		return newKindError(ErrExpired, nil, fmt.Sprintf("identity: %s expired at %s, now is %s",
			what, cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	return nil
}

// chainError turns an error of x509 verification into one of ours.
func (m *MSP) chainError(cert *x509.Certificate, now time.Time, err error) error {
	name := subjectName(cert)
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		issuer := "CN=" + printable(cert.Issuer.CommonName)
		if cert.Issuer.CommonName == "" {
			issuer = printable(cert.Issuer.String())
		}
		return newKindError(ErrUnknownCA, err, fmt.Sprintf("identity: certificate for %s is issued by an unknown CA (%s), not by a CA of %s",
			name, issuer, m.id))
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil {
		// The identity's own period was checked first: a CA of the chain it is.
		what := fmt.Sprintf("CA certificate %s of %s (in the chain of %s)", subjectName(invalid.Cert), m.id, name)
		if perr := checkPeriod(invalid.Cert, now, what); perr != nil {
			return perr
		}
	}
	return newKindError(ErrInvalidCertificate, err, fmt.Sprintf("identity: certificate for %s does not verify against the CAs of %s: %v",
		name, m.id, err))
}

// checkRevoked checks every certificate of a verified chain (leaf first,
// root last) against the CRLs of its issuer.
func (m *MSP) checkRevoked(chain []*x509.Certificate) error {
	if len(m.revoked) == 0 {
		return nil
	}
	for i := 0; i+1 < len(chain); i++ {
		serials := m.revoked[string(chain[i+1].Raw)]
		if serials == nil {
			continue
		}
		c := chain[i]
		r, ok := serials[c.SerialNumber.String()]
		if !ok {
			continue
		}
		what := "certificate for " + subjectName(c)
		if i > 0 {
			what = fmt.Sprintf("CA certificate %s (in the chain of %s)", subjectName(c), subjectName(chain[0]))
		}
		return newKindError(ErrRevoked, nil, fmt.Sprintf("identity: %s, serial %s, is revoked by %s CRL of %s (revoked at %s)",
			what, serialHex(c), m.id, r.crlBy, r.at.UTC().Format(time.RFC3339)))
	}
	return nil
}

// roleOU returns the role an organizational unit gives, as Fabric's NodeOUs
// name them.
func roleOU(ou string) (Role, bool) {
	switch ou {
	case "client":
		return RoleClient, true
	case "peer":
		return RolePeer, true
	case "orderer":
		return RoleOrderer, true
	case "admin":
		return RoleAdmin, true
	}
	return 0, false
}

// roleFromOUs returns the role given by the certificate's OUs: exactly one
// of client, peer, orderer, admin, as Fabric requires when NodeOUs are on.
// The error completes a sentence that starts with the certificate's name.
func roleFromOUs(cert *x509.Certificate) (Role, error) {
	var found []string
	role := RoleMember
	for _, ou := range cert.Subject.OrganizationalUnit {
		if r, ok := roleOU(ou); ok {
			found = append(found, ou)
			role = r
		}
	}
	switch len(found) {
	case 1:
		return role, nil
	case 0:
		return 0, errors.New("has no role OU (want exactly one of OU=client, OU=peer, OU=orderer, OU=admin)")
	default:
		return 0, fmt.Errorf("has several role OUs (%s); want exactly one of client, peer, orderer, admin",
			strings.Join(found, ", "))
	}
}

// Identity is a validated member of an organization. It is immutable and
// safe for concurrent use; the same *Identity is handed to every caller that
// deserializes the same bytes while it is cached.
type Identity struct {
	mspID      string
	cert       *x509.Certificate
	serialized []byte
	role       Role
	keyID      [sha256.Size]byte // SHA-256 of the PKIX public key
	validFrom  time.Time
	validUntil time.Time
	msp        *MSP
}

// MSPID returns the MSP id of the identity.
func (id *Identity) MSPID() string { return id.mspID }

// Certificate returns the identity's certificate. The caller must not
// modify it.
func (id *Identity) Certificate() *x509.Certificate { return id.cert }

// Role returns the role given by the certificate's OU: RoleClient, RolePeer,
// RoleOrderer or RoleAdmin.
func (id *Identity) Role() Role { return id.role }

// Roles returns every role the identity has: RoleMember and its OU role.
func (id *Identity) Roles() []Role { return []Role{RoleMember, id.role} }

// HasRole reports whether the identity has role r. Every valid identity is a
// member; an admin is an admin, not also a client or a peer, as in Fabric.
func (id *Identity) HasRole(r Role) bool { return r == RoleMember || r == id.role }

// PublicKey returns the certificate's public key (*ecdsa.PublicKey or
// ed25519.PublicKey).
func (id *Identity) PublicKey() crypto.PublicKey { return id.cert.PublicKey }

// Expiry returns the certificate's NotAfter.
func (id *Identity) Expiry() time.Time { return id.cert.NotAfter }

// Serialized returns a copy of the serialized identity bytes it was read
// from.
func (id *Identity) Serialized() []byte { return bytes.Clone(id.serialized) }

// Verify checks that sig is the identity's signature of msg (see the package
// function Verify), through the MSP's signature cache if it has one. It
// does not re-check the certificate's validity: MSP.Validate does.
func (id *Identity) Verify(msg, sig []byte) error {
	return id.msp.sigCache.verify(id.keyID, id.cert.PublicKey, msg, sig)
}

// String names the identity for logs: "Org1MSP CN=peer0.org1 (peer)".
func (id *Identity) String() string {
	return fmt.Sprintf("%s %s (%s)", id.mspID, subjectName(id.cert), id.role)
}

// validAt reports whether t is inside the period in which the identity's
// chain is valid. Revocation does not change during an MSP's life.
func (id *Identity) validAt(t time.Time) bool {
	return !t.Before(id.validFrom) && !t.After(id.validUntil)
}
