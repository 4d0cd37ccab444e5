package channelconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
)

// The certificates of the tests are made once per test binary and written
// into each test's temporary directory under crypto/, where the YAML
// fixtures of testdata/ name them:
//
//	crypto/org1/ca.pem             Org1MSP root CA
//	crypto/org1/tlsca.pem          Org1MSP TLS CA
//	crypto/org1/intermediate.pem   an intermediate CA under Org1MSP's root
//	crypto/org1/crl.pem            Org1MSP's root revokes the "revoked" client
//	crypto/org2/ca.pem, tlsca.pem  Org2MSP
//	crypto/orderer/ca.pem, tlsca.pem                  OrdererMSP
//	crypto/orderer/o{1,2,3}-sign.pem, o{1,2,3}-tls.pem  its three orderers
//	crypto/orderer/peer-sign.pem   a peer certificate of OrdererMSP
//	crypto/other/ca.pem            a CA of no organization of the channel
//	crypto/other/intermediate.pem  an intermediate CA under it
//	crypto/other/crl.pem           a CRL it signed
//	crypto/other/orderer-sign.pem  an orderer certificate it issued
//	crypto/other/tls.pem           a TLS certificate it issued
//	crypto/bad/garbage.pem         not PEM at all
//	crypto/bad/leaf.pem            a certificate that is not a CA's

// cred is a certificate and its key.
type cred struct {
	certPEM, keyPEM []byte
}

type testPKI struct {
	files map[string][]byte

	org1Client, org1Peer, org1Admin, org1Revoked, org1Short cred
	org1Inter                                               cred // issued by Org1's intermediate CA
	org2Client, org2Peer, org2Admin                         cred
	roguePeer                                               cred // claims Org1MSP, issued by another CA
	orderer1                                                cred
}

const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	certLifetime = 365 * 24 * time.Hour
)

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

func makePKI() (*testPKI, error) {
	p := &testPKI{files: make(map[string][]byte)}
	var firstErr error
	must := func(certPEM, keyPEM []byte, err error) cred {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return cred{certPEM: certPEM, keyPEM: keyPEM}
	}
	newCA := func(name, mspID string) *identity.CA {
		ca, err := identity.NewCA(name, mspID, caLifetime)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return ca
	}
	org1, org1TLS := newCA("ca.org1", "Org1MSP"), newCA("tlsca.org1", "Org1MSP")
	org2, org2TLS := newCA("ca.org2", "Org2MSP"), newCA("tlsca.org2", "Org2MSP")
	ord, ordTLS := newCA("ca.orderer", "OrdererMSP"), newCA("tlsca.orderer", "OrdererMSP")
	other := newCA("ca.other", "OtherMSP")
	rogue := newCA("ca.rogue", "Org1MSP")
	if firstErr != nil {
		return nil, firstErr
	}
	org1Inter, err := org1.IssueIntermediate("ica.org1", caLifetime/2)
	if err != nil {
		return nil, err
	}
	otherInter, err := other.IssueIntermediate("ica.other", caLifetime/2)
	if err != nil {
		return nil, err
	}

	p.org1Client = must(org1.Issue("client.org1", identity.RoleClient, certLifetime))
	p.org1Peer = must(org1.Issue("peer0.org1", identity.RolePeer, certLifetime))
	p.org1Admin = must(org1.Issue("admin.org1", identity.RoleAdmin, certLifetime))
	p.org1Revoked = must(org1.Issue("revoked.org1", identity.RoleClient, certLifetime))
	p.org1Short = must(org1.Issue("short.org1", identity.RoleClient, time.Hour))
	p.org1Inter = must(org1Inter.Issue("inter-client.org1", identity.RoleClient, certLifetime))
	p.org2Client = must(org2.Issue("client.org2", identity.RoleClient, certLifetime))
	p.org2Peer = must(org2.Issue("peer0.org2", identity.RolePeer, certLifetime))
	p.org2Admin = must(org2.Issue("admin.org2", identity.RoleAdmin, certLifetime))
	p.roguePeer = must(rogue.Issue("peer0.org1", identity.RolePeer, certLifetime))
	if firstErr != nil {
		return nil, firstErr
	}
	revoked, err := identity.ParseCertificatePEM(p.org1Revoked.certPEM)
	if err != nil {
		return nil, err
	}
	org1CRL, err := org1.IssueCRL(revoked.SerialNumber)
	if err != nil {
		return nil, err
	}
	otherCRL, err := other.IssueCRL(big.NewInt(42))
	if err != nil {
		return nil, err
	}

	f := p.files
	f["crypto/org1/ca.pem"] = org1.CertificatePEM()
	f["crypto/org1/tlsca.pem"] = org1TLS.CertificatePEM()
	f["crypto/org1/intermediate.pem"] = org1Inter.CertificatePEM()
	f["crypto/org1/crl.pem"] = org1CRL
	f["crypto/org2/ca.pem"] = org2.CertificatePEM()
	f["crypto/org2/tlsca.pem"] = org2TLS.CertificatePEM()
	f["crypto/orderer/ca.pem"] = ord.CertificatePEM()
	f["crypto/orderer/tlsca.pem"] = ordTLS.CertificatePEM()
	for i := 1; i <= 3; i++ {
		host := fmt.Sprintf("o%d.orderer", i)
		sign := must(ord.Issue(host, identity.RoleOrderer, certLifetime))
		tls := must(ordTLS.Issue(host, identity.RoleMember, certLifetime, "127.0.0.1", "localhost"))
		f[fmt.Sprintf("crypto/orderer/o%d-sign.pem", i)] = sign.certPEM
		f[fmt.Sprintf("crypto/orderer/o%d-tls.pem", i)] = tls.certPEM
		if i == 1 {
			p.orderer1 = sign
		}
	}
	f["crypto/orderer/peer-sign.pem"] = must(ord.Issue("peer.orderer", identity.RolePeer, certLifetime)).certPEM
	f["crypto/other/ca.pem"] = other.CertificatePEM()
	f["crypto/other/intermediate.pem"] = otherInter.CertificatePEM()
	f["crypto/other/crl.pem"] = otherCRL
	f["crypto/other/orderer-sign.pem"] = must(other.Issue("o1.orderer", identity.RoleOrderer, certLifetime)).certPEM
	f["crypto/other/tls.pem"] = must(other.Issue("o1.orderer", identity.RoleMember, certLifetime)).certPEM
	f["crypto/bad/garbage.pem"] = []byte("this is not a certificate\n")
	f["crypto/bad/leaf.pem"] = p.org1Client.certPEM
	if firstErr != nil {
		return nil, firstErr
	}
	return p, nil
}

// writeCrypto writes the certificate files into dir.
func (p *testPKI) writeCrypto(tb testing.TB, dir string) {
	tb.Helper()
	for name, data := range p.files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// render expands a fixture: {{inline "crypto/org1/ca.pem"}} becomes the
// file's PEM as a double-quoted YAML string.
func (p *testPKI) render(tb testing.TB, name string, text []byte) []byte {
	tb.Helper()
	tmpl, err := template.New(name).Funcs(template.FuncMap{
		"inline": func(file string) (string, error) {
			data, ok := p.files[file]
			if !ok {
				return "", fmt.Errorf("no test file %s", file)
			}
			q, err := json.Marshal(string(data))
			return string(q), err
		},
	}).Parse(string(text))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, nil); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return out.Bytes()
}

// writeDefinition writes the certificates and the YAML definition text
// into a new temporary directory and returns the definition's path.
func (p *testPKI) writeDefinition(tb testing.TB, name string, text []byte) string {
	tb.Helper()
	dir := tb.TempDir()
	p.writeCrypto(tb, dir)
	path := filepath.Join(dir, "channel.yaml")
	if err := os.WriteFile(path, p.render(tb, name, text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// readFixture reads testdata/<name>.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// loadFixture loads testdata/<name> as a channel definition.
func loadFixture(tb testing.TB, name string) (*Definition, error) {
	tb.Helper()
	return LoadDefinition(pki(tb).writeDefinition(tb, name, readFixture(tb, name)))
}

// fixtureConfig returns the configuration of testdata/<name>.
func fixtureConfig(tb testing.TB, name string) *configpb.ChannelConfig {
	tb.Helper()
	d, err := loadFixture(tb, name)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	cfg, err := d.Config()
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return cfg
}

// signed returns the SignedData of c over msg.
func signed(tb testing.TB, mspID string, c cred, msg []byte) SignedData {
	tb.Helper()
	si, err := identity.LoadSigningIdentity(mspID, c.certPEM, c.keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := si.Sign(msg)
	if err != nil {
		tb.Fatal(err)
	}
	return SignedData{Data: msg, Identity: si.Serialize(), Signature: sig}
}

// expectedErrors returns the "# error: " lines at the top of a fixture.
func expectedErrors(text []byte) []string {
	var out []string
	for _, line := range strings.Split(string(text), "\n") {
		if s, ok := strings.CutPrefix(line, "# error: "); ok {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}
