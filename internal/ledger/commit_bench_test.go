package ledger

import (
	"fmt"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/worldstate"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// BenchmarkCommitBlock500x2 measures a peer's whole commit of a
// 500-transaction block with 2 writes each, on disk: parse every
// transaction, MVCC-check its reads, collect the state updates, and append
// the block with its commit hash, state and history in one synced batch.
// Signature and policy checks are not included (they run before, in
// parallel).
func BenchmarkCommitBlock500x2(b *testing.B) {
	db, err := kv.Open(b.TempDir(), kv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := openLedger(b, db)
	defer l.Close()
	st, err := worldstate.New(testChannel)
	if err != nil {
		b.Fatal(err)
	}
	c := newChain(b, newTestSigner(b, "OrdererMSP"))
	if err := l.Append(c.genesis(), AppendOptions{FillCommitHash: true}); err != nil {
		b.Fatal(err)
	}
	seed := uint64(0)
	blocks := make([]*commonpb.Block, 0, b.N)
	for i := 0; i < b.N; i++ {
		envs := make([][]byte, 500)
		for j := range envs {
			seed++
			envs[j] = endorserTx(b, seed, []write{
				{ns: "assets", key: fmt.Sprintf("asset-%d-a", seed), value: make([]byte, 100)},
				{ns: "assets", key: fmt.Sprintf("asset-%d-b", seed), value: make([]byte, 100)},
			}, 0)
		}
		blk := NewBlock(uint64(i+1), nil, envs)
		blocks = append(blocks, blk)
	}
	b.ResetTimer()
	for _, blk := range blocks {
		info := l.Info()
		blk.Header.PreviousHash = info.CurrentBlockHash
		updates := st.NewBlockUpdates(blk.Header.Number)
		codes := make([]peerpb.TxValidationCode, len(blk.Data.Data))
		for j, raw := range blk.Data.Data {
			env, err := envelope.ParseEnvelope(raw)
			if err != nil {
				b.Fatal(err)
			}
			tx, err := envelope.ParseEndorserTransaction(env.Payload.Data)
			if err != nil {
				b.Fatal(err)
			}
			code, reason, err := st.CheckReads(db, updates, tx.NsRWSets)
			if err != nil || code != peerpb.TxValidationCode_VALID {
				b.Fatalf("tx %d: %v %s %v", j, code, reason, err)
			}
			if err := updates.Add(uint64(j), env.TxID(), env.ChannelHeader.Timestamp, tx.NsRWSets); err != nil {
				b.Fatal(err)
			}
			codes[j] = code
		}
		if err := SetTxFilter(blk, codes); err != nil {
			b.Fatal(err)
		}
		if err := l.Append(blk, AppendOptions{FillCommitHash: true, Writers: []BatchWriter{updates}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "tx/s")
}
