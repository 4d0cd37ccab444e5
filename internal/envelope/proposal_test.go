package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// testProposal builds a proposal the way Fabric's clients do, with hooks
// to break each part.
type testProposal struct {
	ch      *commonpb.ChannelHeader
	sh      *commonpb.SignatureHeader
	cpp     *peerpb.ChaincodeProposalPayload
	signed  *peerpb.SignedProposal
	chBytes []byte
	shBytes []byte
}

func newTestProposal(t testing.TB, mutate ...func(*testProposal)) *testProposal {
	t.Helper()
	creator := mustMarshal(t, &msppb.SerializedIdentity{Mspid: "Org1MSP", IdBytes: []byte("-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n")})
	nonce := bytes.Repeat([]byte{7}, 24)
	p := &testProposal{
		ch: &commonpb.ChannelHeader{
			Type:      int32(commonpb.HeaderType_ENDORSER_TRANSACTION),
			Timestamp: timestamppb.Now(),
			ChannelId: "mychannel",
			TxId:      envelope.TxID(nonce, creator),
			Extension: mustMarshal(t, &peerpb.ChaincodeHeaderExtension{ChaincodeId: &peerpb.ChaincodeID{Name: "assets"}}),
		},
		sh: &commonpb.SignatureHeader{Creator: creator, Nonce: nonce},
		cpp: &peerpb.ChaincodeProposalPayload{
			Input: mustMarshal(t, &peerpb.ChaincodeInvocationSpec{ChaincodeSpec: &peerpb.ChaincodeSpec{
				Type:        peerpb.ChaincodeSpec_NODE,
				ChaincodeId: &peerpb.ChaincodeID{Name: "assets"},
				Input:       &peerpb.ChaincodeInput{Args: [][]byte{[]byte("ReadAsset"), []byte("asset1")}},
			}}),
			TransientMap: map[string][]byte{"secret": []byte("never on the ledger")},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	p.chBytes = mustMarshal(t, p.ch)
	p.shBytes = mustMarshal(t, p.sh)
	prop := &peerpb.Proposal{
		Header:  mustMarshal(t, &commonpb.Header{ChannelHeader: p.chBytes, SignatureHeader: p.shBytes}),
		Payload: mustMarshal(t, p.cpp),
	}
	p.signed = &peerpb.SignedProposal{ProposalBytes: mustMarshal(t, prop), Signature: []byte("sig")}
	return p
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := envelope.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseProposal(t *testing.T) {
	p := newTestProposal(t)
	got, err := envelope.ParseProposal(p.signed)
	if err != nil {
		t.Fatal(err)
	}
	if got.ChannelID() != "mychannel" || got.ContractName() != "assets" || got.TxID() != p.ch.TxId {
		t.Fatalf("parsed %q %q %q", got.ChannelID(), got.ContractName(), got.TxID())
	}
	if string(got.Args()[0]) != "ReadAsset" || string(got.Args()[1]) != "asset1" {
		t.Fatalf("args %q", got.Args())
	}
	// The proposal hash covers the header bytes as sent and the payload
	// without its transient map.
	withoutTransient := mustMarshal(t, &peerpb.ChaincodeProposalPayload{Input: p.cpp.Input})
	want := sha256.Sum256(append(append(append([]byte{}, p.chBytes...), p.shBytes...), withoutTransient...))
	h, err := got.Hash()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h, want[:]) {
		t.Fatalf("proposal hash %x, want %x", h, want)
	}
	pl, _ := got.PayloadWithoutTransient()
	if bytes.Contains(pl, []byte("never on the ledger")) {
		t.Fatal("transient data leaked into the payload")
	}
}

func TestParseProposalRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*testProposal)
		code   peerpb.TxValidationCode
		text   string
	}{
		{"wrong type", func(p *testProposal) { p.ch.Type = int32(commonpb.HeaderType_CONFIG) }, peerpb.TxValidationCode_UNSUPPORTED_TX_PAYLOAD, "want ENDORSER_TRANSACTION"},
		{"no channel", func(p *testProposal) { p.ch.ChannelId = "" }, peerpb.TxValidationCode_BAD_CHANNEL_HEADER, "no channel id"},
		{"epoch", func(p *testProposal) { p.ch.Epoch = 3 }, peerpb.TxValidationCode_BAD_CHANNEL_HEADER, "epoch is 3"},
		{"bad txid", func(p *testProposal) { p.ch.TxId = "abc" }, peerpb.TxValidationCode_BAD_PROPOSAL_TXID, "is not hex(SHA-256"},
		{"no nonce", func(p *testProposal) { p.sh.Nonce = nil }, peerpb.TxValidationCode_BAD_COMMON_HEADER, "no nonce"},
		{"no creator", func(p *testProposal) { p.sh.Creator = nil }, peerpb.TxValidationCode_BAD_COMMON_HEADER, "no creator"},
		{"no extension contract", func(p *testProposal) { p.ch.Extension = nil }, peerpb.TxValidationCode_BAD_HEADER_EXTENSION, "names no contract"},
		{"garbage extension", func(p *testProposal) { p.ch.Extension = []byte{0xff, 0xff} }, peerpb.TxValidationCode_BAD_HEADER_EXTENSION, "decode chaincode header extension"},
		{"no function", func(p *testProposal) {
			p.cpp.Input = mustMarshal(t, &peerpb.ChaincodeInvocationSpec{ChaincodeSpec: &peerpb.ChaincodeSpec{ChaincodeId: &peerpb.ChaincodeID{Name: "assets"}}})
		}, peerpb.TxValidationCode_BAD_PAYLOAD, "names no function"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newTestProposal(t, c.mutate)
			_, err := envelope.ParseProposal(p.signed)
			if err == nil {
				t.Fatal("accepted")
			}
			if envelope.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("got %v (%v), want code %v and %q", err, envelope.CodeOf(err), c.code, c.text)
			}
		})
	}
	if _, err := envelope.ParseProposal(nil); err == nil || !strings.Contains(err.Error(), "a signed proposal is required") {
		t.Fatalf("nil proposal: %v", err)
	}
}
