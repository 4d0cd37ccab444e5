package peer

import (
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// checkBlock is the only maker of the checkedBlock the committer takes,
// which lets the ledger skip its own data-hash check; its refusals before
// the signatures are checked are tested here (a refusal of the signatures
// by the BlockValidation policy runs in the network test
// TestE2EPeerValidation).
func TestCheckBlockRefusesBeforeSignatures(t *testing.T) {
	prev := []byte("hash of block 4")
	good := func() *commonpb.Block {
		return ledger.NewBlock(5, prev, [][]byte{[]byte("envelope 1"), []byte("envelope 2")})
	}
	cases := []struct {
		name   string
		block  func() *commonpb.Block
		substr string
	}{
		{"no header", func() *commonpb.Block { return &commonpb.Block{Data: good().Data} }, "without header or data"},
		{"no data", func() *commonpb.Block { return &commonpb.Block{Header: good().Header} }, "without header or data"},
		{"another number", func() *commonpb.Block { b := good(); b.Header.Number = 6; return b }, "block 6 received, 5 expected"},
		{"another previous block", func() *commonpb.Block { b := good(); b.Header.PreviousHash = []byte("x"); return b }, "does not link to block 4"},
		{"data changed after hashing", func() *commonpb.Block {
			b := good()
			b.Data.Data[1] = []byte("envelope 3")
			return b
		}, "data hash does not match its transactions"},
		{"data reordered", func() *commonpb.Block {
			b := good()
			b.Data.Data[0], b.Data.Data[1] = b.Data.Data[1], b.Data.Data[0]
			return b
		}, "data hash does not match its transactions"},
	}
	c := &channel{}
	for _, tc := range cases {
		checked, err := c.checkBlock(tc.block(), 5, prev)
		if err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.substr)
		}
		if checked.block != nil {
			t.Errorf("%s: a refused block came back checked", tc.name)
		}
	}
}
