package envelope_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

func responsePayload(t testing.TB, value string) []byte {
	kv := mustMarshal(t, &kvrwsetpb.KVRWSet{
		Reads:  []*kvrwsetpb.KVRead{{Key: "asset1", Version: &kvrwsetpb.Version{BlockNum: 3}}},
		Writes: []*kvrwsetpb.KVWrite{{Key: "asset1", Value: []byte(value)}},
	})
	rws := mustMarshal(t, &rwsetpb.TxReadWriteSet{NsRwset: []*rwsetpb.NsReadWriteSet{{Namespace: "assets", Rwset: kv}}})
	ca := mustMarshal(t, &peerpb.ChaincodeAction{Results: rws, Response: &peerpb.Response{Status: 200, Payload: []byte("ok")}, ChaincodeId: &peerpb.ChaincodeID{Name: "assets", Version: "1"}})
	return mustMarshal(t, &peerpb.ProposalResponsePayload{ProposalHash: []byte("h"), Extension: ca})
}

func TestAssemblePayload(t *testing.T) {
	p := newTestProposal(t)
	prop, err := envelope.ParseProposal(p.signed)
	if err != nil {
		t.Fatal(err)
	}
	prp := responsePayload(t, "blue")
	res := func(endorser string) *peerpb.ProposalResponse {
		return &peerpb.ProposalResponse{Version: 1, Response: &peerpb.Response{Status: 200}, Payload: prp,
			Endorsement: &peerpb.Endorsement{Endorser: []byte(endorser), Signature: []byte("sig-" + endorser)}}
	}
	payload, err := envelope.AssemblePayload(prop, []*peerpb.ProposalResponse{res("peer0.org1"), res("peer0.org2"), res("peer0.org1")})
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.ParseEnvelopeMessage(&commonpb.Envelope{Payload: payload, Signature: []byte("client")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env.Payload.Header.ChannelHeader, p.chBytes) || !bytes.Equal(env.Payload.Header.SignatureHeader, p.shBytes) {
		t.Fatal("the transaction does not keep the proposal's header bytes")
	}
	tx, err := envelope.ParseEndorserTransaction(env.Payload.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(tx.Endorsements) != 2 {
		t.Fatalf("%d endorsements, want 2 distinct", len(tx.Endorsements))
	}
	if !bytes.Equal(tx.ResponsePayloadBytes, prp) || tx.ContractName() != "assets" {
		t.Fatal("the transaction does not carry the endorsed payload")
	}
	if bytes.Contains(payload, []byte("never on the ledger")) {
		t.Fatal("transient data reached the transaction")
	}

	other := res("peer0.org2")
	other.Payload = responsePayload(t, "red")
	_, err = envelope.AssemblePayload(prop, []*peerpb.ProposalResponse{res("peer0.org1"), other})
	if !errors.Is(err, envelope.ErrResponsesDiffer) || !strings.Contains(err.Error(), "assets/asset1 written differently") {
		t.Fatalf("differing endorsements: %v", err)
	}
}

// TestAssemblePayloadBytes: the payload is byte for byte the nesting of
// deterministic encodings a reader of the format expects, whatever the
// sizes of the levels and whatever an earlier call left in the pooled
// buffers: payloads of growing and shrinking sizes, one after the other.
func TestAssemblePayloadBytes(t *testing.T) {
	p := newTestProposal(t)
	prop, err := envelope.ParseProposal(p.signed)
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{0, 10, 100_000, 3, 70_000, 1, 5000} {
		prp := responsePayload(t, strings.Repeat("v", size))
		var responses []*peerpb.ProposalResponse
		var endorsements []*peerpb.Endorsement
		for j := range 1 + i%3 {
			e := &peerpb.Endorsement{Endorser: []byte{byte('a' + j)}, Signature: bytes.Repeat([]byte{byte(i)}, 70)}
			responses = append(responses, &peerpb.ProposalResponse{Payload: prp, Endorsement: e})
			endorsements = append(endorsements, e)
		}
		got, err := envelope.AssemblePayload(prop, responses)
		if err != nil {
			t.Fatal(err)
		}
		cpp := mustMarshal(t, &peerpb.ChaincodeProposalPayload{Input: prop.Payload.Input})
		action := mustMarshal(t, &peerpb.ChaincodeActionPayload{ChaincodeProposalPayload: cpp,
			Action: &peerpb.ChaincodeEndorsedAction{ProposalResponsePayload: prp, Endorsements: endorsements}})
		tx := mustMarshal(t, &peerpb.Transaction{Actions: []*peerpb.TransactionAction{{Header: p.shBytes, Payload: action}}})
		want := mustMarshal(t, &commonpb.Payload{Header: &commonpb.Header{ChannelHeader: p.chBytes, SignatureHeader: p.shBytes}, Data: tx})
		if !bytes.Equal(got, want) {
			t.Fatalf("call %d (response payload of %d bytes): %d bytes, want %d bytes as nested encodings give", i, len(prp), len(got), len(want))
		}
	}
}

// actionPayload is a proposal response payload whose contract read asset1
// at block readAt, wrote value and returned (status, payload).
func actionPayload(t *testing.T, readAt uint64, value string, status int32, payload string) []byte {
	kv := mustMarshal(t, &kvrwsetpb.KVRWSet{
		Reads:  []*kvrwsetpb.KVRead{{Key: "asset1", Version: &kvrwsetpb.Version{BlockNum: readAt}}},
		Writes: []*kvrwsetpb.KVWrite{{Key: "asset1", Value: []byte(value)}},
	})
	rws := mustMarshal(t, &rwsetpb.TxReadWriteSet{NsRwset: []*rwsetpb.NsReadWriteSet{{Namespace: "assets", Rwset: kv}}})
	ca := mustMarshal(t, &peerpb.ChaincodeAction{Results: rws, Response: &peerpb.Response{Status: status, Payload: []byte(payload)}})
	return mustMarshal(t, &peerpb.ProposalResponsePayload{ProposalHash: []byte("h"), Extension: ca})
}

func TestDescribeDifference(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []byte
		want string
	}{
		{"endorsers at different heights", actionPayload(t, 5, "v", 200, "Tom"), actionPayload(t, 6, "w", 200, "Ann"),
			"the contract returned different payloads (status 200); keys differ: assets/asset1 read at 5:0 vs 6:0; assets/asset1 written differently"},
		{"keys only", actionPayload(t, 5, "v", 200, "x"), actionPayload(t, 5, "w", 200, "x"),
			"keys differ: assets/asset1 written differently"},
		{"status", actionPayload(t, 5, "v", 200, "x"), actionPayload(t, 5, "v", 500, "x"),
			"the contract returned status 200 vs 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := envelope.DescribeDifference(tc.a, tc.b); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// BenchmarkAssemblePayload assembles a payload of the size the standard
// workload's transactions have (a response payload of about 1 KB, two
// endorsements with certificates of about 800 bytes).
func BenchmarkAssemblePayload(b *testing.B) {
	p := newTestProposal(b)
	prop, err := envelope.ParseProposal(p.signed)
	if err != nil {
		b.Fatal(err)
	}
	prp := responsePayload(b, strings.Repeat("v", 800))
	responses := []*peerpb.ProposalResponse{
		{Payload: prp, Endorsement: &peerpb.Endorsement{Endorser: bytes.Repeat([]byte{1}, 800), Signature: bytes.Repeat([]byte{2}, 71)}},
		{Payload: prp, Endorsement: &peerpb.Endorsement{Endorser: bytes.Repeat([]byte{3}, 800), Signature: bytes.Repeat([]byte{4}, 71)}},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := envelope.AssemblePayload(prop, responses); err != nil {
			b.Fatal(err)
		}
	}
}
