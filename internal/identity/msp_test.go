package identity

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMSPValidIdentities(t *testing.T) {
	p := pki(t)
	m := newTestMSP(t, p.org1Config(nil))
	for _, tc := range []struct {
		name string
		x    issued
		role Role
	}{
		{"client", p.client, RoleClient},
		{"peer", p.peer, RolePeer},
		{"admin", p.admin, RoleAdmin},
		{"orderer", p.orderer, RoleOrderer},
		{"client of the intermediate CA", p.interClient, RoleClient},
		{"Ed25519 client", p.edClient, RoleClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serialized := mustSerialize(t, "Org1MSP", tc.x.certPEM)
			id, err := m.DeserializeIdentity(serialized)
			if err != nil {
				t.Fatal(err)
			}
			if id.MSPID() != "Org1MSP" || id.Role() != tc.role || !id.Certificate().Equal(tc.x.cert) {
				t.Fatalf("got %v", id)
			}
			if want := []Role{RoleMember, tc.role}; !slices.Equal(id.Roles(), want) {
				t.Errorf("Roles() = %v, want %v", id.Roles(), want)
			}
			for _, r := range []Role{RoleMember, RoleAdmin, RoleClient, RolePeer, RoleOrderer} {
				if want := r == RoleMember || r == tc.role; id.HasRole(r) != want {
					t.Errorf("HasRole(%s) = %v", r, !want)
				}
			}
			if !id.Expiry().Equal(tc.x.cert.NotAfter) || !bytes.Equal(id.Serialized(), serialized) ||
				!publicKeysEqual(id.PublicKey(), tc.x.cert.PublicKey) {
				t.Error("accessors do not match the certificate")
			}
			if err := m.Validate(id); err != nil {
				t.Errorf("Validate: %v", err)
			}
			s := mustSigningIdentity(t, "Org1MSP", tc.x)
			sig, err := s.Sign([]byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if err := id.Verify([]byte("hello"), sig); err != nil {
				t.Fatal(err)
			}
			if err := id.Verify([]byte("hellO"), sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("signature of another message: %v", err)
			}
		})
	}
}

func TestMSPRejects(t *testing.T) {
	p := pki(t)
	now := time.Now()
	org1 := func(x issued) []byte { return mustSerialize(t, "Org1MSP", x.certPEM) }
	for _, tc := range []struct {
		name       string
		serialized []byte
		at         time.Time
		is         error
		want       []string // each must appear in the message
	}{
		{
			"expired", org1(p.shortLived), now.Add(2 * time.Hour), ErrExpired,
			[]string{"identity: certificate for CN=short-lived expired at " + p.shortLived.cert.NotAfter.UTC().Format(time.RFC3339)},
		},
		{
			"not yet valid", org1(p.shortLived), p.start.Add(-time.Hour), ErrNotYetValid,
			[]string{"identity: certificate for CN=short-lived is not yet valid: valid from " + p.shortLived.cert.NotBefore.UTC().Format(time.RFC3339)},
		},
		{
			"intermediate CA expired", org1(p.underShortInter), now.Add(3 * time.Hour), ErrExpired,
			[]string{"identity: CA certificate CN=short-ica.org1.example.com of Org1MSP (in the chain of CN=User5@org1.example.com) expired at"},
		},
		{
			"revoked by the root's CRL", org1(p.revoked), now, ErrRevoked,
			[]string{"identity: certificate for CN=Revoked@org1.example.com, serial " + p.revoked.cert.SerialNumber.Text(16) + ", is revoked by Org1MSP CRL of CN=ca.org1.example.com"},
		},
		{
			"revoked by the intermediate's CRL", org1(p.interRevoked), now, ErrRevoked,
			[]string{"serial " + p.interRevoked.cert.SerialNumber.Text(16), "is revoked by Org1MSP CRL of CN=ica.org1.example.com"},
		},
		{
			"issued by a revoked intermediate", org1(p.underBadInter), now, ErrRevoked,
			[]string{"identity: CA certificate CN=bad-ica.org1.example.com (in the chain of CN=User4@org1.example.com), serial " +
				p.org1BadInter.Certificate().SerialNumber.Text(16) + ", is revoked by Org1MSP CRL"},
		},
		{
			"certificate of another CA", org1(p.org2Peer), now, ErrUnknownCA,
			[]string{"identity: certificate for CN=peer0.org2.example.com is issued by an unknown CA (CN=ca.org2.example.com), not by a CA of Org1MSP"},
		},
		{
			"other MSP id", mustSerialize(t, "Org3MSP", p.client.certPEM), now, ErrMSPMismatch,
			[]string{"identity: MSP id Org3MSP is not Org1MSP"},
		},
		{
			"garbage", []byte("\x0a\x07Org1MSP\x12\xffgarbage"), now, ErrMalformedIdentity,
			[]string{"identity: malformed serialized identity"},
		},
		{
			"not a certificate", mustSerialize(t, "Org1MSP", []byte("hello")), now, ErrMalformedIdentity,
			[]string{"identity: malformed serialized identity of Org1MSP: id_bytes: no PEM block"},
		},
		{
			"CA certificate", mustSerialize(t, "Org1MSP", p.org1Inter.CertificatePEM()), now, ErrInvalidCertificate,
			[]string{"identity: certificate for CN=ica.org1.example.com of Org1MSP is a CA certificate"},
		},
		{
			"no role OU", org1(p.noRole), now, ErrInvalidCertificate,
			[]string{"identity: certificate for CN=tls.org1.example.com of Org1MSP has no role OU"},
		},
		{
			"two role OUs", org1(p.twoRoles), now, ErrInvalidCertificate,
			[]string{"has several role OUs (admin, client)"},
		},
		{
			"P-384 key", org1(p.p384), now, ErrUnsupportedKey,
			[]string{"identity: certificate for CN=P384@org1.example.com: ECDSA P-384 key not supported"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMSP(t, p.org1Config(fixedClock(tc.at)))
			id, err := m.DeserializeIdentity(tc.serialized)
			if err == nil {
				t.Fatalf("accepted %v", id)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			checkPrefix(t, err)
		})
	}
}

func TestMSPWithoutCRLAcceptsRevoked(t *testing.T) {
	// The control of TestMSPRejects: the same certificates pass without the CRLs.
	p := pki(t)
	cfg := p.org1Config(nil)
	cfg.CRLs = nil
	m := newTestMSP(t, cfg)
	for _, x := range []issued{p.revoked, p.interRevoked, p.underBadInter} {
		if _, err := m.DeserializeIdentity(mustSerialize(t, "Org1MSP", x.certPEM)); err != nil {
			t.Errorf("%s: %v", subjectName(x.cert), err)
		}
	}
}

// movingClock is a clock that a test moves.
type movingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *movingClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestMSPIdentityCacheRechecksTheClock(t *testing.T) {
	p := pki(t)
	clock := &movingClock{t: time.Now()}
	m := newTestMSP(t, p.org1Config(clock.now))
	serialized := mustSerialize(t, "Org1MSP", p.shortLived.certPEM)
	first, err := m.DeserializeIdentity(serialized)
	if err != nil {
		t.Fatal(err)
	}
	second, err := m.DeserializeIdentity(serialized)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("the second deserialization did not come from the cache")
	}
	if hits := m.identities.stats().hits; hits != 1 {
		t.Errorf("identity cache hits = %d, want 1", hits)
	}

	clock.set(time.Now().Add(2 * time.Hour))
	if _, err := m.DeserializeIdentity(serialized); !errors.Is(err, ErrExpired) {
		t.Fatalf("cached identity after its expiry: got %v, want ErrExpired", err)
	}
	if err := m.Validate(first); !errors.Is(err, ErrExpired) {
		t.Fatalf("Validate after expiry: got %v, want ErrExpired", err)
	}
}

func TestMSPIdentityCacheIsBounded(t *testing.T) {
	p := pki(t)
	cfg := p.org1Config(nil)
	cfg.IdentityCacheSize = 2
	m := newTestMSP(t, cfg)
	for _, x := range []issued{p.client, p.peer, p.admin, p.orderer} {
		if _, err := m.DeserializeIdentity(mustSerialize(t, "Org1MSP", x.certPEM)); err != nil {
			t.Fatal(err)
		}
	}
	if s := m.identities.stats(); s.len != 2 || s.evictions != 2 {
		t.Fatalf("cache holds %d identities after %d evictions, want 2 and 2", s.len, s.evictions)
	}
}

func TestMSPValidateAgainstAnotherConfiguration(t *testing.T) {
	p := pki(t)
	cfg := p.org1Config(nil)
	cfg.CRLs = nil
	before := newTestMSP(t, cfg)
	id, err := before.DeserializeIdentity(mustSerialize(t, "Org1MSP", p.revoked.certPEM))
	if err != nil {
		t.Fatal(err)
	}
	after := newTestMSP(t, p.org1Config(nil)) // the configuration now has the CRL
	if err := after.Validate(id); !errors.Is(err, ErrRevoked) {
		t.Fatalf("got %v, want ErrRevoked", err)
	}
	org2 := newTestMSP(t, p.org2Config())
	if err := org2.Validate(id); !errors.Is(err, ErrMSPMismatch) {
		t.Fatalf("got %v, want ErrMSPMismatch", err)
	}
}

func TestNewMSPErrors(t *testing.T) {
	p := pki(t)
	good := p.org1Config(nil)
	for _, tc := range []struct {
		name   string
		change func(*MSPConfig)
		want   string
	}{
		{"no id", func(c *MSPConfig) { c.ID = "" }, "identity: MSP without an id"},
		{"no root", func(c *MSPConfig) { c.RootCerts = nil }, "identity: MSP Org1MSP has no root CA certificate"},
		{"root is not a CA", func(c *MSPConfig) { c.RootCerts = [][]byte{p.client.certPEM} }, "identity: root certificate CN=User1@org1.example.com of Org1MSP is not a CA certificate"},
		{"root is not PEM", func(c *MSPConfig) { c.RootCerts = [][]byte{[]byte("nope")} }, "identity: root CA certificates #0 of Org1MSP: no PEM certificate found"},
		{"intermediate of another CA", func(c *MSPConfig) { c.IntermediateCerts = [][]byte{p.org2.CertificatePEM()} }, "identity: intermediate CA CN=ca.org2.example.com of Org1MSP does not chain to a root CA of Org1MSP"},
		{"CRL of another CA", func(c *MSPConfig) { c.CRLs = [][]byte{p.org2CRL} }, "identity: CRL #0 of Org1MSP, issued by CN=ca.org2.example.com,O=Org2MSP, is not signed by any CA of Org1MSP"},
		{"CRL is a certificate", func(c *MSPConfig) { c.CRLs = [][]byte{p.client.certPEM} }, `identity: CRL #0 of Org1MSP: PEM block 1 is "CERTIFICATE", want "X509 CRL"`},
		{"CRL is not PEM", func(c *MSPConfig) { c.CRLs = [][]byte{[]byte("nope")} }, `identity: CRL #0 of Org1MSP: no PEM block (want an "X509 CRL")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			_, err := NewMSP(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestManager(t *testing.T) {
	p := pki(t)
	org1 := newTestMSP(t, p.org1Config(nil))
	org2 := newTestMSP(t, p.org2Config())
	mg, err := NewManager(org2, org1)
	if err != nil {
		t.Fatal(err)
	}
	if ids := mg.MSPIDs(); !slices.Equal(ids, []string{"Org1MSP", "Org2MSP"}) {
		t.Fatalf("MSPIDs() = %v", ids)
	}
	if m, ok := mg.MSP("Org2MSP"); !ok || m != org2 {
		t.Fatal("MSP(Org2MSP) is not the Org2 MSP")
	}
	for _, tc := range []struct {
		mspID string
		x     issued
		role  Role
	}{
		{"Org1MSP", p.peer, RolePeer},
		{"Org2MSP", p.org2Peer, RolePeer},
		{"Org1MSP", p.admin, RoleAdmin},
	} {
		id, err := mg.DeserializeIdentity(mustSerialize(t, tc.mspID, tc.x.certPEM))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.mspID, subjectName(tc.x.cert), err)
		}
		if id.MSPID() != tc.mspID || id.Role() != tc.role {
			t.Fatalf("got %v", id)
		}
		if err := mg.Validate(id); err != nil {
			t.Fatal(err)
		}
	}

	_, err = mg.DeserializeIdentity(mustSerialize(t, "Org9MSP", p.peer.certPEM))
	if !errors.Is(err, ErrUnknownMSP) || err.Error() != "identity: unknown MSP Org9MSP" {
		t.Fatalf("got %v, want \"identity: unknown MSP Org9MSP\"", err)
	}
	// An Org1 certificate claimed by Org2 fails in Org2's MSP.
	if _, err := mg.DeserializeIdentity(mustSerialize(t, "Org2MSP", p.peer.certPEM)); !errors.Is(err, ErrUnknownCA) {
		t.Fatalf("Org1 certificate as Org2MSP: got %v, want ErrUnknownCA", err)
	}
	if _, err := mg.DeserializeIdentity([]byte("junk")); !errors.Is(err, ErrMalformedIdentity) {
		t.Fatalf("junk: got %v, want ErrMalformedIdentity", err)
	}
	if _, err := mg.DeserializeIdentity(mustSerialize(t, "Org\x00MSP\n", p.peer.certPEM)); err == nil ||
		!strings.Contains(err.Error(), `"Org\x00MSP\n"`) {
		t.Fatalf("an MSP id with control characters should be quoted: %v", err)
	}

	if _, err := NewManager(org1, newTestMSP(t, p.org1Config(nil))); err == nil {
		t.Fatal("NewManager accepted two MSPs with one id")
	}
}

func TestIdentityVerifyUsesTheSignatureCache(t *testing.T) {
	p := pki(t)
	cfg := p.org1Config(nil)
	cfg.SignatureCache = NewSignatureCache(16)
	m := newTestMSP(t, cfg)
	s := mustSigningIdentity(t, "Org1MSP", p.peer)
	id, err := m.DeserializeIdentity(s.Serialize())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("proposal response payload")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := id.Verify(msg, sig); err != nil {
			t.Fatal(err)
		}
	}
	if err := id.Verify(msg, flipS(t, sig)); !errors.Is(err, ErrHighS) {
		t.Fatalf("high S: got %v", err)
	}
	if err := id.Verify(msg, flipS(t, sig)); !errors.Is(err, ErrHighS) {
		t.Fatalf("high S, again: got %v (rejections must not be cached as successes)", err)
	}
	st := cfg.SignatureCache.Stats()
	if st.Hits != 2 || st.Misses != 3 || st.Len != 1 {
		t.Fatalf("stats %+v, want 2 hits, 3 misses, 1 entry", st)
	}
}

// TestConcurrentUse runs deserialization and verification from several
// goroutines over shared MSPs and caches; the race detector watches.
func TestConcurrentUse(t *testing.T) {
	p := pki(t)
	sigCache := NewSignatureCache(8)
	cfg1 := p.org1Config(nil)
	cfg1.SignatureCache, cfg1.IdentityCacheSize = sigCache, 3
	cfg2 := p.org2Config()
	cfg2.SignatureCache = sigCache
	mg, err := NewManager(newTestMSP(t, cfg1), newTestMSP(t, cfg2))
	if err != nil {
		t.Fatal(err)
	}
	type signed struct {
		serialized, msg, sig []byte
	}
	var work []signed
	for i, x := range []issued{p.client, p.peer, p.admin, p.orderer, p.interClient, p.edClient} {
		s := mustSigningIdentity(t, "Org1MSP", x)
		msg := fmt.Appendf(nil, "message %d", i)
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		work = append(work, signed{s.Serialize(), msg, sig})
	}
	s := mustSigningIdentity(t, "Org2MSP", p.org2Peer)
	sig, err := s.Sign([]byte("org2"))
	if err != nil {
		t.Fatal(err)
	}
	work = append(work, signed{s.Serialize(), []byte("org2"), sig})

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 30 {
				w := work[(g+i)%len(work)]
				id, err := mg.DeserializeIdentity(w.serialized)
				if err == nil {
					err = id.Verify(w.msg, w.sig)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := sigCache.Stats(); st.Hits+st.Misses != 120 || st.Len > 8 {
		t.Errorf("signature cache stats %+v: want 120 look-ups, at most 8 entries", st)
	}
}
