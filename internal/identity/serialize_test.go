package identity

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
)

func TestSerializeRoundTrip(t *testing.T) {
	p := pki(t)
	for _, x := range []issued{p.client, p.peer, p.edClient} {
		b, err := Serialize("Org1MSP", x.certPEM)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Serialize("Org1MSP", x.certPEM)
		if !bytes.Equal(b, again) {
			t.Fatal("Serialize is not deterministic")
		}
		// Field 1 is the MSP id, field 2 the PEM bytes: what Fabric's clients send.
		want, err := proto.Marshal(&msppb.SerializedIdentity{Mspid: "Org1MSP", IdBytes: x.certPEM})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("serialized form differs from the plain protobuf encoding")
		}
		mspID, cert, err := Deserialize(b)
		if err != nil {
			t.Fatal(err)
		}
		if mspID != "Org1MSP" || !cert.Equal(x.cert) {
			t.Fatalf("round trip gave %s %s", mspID, subjectName(cert))
		}
	}
}

func TestSerializeErrors(t *testing.T) {
	if _, err := Serialize("", []byte("x")); err == nil {
		t.Error("no error for an empty MSP id")
	}
	if _, err := Serialize("Org1MSP", nil); err == nil {
		t.Error("no error for an empty certificate")
	}
}

func TestDeserializeMalformed(t *testing.T) {
	p := pki(t)
	keyAsCert, _ := proto.Marshal(&msppb.SerializedIdentity{Mspid: "Org1MSP", IdBytes: p.client.keyPEM})
	derCert, _ := proto.Marshal(&msppb.SerializedIdentity{Mspid: "Org1MSP", IdBytes: p.client.cert.Raw})
	noMSP, _ := proto.Marshal(&msppb.SerializedIdentity{IdBytes: p.client.certPEM})
	badDER := bytes.Replace(p.client.certPEM, []byte("MII"), []byte("MIA"), 1)
	badCert, _ := proto.Marshal(&msppb.SerializedIdentity{Mspid: "Org1MSP", IdBytes: badDER})
	for _, tc := range []struct {
		name       string
		serialized []byte
		want       string
	}{
		{"empty", nil, "empty"},
		{"garbage", []byte{0xff, 0xff, 0xff}, "malformed serialized identity"},
		{"no MSP id", noMSP, "no MSP id"},
		{"PEM key instead of a certificate", keyAsCert, `PEM block is "PRIVATE KEY"`},
		{"DER instead of PEM", derCert, "no PEM block"},
		{"corrupt certificate", badCert, "parsing certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Deserialize(tc.serialized)
			if !errors.Is(err, ErrMalformedIdentity) {
				t.Fatalf("got %v, want ErrMalformedIdentity", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			checkPrefix(t, err)
		})
	}
}

// checkPrefix checks that err starts with the package prefix, once: an
// error wrapped within the package must not repeat it.
func checkPrefix(tb testing.TB, err error) {
	tb.Helper()
	if msg := err.Error(); !strings.HasPrefix(msg, "identity: ") || strings.Contains(msg, ": identity: ") {
		tb.Errorf("error %q should start with \"identity: \", once", msg)
	}
}
