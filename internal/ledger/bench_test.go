package ledger

import (
	"crypto/rand"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

func randomTxs(b *testing.B, n, size int) [][]byte {
	data := make([][]byte, n)
	for i := range data {
		data[i] = make([]byte, size)
		if _, err := rand.Read(data[i]); err != nil {
			b.Fatal(err)
		}
	}
	return data
}

// BenchmarkMerkleRoot500: the Merkle root of a block of 500 transactions
// of 3 KB, as an orderer computes it when signing.
func BenchmarkMerkleRoot500(b *testing.B) {
	data := randomTxs(b, 500, 3000)
	b.SetBytes(500 * 3000)
	for b.Loop() {
		MerkleRoot(data)
	}
}

// BenchmarkAppend500 appends blocks of 500 endorser transactions (~3 KB
// each, fresh ids) to a ledger on disk, each in one synced batch, without
// world state. "orderer" stores the block as given; "peer" also computes
// the commit hash (decoding every transaction's read/write set).
func BenchmarkAppend500(b *testing.B) {
	for _, mode := range []struct {
		name string
		peer bool
	}{{"orderer", false}, {"peer", true}} {
		b.Run(mode.name, func(b *testing.B) {
			db, err := kv.Open(b.TempDir(), kv.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			l := openLedger(b, db)
			c := newChain(b, newTestSigner(b, "OrdererMSP"))
			if err := l.Append(c.genesis(), AppendOptions{FillCommitHash: mode.peer}); err != nil {
				b.Fatal(err)
			}
			var size int64
			for b.Loop() {
				b.StopTimer()
				envs := c.txs(500, 2800)
				blk := NewBlock(c.num, c.prev, envs)
				if mode.peer {
					_ = SetTxFilter(blk, make([]peerpb.TxValidationCode, len(envs)))
				}
				c.advance(blk)
				size = 0
				for _, e := range envs {
					size += int64(len(e))
				}
				b.StartTimer()
				if err := l.Append(blk, AppendOptions{FillCommitHash: mode.peer}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
		})
	}
}

// BenchmarkHeaderHash: the block hash, DER encoding included.
func BenchmarkHeaderHash(b *testing.B) {
	h := &commonpb.BlockHeader{Number: 1_234_567, PreviousHash: make([]byte, 32), DataHash: make([]byte, 32)}
	for b.Loop() {
		HeaderHash(h)
	}
}

// BenchmarkHeaderBytesASN1 is encoding/asn1 doing what HeaderBytes does,
// for comparison.
func BenchmarkHeaderBytesASN1(b *testing.B) {
	h := &commonpb.BlockHeader{Number: 1_234_567, PreviousHash: make([]byte, 32), DataHash: make([]byte, 32)}
	for b.Loop() {
		_, _ = asn1.Marshal(struct {
			Number       *big.Int
			PreviousHash []byte
			DataHash     []byte
		}{new(big.Int).SetUint64(h.Number), h.PreviousHash, h.DataHash})
	}
}

// BenchmarkCommitHash500: a peer's commit hash of a 500-transaction block.
func BenchmarkCommitHash500(b *testing.B) {
	c := newChain(b, newTestSigner(b, "OrdererMSP"))
	envs := c.txs(500, 2800)
	blk := NewBlock(1, nil, envs)
	_ = SetTxFilter(blk, make([]peerpb.TxValidationCode, len(envs)))
	for b.Loop() {
		if _, err := CommitHash(nil, blk); err != nil {
			b.Fatal(err)
		}
	}
}
