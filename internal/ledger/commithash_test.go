package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// oracleCommitHash spells the definition out from the writes themselves,
// building the whole preimage before hashing.
func oracleCommitHash(prev []byte, number uint64, filter []byte, validWrites []write) []byte {
	lp := func(b []byte) []byte { return append(binary.BigEndian.AppendUint64(nil, uint64(len(b))), b...) }
	var w []byte
	for _, x := range validWrites {
		w = append(w, lp([]byte(x.ns))...)
		w = append(w, lp([]byte(x.key))...)
		if x.del {
			w = append(w, 1)
		} else {
			w = append(w, 0)
		}
		w = append(w, lp(x.value)...)
	}
	wh := sha256.Sum256(w)
	pre := append(bytes.Clone(prev), binary.BigEndian.AppendUint64(nil, number)...)
	pre = append(pre, filter...)
	pre = append(pre, wh[:]...)
	s := sha256.Sum256(pre)
	return s[:]
}

func TestCommitHashDefinition(t *testing.T) {
	tx1 := []write{{"assets", "a1", []byte("v1"), false}, {"lscc", "x", []byte{}, false}, {"assets", "a2", nil, true}}
	tx2 := []write{{"assets", "a3", []byte("invalid, ignored"), false}}
	tx3 := []write{{"token", "t", bytes.Repeat([]byte{7}, 300), false}}
	envs := [][]byte{endorserTx(t, 1, tx1, 0), endorserTx(t, 2, tx2, 0), configTx(t, 3), endorserTx(t, 4, tx3, 0)}
	b := NewBlock(9, []byte("prev"), envs)
	codes := []peerpb.TxValidationCode{0, peerpb.TxValidationCode_MVCC_READ_CONFLICT, 0, 0}
	if err := SetTxFilter(b, codes); err != nil {
		t.Fatal(err)
	}
	prev := bytes.Repeat([]byte{0x42}, 32)
	got, err := CommitHash(prev, b)
	if err != nil {
		t.Fatal(err)
	}
	// tx1's namespaces come in rwset order: assets (a1, a2), then lscc.
	valid := []write{tx1[0], tx1[2], tx1[1], tx3[0]}
	if want := oracleCommitHash(prev, 9, TxFilter(b), valid); !bytes.Equal(got, want) {
		t.Fatalf("commit hash %x, definition gives %x", got, want)
	}
	// The first block of a chain has no previous commit hash.
	first, _ := CommitHash(nil, b)
	if want := oracleCommitHash(nil, 9, TxFilter(b), valid); !bytes.Equal(first, want) {
		t.Fatalf("first commit hash %x, want %x", first, want)
	}
	// Invalid transactions contribute their filter byte only: their writes
	// may change freely.
	envs2 := [][]byte{envs[0], endorserTx(t, 2, []write{{"assets", "other", []byte("zzz"), false}}, 10), envs[2], envs[3]}
	b2 := NewBlock(9, []byte("prev"), envs2)
	_ = SetTxFilter(b2, codes)
	if again, _ := CommitHash(prev, b2); !bytes.Equal(again, got) {
		t.Fatal("an invalid transaction's writes changed the commit hash")
	}
	// Marking tx2 valid changes it.
	_ = SetTxFilter(b, []peerpb.TxValidationCode{0, 0, 0, 0})
	if other, _ := CommitHash(prev, b); bytes.Equal(other, got) {
		t.Fatal("the filter is not in the commit hash")
	}
}

func TestCommitHashErrors(t *testing.T) {
	b := NewBlock(1, nil, [][]byte{endorserTx(t, 1, nil, 0)})
	if _, err := CommitHash(nil, b); err == nil {
		t.Fatal("commit hash without a transaction filter")
	}
	b = NewBlock(1, nil, [][]byte{[]byte("not an envelope")})
	_ = SetTxFilter(b, []peerpb.TxValidationCode{0})
	if _, err := CommitHash(nil, b); err == nil {
		t.Fatal("a VALID transaction that does not decode was hashed")
	}
	_ = SetTxFilter(b, []peerpb.TxValidationCode{peerpb.TxValidationCode_BAD_PAYLOAD})
	if _, err := CommitHash(nil, b); err != nil {
		t.Fatalf("an invalid undecodable transaction must contribute nothing: %v", err)
	}
	if _, err := CommitHash(nil, &commonpb.Block{}); err == nil {
		t.Fatal("a block without header")
	}
}

// TestAppendWithWritesHash appends the same blocks to two ledgers, one
// computing the writes hash itself and one given it as a validator would
// (WritesHash fed each valid transaction's read/write sets): the commit
// hashes are equal, and a writes hash of the wrong size is refused.
func TestAppendWithWritesHash(t *testing.T) {
	la := openLedger(t, openMemDB(t, kv.NewCrashableMemFS()))
	lb := openLedger(t, openMemDB(t, kv.NewCrashableMemFS()))
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	genesis := c.genesis()
	peerAppend(t, la, genesis)
	peerAppend(t, lb, cloneForAppend(genesis))
	for range 3 {
		envs := c.txs(4, 0)
		codes := []peerpb.TxValidationCode{peerpb.TxValidationCode_VALID, peerpb.TxValidationCode_MVCC_READ_CONFLICT, peerpb.TxValidationCode_VALID, peerpb.TxValidationCode_VALID}
		b := c.next(envs, codes)
		var wh WritesHash
		for i, env := range envs {
			if codes[i] != peerpb.TxValidationCode_VALID {
				continue
			}
			e, err := envelope.ParseEnvelope(env)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := envelope.ParseEndorserTransaction(e.Payload.Data)
			if err != nil {
				t.Fatal(err)
			}
			wh.Add(tx.NsRWSets)
		}
		peerAppend(t, la, b)
		if err := lb.Append(cloneForAppend(b), AppendOptions{FillCommitHash: true, WritesHash: wh.Sum()}); err != nil {
			t.Fatal(err)
		}
		if a, b := la.Info().CommitHash, lb.Info().CommitHash; !bytes.Equal(a, b) {
			t.Fatalf("commit hash %x computed, %x from the given writes hash", a, b)
		}
	}
	if _, err := lb.Verify(verifyAll); err != nil {
		t.Fatal(err)
	}
	err := lb.Append(c.next(c.txs(1, 0), []peerpb.TxValidationCode{peerpb.TxValidationCode_VALID}), AppendOptions{FillCommitHash: true, WritesHash: []byte{1, 2, 3}})
	if !errors.Is(err, ErrInvalidBlock) || !strings.Contains(err.Error(), "writes hash of 3 bytes") {
		t.Fatalf("a 3-byte writes hash: %v", err)
	}
}

// cloneForAppend copies what Append changes (the metadata), so that one
// block can be appended to two ledgers.
func cloneForAppend(b *commonpb.Block) *commonpb.Block {
	return &commonpb.Block{Header: b.Header, Data: b.Data, Metadata: &commonpb.BlockMetadata{Metadata: slices.Clone(b.GetMetadata().GetMetadata())}}
}
