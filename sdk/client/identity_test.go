package client

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
)

func TestIdentityKeepsCertificateBytes(t *testing.T) {
	ca := newTestCA(t, "ca.org1")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Text around the PEM block, and CRLF line ends, must survive as is:
	// the creator bytes, and so the transaction id, cover them.
	certPEM := ca.issue(t, "User1", &key.PublicKey)
	certPEM = append([]byte("subject=CN = User1\r\n"), bytes.ReplaceAll(certPEM, []byte("\n"), []byte("\r\n"))...)
	certPEM = append(certPEM, "\r\n\r\n"...)
	path := writeFile(t, filepath.Join(t.TempDir(), "cert.pem"), certPEM)

	id, err := NewIdentityFromFiles("Org1MSP", path)
	if err != nil {
		t.Fatal(err)
	}
	if id.MSPID != "Org1MSP" || !bytes.Equal(id.Certificate, certPEM) {
		t.Fatalf("identity = %q, %q; want the MSP id and the file's bytes", id.MSPID, id.Certificate)
	}
	creator, err := id.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	var sid msppb.SerializedIdentity
	if err := proto.Unmarshal(creator, &sid); err != nil {
		t.Fatal(err)
	}
	if sid.GetMspid() != "Org1MSP" || !bytes.Equal(sid.GetIdBytes(), certPEM) {
		t.Fatal("serialized identity does not hold the MSP id and the PEM bytes")
	}
	if len(sid.ProtoReflect().GetUnknown()) != 0 {
		t.Fatal("serialized identity has unknown fields")
	}
	again, err := id.Serialize()
	if err != nil || !bytes.Equal(again, creator) {
		t.Fatal("Serialize is not deterministic")
	}
	// The exact encoding: field 1 (mspid) then field 2 (id_bytes).
	want := append([]byte{0x0a, 7}, "Org1MSP"...)
	if !bytes.HasPrefix(creator, want) {
		t.Fatalf("creator starts %x, want %x", creator[:9], want)
	}
}

func TestIdentityErrors(t *testing.T) {
	ca := newTestCA(t, "ca")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := ca.issue(t, "User1", &key.PublicKey)
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		mspID string
		cert  []byte
		want  string
	}{
		{"no MSP id", "", certPEM, "no MSP id"},
		{"empty certificate", "Org1MSP", nil, "no PEM CERTIFICATE block"},
		{"key instead of certificate", "Org1MSP", pkcs8PEM(t, key), "no PEM CERTIFICATE block"},
		{"bad DER", "Org1MSP", pemBlock("CERTIFICATE", []byte{1, 2, 3}), "certificate of Org1MSP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewIdentity(tc.mspID, tc.cert); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewIdentity error %v, want one containing %q", err, tc.want)
			}
			path := writeFile(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")), tc.cert)
			_, err := NewIdentityFromFiles(tc.mspID, path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("NewIdentityFromFiles error %v, want one containing %q and the path", err, tc.want)
			}
		})
	}
	if _, err := NewIdentityFromFiles("Org1MSP", filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
	if _, err := (Identity{MSPID: "Org1MSP"}).Serialize(); err == nil {
		t.Fatal("Serialize without a certificate succeeded")
	}
	if _, err := (Identity{Certificate: certPEM}).Serialize(); err == nil {
		t.Fatal("Serialize without an MSP id succeeded")
	}
}
