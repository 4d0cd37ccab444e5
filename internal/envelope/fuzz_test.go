package envelope_test

import (
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/protobuf/proto"
)

// seedWithFabricEnvelopes adds every transaction of the real Fabric blocks
// to the corpus, and the payload data of each.
func seedWithFabricEnvelopes(f *testing.F, payloadData bool) {
	blocks, _ := loadFabricBlocks(f)
	for _, b := range blocks {
		for _, raw := range b.Data.Data {
			if !payloadData {
				f.Add(raw)
				continue
			}
			env, err := envelope.ParseEnvelope(raw)
			if err == nil {
				f.Add(env.Payload.Data)
			}
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	seedWithFabricEnvelopes(f, false)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := envelope.ParseEnvelope(raw)
		if err != nil {
			if envelope.CodeOf(err) == peerpb.TxValidationCode_VALID {
				t.Fatalf("a parse error carries code VALID: %v", err)
			}
			return
		}
		if env.ChannelHeader == nil || env.SignatureHeader == nil || env.Creator == nil {
			t.Fatal("parsed envelope lacks a header")
		}
	})
}

func FuzzParseEndorserTransaction(f *testing.F) {
	seedWithFabricEnvelopes(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := envelope.ParseEndorserTransaction(data)
		if err != nil {
			return
		}
		if tx.Action == nil || tx.RWSet == nil || len(tx.NsRWSets) != len(tx.RWSet.NsRwset) {
			t.Fatal("parsed transaction is incomplete")
		}
		_ = tx.ContractName()
	})
}

func FuzzParseProposal(f *testing.F) {
	p := newTestProposal(f)
	good, _ := proto.Marshal(p.signed)
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		sp := &peerpb.SignedProposal{}
		if proto.Unmarshal(raw, sp) != nil {
			return
		}
		prop, err := envelope.ParseProposal(sp)
		if err != nil {
			return
		}
		if prop.ContractName() == "" || len(prop.Args()) == 0 || prop.ChannelID() == "" {
			t.Fatal("accepted a proposal without contract, function or channel")
		}
		if prop.ChannelHeader.Type != int32(commonpb.HeaderType_ENDORSER_TRANSACTION) {
			t.Fatal("accepted a proposal of another type")
		}
		if _, err := prop.Hash(); err != nil {
			t.Fatal(err)
		}
	})
}
