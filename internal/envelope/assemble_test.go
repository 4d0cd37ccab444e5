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

func responsePayload(t *testing.T, value string) []byte {
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
