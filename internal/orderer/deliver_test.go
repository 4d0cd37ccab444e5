package orderer

import (
	"bytes"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/ledger"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"google.golang.org/protobuf/proto"
)

// TestBlockResponseWire checks that a DeliverResponse built from a stored
// block's bytes goes on the wire exactly as one holding the decoded block,
// and decodes back to that block.
func TestBlockResponseWire(t *testing.T) {
	envs := [][]byte{[]byte("tx0"), bytes.Repeat([]byte("x"), 300), {}}
	b := ledger.NewBlock(7, bytes.Repeat([]byte{1}, 32), envs)
	b.Metadata.Metadata[2] = []byte{0, 0, 0}
	raw, err := envelope.Marshal(b) // as the ledger stores it
	if err != nil {
		t.Fatal(err)
	}
	buf := append(make([]byte, ledger.BlockHeadroom), raw...)
	got, err := proto.MarshalOptions{Deterministic: true}.Marshal(blockResponse(buf))
	if err != nil {
		t.Fatal(err)
	}
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Block{Block: b}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("on the wire:\n got %x\nwant %x", got, want)
	}
	var back ordererpb.DeliverResponse
	if err := proto.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back.GetBlock(), b) {
		t.Fatalf("decodes to %v, want %v", back.GetBlock(), b)
	}
	// Empty blocks too.
	empty := make([]byte, ledger.BlockHeadroom)
	if got, _ := proto.Marshal(blockResponse(empty)); len(got) != 2 || got[0] != 0x12 || got[1] != 0 {
		t.Fatalf("an empty block: %x", got)
	}
}
