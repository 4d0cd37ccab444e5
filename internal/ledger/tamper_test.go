package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	ledgerpb "github.com/chorusledger/chorus/proto/chorus/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/protobuf/proto"
)

// flipByte returns b with one bit of byte i flipped.
func flipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

// rawFlip returns a mutation of the stored bytes that flips byte off of
// the one occurrence of pattern, for damage that re-marshalling a decoded
// block cannot express (an explicit zero).
func rawFlip(pattern string, off int) func([]byte) []byte {
	return func(raw []byte) []byte {
		i := bytes.Index(raw, []byte(pattern))
		if i < 0 || bytes.Index(raw[i+1:], []byte(pattern)) >= 0 {
			panic("pattern not found exactly once")
		}
		out := bytes.Clone(raw)
		out[i+off] = 0
		return out
	}
}

// signedParts decodes the SIGNATURES slot down to the consenter metadata.
func signedParts(t *testing.T, b *commonpb.Block) (*commonpb.Metadata, *commonpb.OrdererBlockMetadata, *ledgerpb.ConsenterMetadata) {
	t.Helper()
	md, err := signaturesMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	obm := &commonpb.OrdererBlockMetadata{}
	cm := &ledgerpb.ConsenterMetadata{}
	if proto.Unmarshal(md.Value, obm) != nil || proto.Unmarshal(obm.ConsenterMetadata, cm) != nil {
		t.Fatal("signed metadata does not decode")
	}
	return md, obm, cm
}

// resign re-marshals the SIGNATURES slot after a change to its parts.
func resign(t *testing.T, b *commonpb.Block, md *commonpb.Metadata, obm *commonpb.OrdererBlockMetadata, cm *ledgerpb.ConsenterMetadata) {
	t.Helper()
	obm.ConsenterMetadata = mustMarshal(t, cm)
	md.Value = mustMarshal(t, obm)
	b.Metadata.Metadata[0] = mustMarshal(t, md)
}

// TestVerifyNamesFlippedByte damages one stored block at a time by flipping
// a single byte of its stored bytes in a chosen field, rewrites its
// segment record with a checksum to match (deliberate damage), and checks that Verify names that block and the check that guards
// the field.
func TestVerifyNamesFlippedByte(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMemDB(t, fs)
	l := openLedger(t, db)
	buildLedger(t, l, newChain(t, newTestSigner(t, "OrdererMSP")), 4, 3)
	if _, err := l.Verify(verifyAll); err != nil {
		t.Fatalf("the undamaged ledger: %v", err)
	}
	db.Close()

	const k = 2 // the damaged block, in the middle of the chain
	cases := []struct {
		name   string
		block  uint64
		mutate any // func(*commonpb.Block) changing one byte of a field, func([]byte) []byte on the raw value, or nil to flip raw byte 0
		opts   VerifyOptions
		check  string
		substr string
	}{
		{"header previous hash", k, func(b *commonpb.Block) { b.Header.PreviousHash[7] ^= 1 }, verifyAll,
			CheckPreviousHash, "block 2: previous hash does not match hash of block 1"},
		{"header data hash", k, func(b *commonpb.Block) { b.Header.DataHash[0] ^= 1 }, verifyAll,
			CheckDataHash, "block 2: data hash mismatch"},
		{"header number", k, func(b *commonpb.Block) { b.Header.Number ^= 1 }, verifyAll,
			CheckNumber, "block 2: header says number 3"},
		{"an envelope byte", k, func(b *commonpb.Block) { b.Data.Data[1][40] ^= 1 }, verifyAll,
			CheckDataHash, "block 2: data hash mismatch"},
		{"Merkle root", k, func(b *commonpb.Block) {
			md, obm, cm := signedParts(t, b)
			cm.MerkleRoot[3] ^= 1
			resign(t, b, md, obm, cm)
		}, verifyAll, CheckMerkleRoot, "block 2: Merkle root in signed metadata does not match transactions"},
		{"consenter metadata format version 1 to 3", k, func(b *commonpb.Block) {
			md, obm, cm := signedParts(t, b)
			cm.FormatVersion ^= 2
			resign(t, b, md, obm, cm)
		}, verifyAll, CheckMerkleRoot, "block 2: consenter metadata format version 3 is newer than this build understands"},
		{"consenter metadata format version 1 to 0", k, rawFlip("\x08\x01\x12\x20", 1), VerifyOptions{},
			CheckMerkleRoot, "block 2: signed metadata carries no Merkle root although block 1 does"},
		{"consensus term (signed)", k, func(b *commonpb.Block) {
			md, obm, cm := signedParts(t, b)
			cm.ConsensusTerm ^= 1
			resign(t, b, md, obm, cm)
		}, verifyAll, CheckSignature, "block 2: signature 0 by OrdererMSP: ECDSA signature does not verify"},
		{"signature", k, func(b *commonpb.Block) {
			md, obm, cm := signedParts(t, b)
			md.Signatures[0].Signature[20] ^= 1
			resign(t, b, md, obm, cm)
		}, verifyAll, CheckSignature, "block 2: signature 0 by OrdererMSP"},
		{"signature nonce", k, func(b *commonpb.Block) {
			md, obm, cm := signedParts(t, b)
			sh := &commonpb.SignatureHeader{}
			_ = proto.Unmarshal(md.Signatures[0].SignatureHeader, sh)
			sh.Nonce[0] ^= 1
			md.Signatures[0].SignatureHeader = mustMarshal(t, sh)
			resign(t, b, md, obm, cm)
		}, verifyAll, CheckSignature, "block 2: signature 0 by OrdererMSP"},
		{"commit hash", k, func(b *commonpb.Block) {
			md := &commonpb.Metadata{}
			_ = proto.Unmarshal(b.Metadata.Metadata[4], md)
			md.Value[31] ^= 1
			b.Metadata.Metadata[4] = mustMarshal(t, md)
		}, verifyAll, CheckCommitHash, "block 2: commit hash mismatch"},
		{"transaction filter", k, func(b *commonpb.Block) { b.Metadata.Metadata[2][1] ^= 1 }, verifyAll,
			CheckCommitHash, "block 2: commit hash mismatch"},
		{"transaction filter, commit hashes skipped", k, func(b *commonpb.Block) { b.Metadata.Metadata[2][1] ^= 1 },
			VerifyOptions{SkipCommitHashes: true}, CheckTxIndex, "is indexed with code VALID, the block says NIL_ENVELOPE"},
		{"protobuf framing", k, nil, verifyAll, CheckDecode, "block 2: decode block"},
		{"last block's data hash", 4, func(b *commonpb.Block) { b.Header.DataHash[31] ^= 1 }, verifyAll,
			CheckDataHash, "block 4: data hash mismatch"},
		{"genesis envelope", 0, func(b *commonpb.Block) { b.Data.Data[0][10] ^= 1 }, verifyAll,
			CheckDataHash, "block 0: data hash mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openMemDB(t, kv.CrashClone(fs))
			defer db.Close()
			raw := storedBlock(t, db, tc.block)
			var damaged []byte
			switch m := tc.mutate.(type) {
			case nil:
				damaged = flipByte(raw, 0)
			case func([]byte) []byte:
				damaged = m(raw)
			case func(*commonpb.Block):
				b, err := UnmarshalBlock(raw)
				if err != nil {
					t.Fatal(err)
				}
				m(b)
				if damaged, err = envelope.Marshal(b); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("mutation of type %T", m)
			}
			// Exactly one byte of the stored value differs.
			pos := -1
			if len(damaged) != len(raw) {
				t.Fatalf("the damage changed the length: %d → %d", len(raw), len(damaged))
			}
			for i := range raw {
				if raw[i] != damaged[i] {
					if pos >= 0 {
						t.Fatalf("bytes %d and %d differ; want one", pos, i)
					}
					pos = i
				}
			}
			rewriteStoredBlock(t, db, tc.block, damaged)
			_, err := Verify(db, testChannel, tc.opts)
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("byte %d of block %d flipped: Verify gave %v", pos, tc.block, err)
			}
			if ve.Block != tc.block || ve.Check != tc.check || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("byte %d of block %d flipped: got block %d check %q: %v\nwant block %d check %q containing %q", pos, tc.block, ve.Block, ve.Check, err, tc.block, tc.check, tc.substr)
			}
			t.Logf("byte %d of %d: %v", pos, len(raw), err)
		})
	}
}

// TestVerifyCatchesConsistentRewrite rewrites a block with care: an
// envelope changed and the data hash and Merkle root recomputed to match,
// so the block passes its own hash checks. Its hash changed, so the hash
// index no longer names it; with the index forged too, the next block's
// link breaks; and its orderer signature no longer verifies.
func TestVerifyCatchesConsistentRewrite(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	buildLedger(t, l, newChain(t, newTestSigner(t, "OrdererMSP")), 4, 3)

	b, err := l.Block(2)
	if err != nil {
		t.Fatal(err)
	}
	// Change the envelope's own signature: the writes, and so the commit
	// hash, stay the same.
	env := &commonpb.Envelope{}
	_ = proto.Unmarshal(b.Data.Data[1], env)
	env.Signature[0] ^= 1
	b.Data.Data[1] = mustMarshal(t, env)
	b.Header.DataHash = DataHash(b.Data.Data)
	md, obm, cm := signedParts(t, b)
	cm.MerkleRoot = MerkleRoot(b.Data.Data)
	resign(t, b, md, obm, cm)
	batch := db.NewBatch()
	batch.Set(l.keys.block(2), mustMarshal(t, b))
	if err := batch.Commit(true); err != nil {
		t.Fatal(err)
	}

	var ve *VerifyError
	_, err = l.Verify(VerifyOptions{})
	if !errors.As(err, &ve) || ve.Block != 2 || ve.Check != CheckHashIndex {
		t.Fatalf("the hash index still names the old hash: %v", err)
	}
	t.Logf("rewritten block: %v", err)

	// An attacker who also rewrites the hash index is caught by the next
	// block's link, and by the signature.
	batch = db.NewBatch()
	batch.Set(l.keys.hash(HeaderHash(b.Header)), binary.BigEndian.AppendUint64(nil, 2))
	if err := batch.Commit(true); err != nil {
		t.Fatal(err)
	}
	_, err = l.Verify(VerifyOptions{})
	if !errors.As(err, &ve) || ve.Block != 3 || ve.Check != CheckPreviousHash || !strings.Contains(err.Error(), "block 3: previous hash does not match hash of block 2") {
		t.Fatalf("without signatures: %v", err)
	}
	t.Logf("and its hash indexed, without signatures: %v", err)
	_, err = l.Verify(verifyAll)
	if !errors.As(err, &ve) || ve.Block != 2 || ve.Check != CheckSignature {
		t.Fatalf("with signatures: %v", err)
	}
	t.Logf("and its hash indexed, with signatures: %v", err)
}

// TestVerifyStructuralDamage covers damage to the store rather than to a
// block: a missing block, a block beyond the height, chain info that
// disagrees, lost or wrong index entries.
func TestVerifyStructuralDamage(t *testing.T) {
	fs := kv.NewCrashableMemFS()
	db := openMemDB(t, fs)
	l := openLedger(t, db)
	buildLedger(t, l, newChain(t, newTestSigner(t, "OrdererMSP")), 4, 2)
	last, _ := l.Block(4)
	lastCommit, _ := BlockCommitHash(last)
	db.Close()
	k := newKeys(testChannel)
	info := func(height uint64, cur, prev, commit []byte) []byte {
		return mustMarshal(t, &ledgerpb.ChainInfo{FormatVersion: 1, Height: height, CurrentBlockHash: cur, PreviousBlockHash: prev, CommitHash: commit})
	}
	cases := []struct {
		name   string
		damage func(b *kv.Batch)
		block  uint64
		check  string
	}{
		{"block deleted", func(b *kv.Batch) { b.Delete(k.block(2)) }, 2, CheckMissing},
		{"last block deleted", func(b *kv.Batch) { b.Delete(k.block(4)) }, 4, CheckMissing},
		{"block beyond height", func(b *kv.Batch) { b.Set(k.block(5), []byte{}) }, 5, CheckChainInfo},
		{"hash index lost", func(b *kv.Batch) { b.Delete(k.hash(HeaderHash(last.Header))) }, 4, CheckHashIndex},
		{"hash index wrong", func(b *kv.Batch) { b.Set(k.hash(HeaderHash(last.Header)), binary.BigEndian.AppendUint64(nil, 1)) }, 4, CheckHashIndex},
		{"tx index lost", func(b *kv.Batch) { b.Delete(k.tx(txIDOfSeed(3))) }, 2, CheckTxIndex},
		{"tx index moved later", func(b *kv.Batch) {
			b.Set(k.tx(txIDOfSeed(3)), mustMarshal(t, &ledgerpb.TxRecord{BlockNumber: 3}))
		}, 2, CheckTxIndex},
		{"tx index pointing at another tx", func(b *kv.Batch) {
			b.Set(k.tx(txIDOfSeed(3)), mustMarshal(t, &ledgerpb.TxRecord{BlockNumber: 1, TxNumber: 1}))
		}, 2, CheckTxIndex},
		{"tx index garbage", func(b *kv.Batch) { b.Set(k.tx(txIDOfSeed(3)), []byte{0xff}) }, 2, CheckTxIndex},
		{"chain info current hash", func(b *kv.Batch) {
			b.Set(k.info(), info(5, []byte("x"), last.Header.PreviousHash, lastCommit))
		}, 5, CheckChainInfo},
		{"chain info previous hash", func(b *kv.Batch) {
			b.Set(k.info(), info(5, HeaderHash(last.Header), []byte("x"), lastCommit))
		}, 5, CheckChainInfo},
		{"chain info commit hash", func(b *kv.Batch) {
			b.Set(k.info(), info(5, HeaderHash(last.Header), last.Header.PreviousHash, nil))
		}, 5, CheckChainInfo},
		{"chain info height short", func(b *kv.Batch) {
			b.Set(k.info(), info(4, last.Header.PreviousHash, nil, nil))
		}, 4, CheckChainInfo},
		{"chain info garbage", func(b *kv.Batch) { b.Set(k.info(), []byte{0xff}) }, 0, CheckChainInfo},
	}
	for _, tc := range cases {
		db := openMemDB(t, kv.CrashClone(fs))
		b := db.NewBatch()
		tc.damage(b)
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(db, testChannel, verifyAll)
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Block != tc.block || ve.Check != tc.check {
			t.Errorf("%s: %v", tc.name, err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
		db.Close()
	}
}
