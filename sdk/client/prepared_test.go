package client

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testHeader(t *testing.T, channel, txID string) []byte {
	t.Helper()
	return mustMarshal(t, &commonpb.Header{
		ChannelHeader:   mustMarshal(t, &commonpb.ChannelHeader{Type: 3, ChannelId: channel, TxId: txID}),
		SignatureHeader: mustMarshal(t, &commonpb.SignatureHeader{Creator: []byte("creator"), Nonce: []byte("nonce")}),
	})
}

func TestParsePreparedTransaction(t *testing.T) {
	result := []byte(`{"ID":"asset1","Color":"blue"}`)
	payload, err := preparedPayload(testHeader(t, "mychannel", "tx1"), "assets",
		&peerpb.Response{Status: 200, Message: "OK", Payload: result})
	if err != nil {
		t.Fatal(err)
	}
	got, err := parsePreparedTransaction(payload)
	if err != nil {
		t.Fatal(err)
	}
	if got.channel != "mychannel" || got.txID != "tx1" || !bytes.Equal(got.result, result) {
		t.Fatalf("parsed %+v", got)
	}

	// An empty result is a result.
	payload, err = preparedPayload(testHeader(t, "mychannel", "tx1"), "assets", &peerpb.Response{Status: 200})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parsePreparedTransaction(payload); err != nil || len(got.result) != 0 {
		t.Fatalf("empty result: %+v, %v", got, err)
	}
}

func TestParsePreparedTransactionMalformed(t *testing.T) {
	header := &commonpb.Header{
		ChannelHeader:   mustMarshal(t, &commonpb.ChannelHeader{Type: 3, ChannelId: "ch", TxId: "tx"}),
		SignatureHeader: []byte("sh"),
	}
	payloadWith := func(data []byte) []byte { return mustMarshal(t, &commonpb.Payload{Header: header, Data: data}) }
	txWith := func(actionPayload []byte) []byte {
		return mustMarshal(t, &peerpb.Transaction{Actions: []*peerpb.TransactionAction{{Header: []byte("sh"), Payload: actionPayload}}})
	}
	capWith := func(prp []byte) []byte {
		return mustMarshal(t, &peerpb.ChaincodeActionPayload{Action: &peerpb.ChaincodeEndorsedAction{ProposalResponsePayload: prp}})
	}
	prpWith := func(action []byte) []byte {
		return mustMarshal(t, &peerpb.ProposalResponsePayload{Extension: action})
	}
	notProto := []byte{0xff, 0xff, 0xff}

	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"not a payload", notProto, "payload"},
		{"no header", mustMarshal(t, &commonpb.Payload{Data: []byte("x")}), "no header"},
		{"bad channel header", mustMarshal(t, &commonpb.Payload{Header: &commonpb.Header{ChannelHeader: notProto}}), "channel header"},
		{"no channel", mustMarshal(t, &commonpb.Payload{Header: &commonpb.Header{ChannelHeader: mustMarshal(t, &commonpb.ChannelHeader{TxId: "tx"})}}), "no channel id"},
		{"bad transaction", payloadWith(notProto), "transaction"},
		{"no actions", payloadWith(mustMarshal(t, &peerpb.Transaction{})), "no actions"},
		{"bad action payload", payloadWith(txWith(notProto)), "chaincode action payload"},
		{"no endorsed action", payloadWith(txWith(mustMarshal(t, &peerpb.ChaincodeActionPayload{ChaincodeProposalPayload: []byte("p")}))), "no endorsed action"},
		{"bad response payload", payloadWith(txWith(capWith(notProto))), "proposal response payload"},
		{"bad chaincode action", payloadWith(txWith(capWith(prpWith(notProto)))), "chaincode action"},
		{"no response", payloadWith(txWith(capWith(prpWith(mustMarshal(t, &peerpb.ChaincodeAction{Results: []byte("rw")}))))), "no proposal response found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePreparedTransaction(tc.payload)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzParsePreparedTransaction checks that no payload a Gateway could send
// makes the parser panic.
func FuzzParsePreparedTransaction(f *testing.F) {
	header := mustMarshalErr(&commonpb.Header{
		ChannelHeader:   mustMarshalErr(&commonpb.ChannelHeader{Type: 3, ChannelId: "ch", TxId: "tx"}),
		SignatureHeader: mustMarshalErr(&commonpb.SignatureHeader{Creator: []byte("c"), Nonce: []byte("n")}),
	})
	good, err := preparedPayload(header, "cc", &peerpb.Response{Status: 200, Payload: []byte("r")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := parsePreparedTransaction(payload)
		if err == nil && got.channel == "" {
			t.Fatal("parsed a prepared transaction without a channel")
		}
	})
}
