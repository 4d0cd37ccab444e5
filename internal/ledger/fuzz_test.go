package ledger

import (
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// FuzzVerifyStoredBlock stores arbitrary bytes as the last block of a good
// chain and verifies the chain, and runs every block-level function on
// whatever the bytes decode to. Nothing may panic, and a chain that
// verifies must have a last block that decodes with the stored number.
func FuzzVerifyStoredBlock(f *testing.F) {
	db := openMemDB(f, kv.NewCrashableMemFS())
	f.Cleanup(func() { db.Close() })
	l := openLedger(f, db)
	c := newChain(f, newTestSigner(f, "OrdererMSP"))
	buildLedger(f, l, c, 2, 3)
	good, err := l.BlockBytes(2)
	if err != nil {
		f.Fatal(err)
	}
	prefix := make([]*commonpb.Block, 2)
	for i := range prefix {
		prefix[i], _ = l.Block(uint64(i))
	}
	f.Add(good)
	_, raws := loadFabricBlocks(f)
	for _, r := range raws {
		f.Add(r)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x02, 0x12, 0x00, 0x1a, 0x00})
	key := newKeys(testChannel).block(2)

	f.Fuzz(func(t *testing.T, raw []byte) {
		b := db.NewBatch()
		b.Set(key, raw)
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		_, verr := Verify(db, testChannel, verifyAll)
		blk, derr := UnmarshalBlock(raw)
		if verr == nil && (derr != nil || blk.Header.Number != 2) {
			t.Fatalf("a chain whose last block does not decode as block 2 verified (%v)", derr)
		}
		if derr != nil {
			return
		}
		_, _ = VerifyBlocks(append(prefix[:2:2], blk), verifyAll)
		_, _ = VerifyBlocks([]*commonpb.Block{blk}, VerifyOptions{Verifier: x509Verifier})
		_ = VerifyBlockSignatures(blk, x509Verifier, 1)
		_, _ = ConsenterMetadata(blk)
		_, _ = CommitHash(nil, blk)
		_, _ = BlockCommitHash(blk)
		_ = HeaderHash(blk.Header)
		data := blk.GetData().GetData()
		if len(data) > 0 {
			root := MerkleRoot(data)
			proof, err := MerkleProof(data, len(data)-1)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyMerkleProof(root, data[len(data)-1], uint64(len(data)-1), uint64(len(data)), proof); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzVerifyMerkleProof feeds arbitrary proofs to the verifier.
func FuzzVerifyMerkleProof(f *testing.F) {
	data := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")}
	root := MerkleRoot(data)
	proof, _ := MerkleProof(data, 3)
	var flat []byte
	for _, p := range proof {
		flat = append(flat, p...)
	}
	f.Add(uint64(3), uint64(5), flat, []byte("d"))
	f.Add(uint64(0), uint64(0), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, index, size uint64, flat, leaf []byte) {
		var p [][]byte
		for len(flat) >= 32 {
			p = append(p, flat[:32])
			flat = flat[32:]
		}
		if len(flat) > 0 {
			p = append(p, flat)
		}
		if VerifyMerkleProof(root, leaf, index, size, p) != nil {
			return
		}
		// Another (index, size) can share a path (see the doc), but only
		// a leaf of the tree can be proved.
		for _, d := range data {
			if string(d) == string(leaf) {
				return
			}
		}
		t.Fatalf("leaf %q, not in the tree, proved at %d of %d", leaf, index, size)
	})
}
