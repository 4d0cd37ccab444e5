package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// noConn is a connection that must not be used.
type noConn struct{}

func (noConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return errors.New("noConn: no calls expected")
}

func (noConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("noConn: no calls expected")
}

func TestTransactionIDVectors(t *testing.T) {
	nonce := make([]byte, 24)
	for i := range nonce {
		nonce[i] = byte(i)
	}
	// Computed independently: sha256(bytes(range(24)) + b"creator").
	if got, want := transactionID(nonce, []byte("creator")), "151635d156b87fcdd972bf6d45d83eb75864e6b9caff423a784c5c4e58051968"; got != want {
		t.Fatalf("transactionID = %s, want %s", got, want)
	}
	creator, err := Identity{MSPID: "Org1MSP", Certificate: []byte("PEM")}.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(creator), "0a074f7267314d5350120350454d"; got != want {
		t.Fatalf("creator = %s, want %s", got, want)
	}
	if got, want := transactionID(nonce, creator), "fa8aa027c9175eca4b597a5b496bd214a9928a21e5cef89ab4c1c804fcf9fa35"; got != want {
		t.Fatalf("transactionID = %s, want %s", got, want)
	}
}

// noUnknownFields fails the test if any message has fields its type does
// not declare: a field-number mistake shows up that way.
func noUnknownFields(t *testing.T, msgs ...proto.Message) {
	t.Helper()
	for _, m := range msgs {
		if u := m.ProtoReflect().GetUnknown(); len(u) != 0 {
			t.Errorf("%T has unknown fields %x", m, u)
		}
	}
}

// unmarshalCanonical decodes b into m and checks that b is the
// deterministic encoding of m.
func unmarshalCanonical(t *testing.T, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatalf("decoding %T: %v", m, err)
	}
	noUnknownFields(t, m)
	again, err := marshal(m)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("%T: the bytes are not the deterministic encoding of their message", m)
	}
}

func TestProposalStructure(t *testing.T) {
	ca := newTestCA(t, "ca.org1")
	c := newTestClient(t, ca, "Org1MSP")
	nonce := []byte("0123456789abcdef01234567")
	stamp := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	gw, err := NewGateway(noConn{}, c.id, c.signer, withRand(repeatReader(nonce)), withClock(func() time.Time { return stamp }))
	if err != nil {
		t.Fatal(err)
	}
	transient := map[string][]byte{"price": []byte("300"), "secret": {0, 1, 2}, "a": nil}
	p, err := gw.Network("mychannel").Contract("assets").NewProposal("CreateAsset", []string{"asset1", "blue", ""},
		WithTransient(transient), WithEndorsingOrganizations("Org1MSP", "Org2MSP"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(append(slices.Clone(nonce), c.creator...))
	wantTxID := hex.EncodeToString(h[:])
	if p.TransactionID() != wantTxID {
		t.Fatalf("TransactionID = %s, want %s", p.TransactionID(), wantTxID)
	}
	if !slices.Equal(p.endorsingOrgs, []string{"Org1MSP", "Org2MSP"}) || p.channel != "mychannel" {
		t.Fatalf("endorsing orgs %v, channel %q", p.endorsingOrgs, p.channel)
	}

	// SignedProposal: the signature covers proposal_bytes.
	sp := p.signed
	if err := verifyFabricSignature(c.creator, sp.GetProposalBytes(), sp.GetSignature()); err != nil {
		t.Fatalf("proposal signature: %v", err)
	}
	var prop peerpb.Proposal
	unmarshalCanonical(t, sp.GetProposalBytes(), &prop)
	if len(prop.GetExtension()) != 0 {
		t.Error("proposal has an extension")
	}
	var header commonpb.Header
	unmarshalCanonical(t, prop.GetHeader(), &header)

	var ch commonpb.ChannelHeader
	unmarshalCanonical(t, header.GetChannelHeader(), &ch)
	if ch.GetType() != 3 || ch.GetVersion() != 0 || ch.GetChannelId() != "mychannel" || ch.GetTxId() != wantTxID ||
		ch.GetEpoch() != 0 || len(ch.GetTlsCertHash()) != 0 {
		t.Errorf("channel header = %v", &ch)
	}
	if !ch.GetTimestamp().AsTime().Equal(stamp) {
		t.Errorf("timestamp = %v, want %v", ch.GetTimestamp().AsTime(), stamp)
	}
	var ext peerpb.ChaincodeHeaderExtension
	unmarshalCanonical(t, ch.GetExtension(), &ext)
	noUnknownFields(t, ext.GetChaincodeId())
	if id := ext.GetChaincodeId(); id.GetName() != "assets" || id.GetPath() != "" || id.GetVersion() != "" {
		t.Errorf("header extension chaincode id = %v", id)
	}

	var sh commonpb.SignatureHeader
	unmarshalCanonical(t, header.GetSignatureHeader(), &sh)
	if !bytes.Equal(sh.GetCreator(), c.creator) || !bytes.Equal(sh.GetNonce(), nonce) {
		t.Errorf("signature header = creator %x nonce %x", sh.GetCreator(), sh.GetNonce())
	}

	var payload peerpb.ChaincodeProposalPayload
	unmarshalCanonical(t, prop.GetPayload(), &payload)
	wantTransient := maps.Clone(transient)
	wantTransient["a"] = []byte{} // proto decodes an empty value as empty bytes
	if !maps.EqualFunc(payload.GetTransientMap(), wantTransient, bytes.Equal) {
		t.Errorf("transient map = %v, want %v", payload.GetTransientMap(), transient)
	}
	var cis peerpb.ChaincodeInvocationSpec
	unmarshalCanonical(t, payload.GetInput(), &cis)
	spec := cis.GetChaincodeSpec()
	noUnknownFields(t, spec, spec.GetChaincodeId(), spec.GetInput())
	if spec.GetType() != peerpb.ChaincodeSpec_GOLANG || spec.GetTimeout() != 0 {
		t.Errorf("chaincode spec type %v timeout %d", spec.GetType(), spec.GetTimeout())
	}
	if id := spec.GetChaincodeId(); id.GetName() != "assets" || id.GetPath() != "" || id.GetVersion() != "" {
		t.Errorf("spec chaincode id = %v", id)
	}
	in := spec.GetInput()
	want := [][]byte{[]byte("CreateAsset"), []byte("asset1"), []byte("blue"), {}}
	if !slices.EqualFunc(in.GetArgs(), want, bytes.Equal) || len(in.GetDecorations()) != 0 || in.GetIsInit() {
		t.Errorf("chaincode input = %v", in)
	}

	// Same inputs, same bytes: the transient map is encoded in key order.
	p2, err := gw.Network("mychannel").Contract("assets").NewProposal("CreateAsset", []string{"asset1", "blue", ""},
		WithTransient(transient))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p2.signed.GetProposalBytes(), sp.GetProposalBytes()) {
		t.Error("the same proposal encoded twice differs")
	}
}

func TestProposalNoncesAreFresh(t *testing.T) {
	ca := newTestCA(t, "ca")
	c := newTestClient(t, ca, "Org1MSP")
	gw, err := NewGateway(noConn{}, c.id, c.signer)
	if err != nil {
		t.Fatal(err)
	}
	contract := gw.Network("ch").Contract("cc")
	seen := map[string]bool{}
	for range 50 {
		p, err := contract.NewProposal("f", nil)
		if err != nil {
			t.Fatal(err)
		}
		var prop peerpb.Proposal
		var header commonpb.Header
		var sh commonpb.SignatureHeader
		if proto.Unmarshal(p.signed.GetProposalBytes(), &prop) != nil || proto.Unmarshal(prop.GetHeader(), &header) != nil ||
			proto.Unmarshal(header.GetSignatureHeader(), &sh) != nil {
			t.Fatal("undecodable proposal")
		}
		if len(sh.GetNonce()) != 24 {
			t.Fatalf("nonce of %d bytes, want 24", len(sh.GetNonce()))
		}
		if seen[p.TransactionID()] || len(p.TransactionID()) != 64 || strings.ToLower(p.TransactionID()) != p.TransactionID() {
			t.Fatalf("transaction id %q repeated or not 64 lowercase hex digits", p.TransactionID())
		}
		seen[p.TransactionID()] = true
	}
}

func TestProposalArguments(t *testing.T) {
	ca := newTestCA(t, "ca")
	c := newTestClient(t, ca, "Org1MSP")
	gw, err := NewGateway(noConn{}, c.id, c.signer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gw.Network("ch").Contract("cc").NewProposal("Put", nil, WithBytesArguments([]byte{0xff, 0}, []byte("k")))
	if err != nil {
		t.Fatal(err)
	}
	var prop peerpb.Proposal
	var payload peerpb.ChaincodeProposalPayload
	var cis peerpb.ChaincodeInvocationSpec
	if proto.Unmarshal(p.signed.GetProposalBytes(), &prop) != nil || proto.Unmarshal(prop.GetPayload(), &payload) != nil ||
		proto.Unmarshal(payload.GetInput(), &cis) != nil {
		t.Fatal("undecodable proposal")
	}
	want := [][]byte{[]byte("Put"), {0xff, 0}, []byte("k")}
	if got := cis.GetChaincodeSpec().GetInput().GetArgs(); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("args = %q, want %q", got, want)
	}

	for _, tc := range []struct {
		name              string
		channel, contract string
		fn                string
		args              []string
		opts              []ProposalOption
		want              string
	}{
		{"no channel", "", "cc", "f", nil, nil, "channel"},
		{"no contract", "ch", "", "f", nil, nil, "contract"},
		{"no function", "ch", "cc", "", nil, nil, "function"},
		{"both kinds of arguments", "ch", "cc", "f", []string{"a"}, []ProposalOption{WithBytesArguments([]byte("b"))}, "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gw.Network(tc.channel).Contract(tc.contract).NewProposal(tc.fn, tc.args, tc.opts...)
			if err == nil || !strings.HasPrefix(err.Error(), "client: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNewGatewayChecks(t *testing.T) {
	ca := newTestCA(t, "ca")
	c := newTestClient(t, ca, "Org1MSP")
	other := newTestClient(t, ca, "Org1MSP")
	if _, err := NewGateway(noConn{}, c.id, other.signer); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key: error %v", err)
	}
	// A signer without Public() cannot be checked and is trusted.
	if _, err := NewGateway(noConn{}, c.id, SignerFunc(other.signer.Sign)); err != nil {
		t.Fatalf("opaque signer: %v", err)
	}
	if _, err := NewGateway(nil, c.id, c.signer); err == nil {
		t.Fatal("nil connection accepted")
	}
	var nilConn *grpc.ClientConn
	if _, err := NewGateway(nilConn, c.id, c.signer); err == nil {
		t.Fatal("nil *grpc.ClientConn accepted")
	}
	if _, err := NewGateway(noConn{}, c.id, nil); err == nil {
		t.Fatal("nil signer accepted")
	}
	if _, err := NewGateway(noConn{}, Identity{MSPID: "Org1MSP"}, c.signer); err == nil {
		t.Fatal("identity without a certificate accepted")
	}
	if _, err := NewGateway(noConn{}, c.id, c.signer, WithDialOptions()); err == nil {
		t.Fatal("WithDialOptions accepted by NewGateway")
	}
	gw, err := NewGateway(noConn{}, c.id, c.signer)
	if err != nil {
		t.Fatal(err)
	}
	if gw.Identity().MSPID != "Org1MSP" || gw.DefaultChannel() != "" || gw.Close() != nil {
		t.Fatal("unexpected Identity, DefaultChannel or Close")
	}
	if n := gw.Network("ch"); n.Name() != "ch" || n.Contract("cc").Name() != "cc" {
		t.Fatal("unexpected names")
	}
}
