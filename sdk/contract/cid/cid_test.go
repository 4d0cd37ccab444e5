package cid_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/sdk/contract/cid"
	"github.com/chorusledger/chorus/sdk/contract/contracttest"
)

func decodeID(t *testing.T, id string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGetID(t *testing.T) {
	id := contracttest.NewIdentity("Org1MSP", "User1@org1.example.com")
	ci, err := cid.Parse(id.Serialized())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ci.GetID()
	if err != nil {
		t.Fatal(err)
	}
	// The id of cryptogen's User1 of Org1, as Fabric's cid computes it.
	want := "x509::CN=User1@org1.example.com,OU=client,L=San Francisco,ST=California,C=US::CN=ca.org1.example.com,O=org1.example.com,L=San Francisco,ST=California,C=US"
	if decodeID(t, got) != want {
		t.Errorf("GetID decodes to %q\nwant %q", decodeID(t, got), want)
	}
	if msp, _ := ci.GetMSPID(); msp != "Org1MSP" {
		t.Errorf("GetMSPID = %q", msp)
	}
	cert, _ := ci.GetX509Certificate()
	if cert == nil || cert.Subject.CommonName != "User1@org1.example.com" {
		t.Errorf("GetX509Certificate = %v", cert)
	}
	if got != id.ClientID() {
		t.Errorf("contracttest's ClientID %q differs", id.ClientID())
	}
}

func certPEM(t *testing.T, subject, issuer pkix.Name, exts ...pkix.Extension) []byte {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         subject,
		NotBefore:       time.Unix(0, 0),
		NotAfter:        time.Unix(1e10, 0),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(nil, tmpl, &x509.Certificate{Subject: issuer}, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Distinguished names as Fabric writes them: every standard attribute,
// multi-valued RDNs, RFC 2253 escaping.
func TestDistinguishedNames(t *testing.T) {
	subject := pkix.Name{
		Country: []string{"US"}, Province: []string{"NC"}, Locality: []string{"Durham"},
		StreetAddress: []string{"1 Main St"}, PostalCode: []string{"27701"},
		Organization: []string{"Org, Inc."}, OrganizationalUnit: []string{"client", "dept+1"},
		CommonName: " #alice<admin>; ", SerialNumber: "42",
	}
	issuer := pkix.Name{CommonName: `#ca "root"\`, Organization: []string{"o"}}
	pemBytes := certPEM(t, subject, issuer)
	ci, err := cid.Parse(cid.MarshalSerializedIdentity("Org2MSP", pemBytes))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ci.GetID()
	want := `x509::SERIALNUMBER=42,CN=\ #alice\<admin\>\;\ ,OU=client+OU=dept\+1,O=Org\, Inc.,POSTALCODE=27701,STREET=1 Main St,L=Durham,ST=NC,C=US` +
		`::CN=\#ca \"root\"\\,O=o`
	if got := decodeID(t, id); got != want {
		t.Errorf("id %q\nwant %q", got, want)
	}
}

func TestAttributes(t *testing.T) {
	ext := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}, Value: []byte(`{"attrs":{"role":"auditor","hf.EnrollmentID":"bob"}}`)}
	ci, err := cid.Parse(cid.MarshalSerializedIdentity("Org1MSP", certPEM(t, pkix.Name{CommonName: "bob"}, pkix.Name{CommonName: "ca"}, ext)))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := ci.GetAttributeValue("role"); v != "auditor" || !ok || err != nil {
		t.Errorf("role = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := ci.GetAttributeValue("missing"); v != "" || ok || err != nil {
		t.Errorf("missing = %q, %v, %v", v, ok, err)
	}
	if err := ci.AssertAttributeValue("role", "auditor"); err != nil {
		t.Error(err)
	}
	if err := ci.AssertAttributeValue("role", "admin"); err == nil || err.Error() != "attribute 'role' equals 'auditor', not 'admin'" {
		t.Errorf("AssertAttributeValue: %v", err)
	}
	if err := ci.AssertAttributeValue("missing", "x"); err == nil || err.Error() != "attribute 'missing' was not found" {
		t.Errorf("AssertAttributeValue: %v", err)
	}

	// Without the extension there are no attributes.
	plain, err := cid.Parse(contracttest.NewIdentity("Org1MSP", "x").Serialized())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := plain.GetAttributeValue("role"); ok || err != nil {
		t.Errorf("attribute of a plain certificate: %v, %v", ok, err)
	}

	bad := pkix.Extension{Id: ext.Id, Value: []byte("not json")}
	if _, err := cid.Parse(cid.MarshalSerializedIdentity("Org1MSP", certPEM(t, pkix.Name{CommonName: "bob"}, pkix.Name{CommonName: "ca"}, bad))); err == nil {
		t.Error("bad attributes parsed")
	}
}

func TestNew(t *testing.T) {
	alice := contracttest.NewIdentity("Org2MSP", "alice@org2.example.com")
	tx := contracttest.NewLedger().Begin(alice, "c")
	ci, err := cid.New(tx)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := ci.GetID(); id != alice.ClientID() {
		t.Errorf("id %q", id)
	}
	if msp, _ := ci.GetMSPID(); msp != "Org2MSP" {
		t.Errorf("msp %q", msp)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		creator []byte
		want    string
	}{
		{"not protobuf", []byte{0xff}, "cid: failed to unmarshal the serialized identity: bad field tag"},
		{"no MSP id", cid.MarshalSerializedIdentity("", []byte("x")), "cid: the serialized identity has no MSP id"},
		{"not PEM", cid.MarshalSerializedIdentity("Org1MSP", []byte("idemix")), "cid: the identity of Org1MSP is not an X.509 certificate in PEM"},
		{"bad certificate", cid.MarshalSerializedIdentity("Org1MSP", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})), "cid: failed to parse the certificate of the creator: "},
	} {
		_, err := cid.Parse(tc.creator)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
}

func TestSerializedIdentity(t *testing.T) {
	b := cid.MarshalSerializedIdentity("Org1MSP", []byte("pem"))
	if want := "\x0a\x07Org1MSP\x12\x03pem"; string(b) != want {
		t.Errorf("Marshal = %q, want %q", b, want)
	}
	long := bytes.Repeat([]byte("x"), 300)
	b = cid.MarshalSerializedIdentity("M", long)
	if want := "\x0a\x01M\x12\xac\x02" + string(long); string(b) != want {
		t.Errorf("Marshal with a 2-byte length = %q", b[:8])
	}
	for _, tc := range []struct {
		name, in  string
		msp, id   string
		errPrefix string
	}{
		{"fields", "\x0a\x07Org1MSP\x12\x03pem", "Org1MSP", "pem", ""},
		{"reversed", "\x12\x03pem\x0a\x07Org1MSP", "Org1MSP", "pem", ""},
		{"unknown fields skipped", "\x18\x96\x01\x0a\x01M\x21\x01\x02\x03\x04\x05\x06\x07\x08\x2d\x01\x02\x03\x04\x3a\x02ab", "M", "", ""},
		{"last wins", "\x0a\x01A\x0a\x01B\x12\x01x\x12\x01y", "B", "y", ""},
		{"wrong wire type", "\x08\x01", "", "", "cid: failed to unmarshal the serialized identity: field 1 has wire type 0, not 2"},
		{"truncated", "\x0a\x07Org", "", "", "cid: failed to unmarshal the serialized identity: bad length of field 1"},
		{"group", "\x0b", "", "", "cid: failed to unmarshal the serialized identity: unsupported wire type 3 in field 1"},
		{"field 0", "\x02\x00", "", "", "cid: failed to unmarshal the serialized identity: bad field number 0"},
		{"bad UTF-8", "\x0a\x01\xff", "", "", "cid: failed to unmarshal the serialized identity: mspid is not valid UTF-8"},
		{"empty", "", "", "", "cid: the serialized identity has no MSP id"},
	} {
		msp, id, err := cid.UnmarshalSerializedIdentity([]byte(tc.in))
		if tc.errPrefix != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.errPrefix) {
				t.Errorf("%s: error %v, want %s", tc.name, err, tc.errPrefix)
			}
			continue
		}
		if err != nil || msp != tc.msp || string(id) != tc.id {
			t.Errorf("%s: %q %q %v", tc.name, msp, id, err)
		}
	}
}

func FuzzUnmarshalSerializedIdentity(f *testing.F) {
	f.Add([]byte("\x0a\x07Org1MSP\x12\x03pem"))
	f.Add([]byte("\x18\x96\x01\x0a\x01M"))
	f.Add([]byte("\x0a\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		msp, id, err := cid.UnmarshalSerializedIdentity(b)
		if err != nil {
			return
		}
		msp2, id2, err := cid.UnmarshalSerializedIdentity(cid.MarshalSerializedIdentity(msp, id))
		if err != nil || msp2 != msp || !bytes.Equal(id2, id) {
			t.Fatalf("%q %q re-decoded as %q %q %v", msp, id, msp2, id2, err)
		}
		_, _ = cid.Parse(b) // never panics
	})
}
