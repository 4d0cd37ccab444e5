package ledger

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// asn1HeaderOracle encodes a header the way Fabric does, through
// encoding/asn1 and a big.Int; HeaderBytes hand-rolls the same DER.
func asn1HeaderOracle(t *testing.T, h *commonpb.BlockHeader) []byte {
	t.Helper()
	der, err := asn1.Marshal(struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}{new(big.Int).SetUint64(h.Number), h.PreviousHash, h.DataHash})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestHeaderBytesMatchesASN1(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	numbers := []uint64{0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 1 << 31, 1<<32 - 1, 1 << 55, 1<<63 - 1, 1 << 63, math.MaxUint64}
	for i := 0; i < 50; i++ {
		numbers = append(numbers, rng.Uint64()>>rng.IntN(64))
	}
	lengths := []int{0, 1, 32, 127, 128, 255, 256, 65535, 65536, 70000}
	for _, n := range numbers {
		for _, pl := range lengths {
			for _, dl := range []int{0, 32, 200} {
				h := &commonpb.BlockHeader{Number: n, DataHash: bytes.Repeat([]byte{0xab}, dl)}
				if pl > 0 {
					h.PreviousHash = bytes.Repeat([]byte{0xcd}, pl)
				}
				if got, want := HeaderBytes(h), asn1HeaderOracle(t, h); !bytes.Equal(got, want) {
					t.Fatalf("number %d, previous hash %d bytes, data hash %d bytes:\n got %x\nwant %x", n, pl, dl, got[:min(len(got), 40)], want[:min(len(want), 40)])
				}
			}
		}
	}
	if got, want := HeaderBytes(nil), asn1HeaderOracle(t, &commonpb.BlockHeader{}); !bytes.Equal(got, want) {
		t.Fatalf("nil header: %x, want %x", got, want)
	}
}

// TestFabricBlocksHashChain checks Fabric's block rules against blocks
// Fabric wrote: every data hash and every previous-hash link.
func TestFabricBlocksHashChain(t *testing.T) {
	blocks, _ := loadFabricBlocks(t)
	for i, b := range blocks {
		if got := DataHash(b.Data.Data); !bytes.Equal(got, b.Header.DataHash) {
			t.Errorf("block %d: data hash %x, header says %x", i, got, b.Header.DataHash)
		}
		if i > 0 {
			if got := HeaderHash(blocks[i-1].Header); !bytes.Equal(got, b.Header.PreviousHash) {
				t.Errorf("block %d: previous block hashes to %x, header links %x", i, got, b.Header.PreviousHash)
			}
		}
	}
	// One figure by hand, so a shared mistake cannot hide: block 1's
	// previous hash from facts.json.
	if got := hex.EncodeToString(HeaderHash(blocks[0].Header)); got != "580c08c8d067dd07eb97f039203818d2030c5a8f3fb0373cb4dc53ed2c62d38d" {
		t.Errorf("genesis hash %s", got)
	}
}

// TestFabricBlocksVerify runs VerifyBlocks over the real Fabric blocks:
// the hash chain, data hashes and the orderer's signature on blocks 1-5
// verify. They carry no Chorus Merkle root (their consenter metadata is
// etcdraft's), and their commit hashes follow Fabric's definition, not
// ours, so commit hashes must be skipped; checked, they fail at block 1.
func TestFabricBlocksVerify(t *testing.T) {
	blocks, _ := loadFabricBlocks(t)
	rep, err := VerifyBlocks(blocks, VerifyOptions{Verifier: x509Verifier, MinSignatures: 1, SkipCommitHashes: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blocks != 6 || rep.Transactions != 7 || rep.Valid != 7 || rep.SignaturesChecked != 5 || rep.MerkleRootsChecked != 0 || rep.CommitHashesChecked != 0 || rep.Height != 6 {
		t.Fatalf("report %+v", rep)
	}
	for i := 1; i < len(blocks); i++ {
		if err := VerifyBlockSignatures(blocks[i], x509Verifier, 1); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
		if cm, err := ConsenterMetadata(blocks[i]); cm != nil || err != nil {
			t.Errorf("block %d: Fabric's consenter metadata taken for Chorus's: %v %v", i, cm, err)
		}
	}
	if err := VerifyBlockSignatures(blocks[0], x509Verifier, 1); !errors.Is(err, ErrTooFewSignatures) {
		t.Errorf("genesis block: %v", err)
	}

	_, err = VerifyBlocks(blocks, VerifyOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Block != 1 || ve.Check != CheckCommitHash {
		t.Fatalf("Fabric's commit hash checked as Chorus's: %v", err)
	}
	t.Logf("as expected, with commit hashes checked: %v", err)

	// A block header changed after signing fails its signature.
	tampered := &commonpb.Block{Header: &commonpb.BlockHeader{Number: 3, PreviousHash: blocks[3].Header.PreviousHash, DataHash: bytes.Clone(blocks[3].Header.DataHash)}, Data: blocks[3].Data, Metadata: blocks[3].Metadata}
	tampered.Header.DataHash[0] ^= 1
	var se *SignatureError
	if err := VerifyBlockSignatures(tampered, x509Verifier, 1); !errors.As(err, &se) || se.Index != 0 || se.Signer != "OrdererMSP" {
		t.Fatalf("tampered header: %v", err)
	}
}

// TestFabricBlocksInLedger stores the Fabric blocks as an orderer would
// (no commit hash filled) and reads them back byte for byte.
func TestFabricBlocksInLedger(t *testing.T) {
	blocks, raws := loadFabricBlocks(t)
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	for _, b := range blocks {
		if err := l.Append(b, AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, raw := range raws {
		got, err := l.BlockBytes(uint64(i))
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("block %d not stored byte for byte: %v", i, err)
		}
	}
	rep, err := l.Verify(VerifyOptions{Verifier: x509Verifier, SkipCommitHashes: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.IndexesChecked || rep.Blocks != 6 {
		t.Fatalf("report %+v", rep)
	}
	id := txIDOf(blocks[5].Data.Data[1])
	rec, err := l.TxByID(id)
	if err != nil || rec.BlockNumber != 5 || rec.TxNumber != 1 || rec.ValidationCode != int32(peerpb.TxValidationCode_VALID) {
		t.Fatalf("TxByID(%s) = %v, %v", id, rec, err)
	}
	info := l.Info()
	ch, _ := BlockCommitHash(blocks[5])
	if !bytes.Equal(info.CommitHash, ch) || !bytes.Equal(info.CurrentBlockHash, HeaderHash(blocks[5].Header)) || !bytes.Equal(info.PreviousBlockHash, blocks[5].Header.PreviousHash) {
		t.Fatalf("info %+v", info)
	}
}

func TestTxFilterAndCommitHashSlots(t *testing.T) {
	b := &commonpb.Block{Header: &commonpb.BlockHeader{}}
	if err := SetTxFilter(b, []peerpb.TxValidationCode{0, peerpb.TxValidationCode_MVCC_READ_CONFLICT}); err != nil {
		t.Fatal(err)
	}
	if len(b.Metadata.Metadata) != 5 || !bytes.Equal(TxFilter(b), []byte{0, 11}) {
		t.Fatalf("metadata %x", b.Metadata.Metadata)
	}
	if err := SetTxFilter(b, []peerpb.TxValidationCode{256}); err == nil {
		t.Fatal("a code above 255 was accepted")
	}
	if h, err := BlockCommitHash(b); h != nil || err != nil {
		t.Fatalf("empty commit hash slot: %x %v", h, err)
	}
	b.Metadata.Metadata[4] = []byte{0xff}
	if _, err := BlockCommitHash(b); err == nil {
		t.Fatal("garbage in the commit hash slot decoded")
	}
}
