package cid

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/chorusledger/chorus/sdk/contract"
)

// ClientIdentity is the identity of a transaction's creator.
type ClientIdentity struct {
	mspID string
	cert  *x509.Certificate
	attrs map[string]string // nil when the certificate has none
}

// New returns the identity of the creator of stub's transaction.
func New(stub contract.Stub) (*ClientIdentity, error) {
	creator, err := stub.GetCreator()
	if err != nil {
		return nil, fmt.Errorf("cid: failed to get the transaction's creator: %w", err)
	}
	return Parse(creator)
}

// Parse returns the identity serialized in creator, an
// msp.SerializedIdentity.
func Parse(creator []byte) (*ClientIdentity, error) {
	mspID, idBytes, err := UnmarshalSerializedIdentity(creator)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(idBytes)
	if block == nil {
		return nil, fmt.Errorf("cid: the identity of %s is not an X.509 certificate in PEM", mspID)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cid: failed to parse the certificate of the creator: %w", err)
	}
	attrs, err := certAttributes(cert)
	if err != nil {
		return nil, err
	}
	return &ClientIdentity{mspID: mspID, cert: cert, attrs: attrs}, nil
}

// GetID returns the creator's id, unique within its MSP: the base64 (std
// encoding) of "x509::<subject DN>::<issuer DN>", exactly as Fabric's
// cid.GetID computes it. It stays the same when the certificate is renewed
// with the same names.
func (c *ClientIdentity) GetID() (string, error) {
	return ID(c.cert), nil
}

// GetMSPID returns the MSP id of the creator's organization.
func (c *ClientIdentity) GetMSPID() (string, error) {
	return c.mspID, nil
}

// GetX509Certificate returns the creator's certificate.
func (c *ClientIdentity) GetX509Certificate() (*x509.Certificate, error) {
	return c.cert, nil
}

// GetAttributeValue returns the value of the attribute name that a Fabric
// CA put in the creator's certificate (extension 1.2.3.4.5.6.7.8.1), and
// whether it is there.
func (c *ClientIdentity) GetAttributeValue(name string) (value string, found bool, err error) {
	value, found = c.attrs[name]
	return value, found, nil
}

// AssertAttributeValue returns an error unless the creator's attribute
// name equals value.
func (c *ClientIdentity) AssertAttributeValue(name, value string) error {
	v, ok, err := c.GetAttributeValue(name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("attribute '%s' was not found", name)
	}
	if v != value {
		return fmt.Errorf("attribute '%s' equals '%s', not '%s'", name, v, value)
	}
	return nil
}

// ID returns the Fabric client id of cert, as GetID.
func ID(cert *x509.Certificate) string {
	id := "x509::" + distinguishedName(&cert.Subject) + "::" + distinguishedName(&cert.Issuer)
	return base64.StdEncoding.EncodeToString([]byte(id))
}

// attrOID is the extension where a Fabric CA puts a certificate's
// attributes, as JSON: {"attrs":{"name":"value",...}}.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

func certAttributes(cert *x509.Certificate) (map[string]string, error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(attrOID) {
			continue
		}
		var v struct {
			Attrs map[string]string `json:"attrs"`
		}
		if err := json.Unmarshal(ext.Value, &v); err != nil {
			return nil, fmt.Errorf("cid: failed to get the attributes of the creator's certificate: %w", err)
		}
		return v.Attrs, nil
	}
	return nil, nil
}

// distinguishedName returns name as Fabric's cid writes it (its getDN): the
// RDNs of name.ToRDNSequence in reverse order, "TYPE=value" joined by ','
// and multi-valued RDNs by '+', with RFC 2253 escaping.
func distinguishedName(name *pkix.Name) string {
	rdns := name.ToRDNSequence()
	var b strings.Builder
	for i := range rdns {
		rdn := rdns[len(rdns)-1-i]
		if i > 0 {
			b.WriteByte(',')
		}
		for j, tv := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			oid := tv.Type.String()
			typeName, ok := attributeTypeNames[oid]
			if !ok {
				if der, err := asn1.Marshal(tv.Value); err == nil {
					b.WriteString(oid + "=#" + hex.EncodeToString(der))
					continue
				}
				typeName = oid
			}
			b.WriteString(typeName)
			b.WriteByte('=')
			b.WriteString(escapeDNValue(fmt.Sprint(tv.Value)))
		}
	}
	return b.String()
}

func escapeDNValue(v string) string {
	var b strings.Builder
	for i, c := range v {
		if (i == 0 && (c == ' ' || c == '#')) || (i == len(v)-1 && c == ' ') {
			b.WriteByte('\\')
			b.WriteRune(c)
			continue
		}
		switch c {
		case ',', '+', '"', '\\', '<', '>', ';':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

var attributeTypeNames = map[string]string{
	"2.5.4.6":  "C",
	"2.5.4.10": "O",
	"2.5.4.11": "OU",
	"2.5.4.3":  "CN",
	"2.5.4.5":  "SERIALNUMBER",
	"2.5.4.7":  "L",
	"2.5.4.8":  "ST",
	"2.5.4.9":  "STREET",
	"2.5.4.17": "POSTALCODE",
}
