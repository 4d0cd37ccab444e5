package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/chorusledger/chorus/internal/envelope"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// CommitHash returns the commit hash of block given the commit hash of the
// block before it (empty for the first block that carries one):
//
//	CommitHash = SHA-256( prev ‖ uint64be(number) ‖ txFilter ‖ writesHash )
//
// where txFilter is metadata slot 2 (one validation code byte per
// transaction) and writesHash is SHA-256 over, for each VALID
// ENDORSER_TRANSACTION in block order, for each namespace in read/write
// set order, for each KV write in order:
//
//	lp(namespace) ‖ lp(key) ‖ is_delete (one byte, 0 or 1) ‖ lp(value)
//
// with lp(x) = uint64be(len(x)) ‖ x. Configuration and other transactions,
// invalid transactions, reads, metadata writes and private-data hashes
// contribute nothing. The block must carry a transaction filter with one
// byte per transaction, and every valid endorser transaction must decode.
func CommitHash(prev []byte, block *commonpb.Block) ([]byte, error) {
	return commitHash(prev, block, nil)
}

// commitHash is CommitHash with the block's writes hash given, when the
// caller computed it while validating (nil: computed from the block).
func commitHash(prev []byte, block *commonpb.Block, wh []byte) ([]byte, error) {
	if block.GetHeader() == nil {
		return nil, errors.New("ledger: commit hash: block has no header")
	}
	data := block.GetData().GetData()
	filter := TxFilter(block)
	if len(filter) != len(data) {
		return nil, fmt.Errorf("ledger: commit hash of block %d: transaction filter has %d entries for %d transactions", block.Header.Number, len(filter), len(data))
	}
	if wh == nil {
		var err error
		if wh, err = writesHash(data, filter); err != nil {
			return nil, fmt.Errorf("ledger: commit hash of block %d: %w", block.Header.Number, err)
		}
	} else if len(wh) != sha256.Size {
		return nil, fmt.Errorf("ledger: commit hash of block %d: a writes hash of %d bytes", block.Header.Number, len(wh))
	}
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], block.Header.Number)
	h.Write(n[:])
	h.Write(filter)
	h.Write(wh)
	return h.Sum(nil), nil
}

// BlockWritesHash returns the writes hash that CommitHash computes for a
// block carrying its transaction filter, decoding its valid transactions.
func BlockWritesHash(block *commonpb.Block) ([]byte, error) {
	data, filter := block.GetData().GetData(), TxFilter(block)
	if len(filter) != len(data) {
		return nil, fmt.Errorf("ledger: writes hash: transaction filter has %d entries for %d transactions", len(filter), len(data))
	}
	return writesHash(data, filter)
}

func writesHash(data [][]byte, filter []byte) ([]byte, error) {
	var wh WritesHash
	for i, raw := range data {
		if peerpb.TxValidationCode(filter[i]) != peerpb.TxValidationCode_VALID {
			continue
		}
		env, err := envelope.ParseEnvelope(raw)
		if err != nil {
			return nil, fmt.Errorf("valid transaction %d: %w", i, err)
		}
		if env.Type() != commonpb.HeaderType_ENDORSER_TRANSACTION {
			continue
		}
		tx, err := envelope.ParseEndorserTransaction(env.Payload.Data)
		if err != nil {
			return nil, fmt.Errorf("valid transaction %d (%s): %w", i, env.TxID(), err)
		}
		wh.Add(tx.NsRWSets)
	}
	return wh.Sum(), nil
}

// WritesHash accumulates the writes hash of a block (see CommitHash) for
// a committer that has already decoded its transactions while validating
// them: Add the read/write sets of each VALID endorser transaction in
// block order, then pass Sum in AppendOptions.WritesHash, and Append need
// not decode the block again. The zero value is ready to use.
type WritesHash struct{ h hash.Hash }

// Add adds the KV writes of one valid endorser transaction.
func (w *WritesHash) Add(nsRWSets []envelope.NsRWSet) {
	if w.h == nil {
		w.h = sha256.New()
	}
	for _, ns := range nsRWSets {
		for _, kw := range ns.KV.GetWrites() {
			writeLP(w.h, []byte(ns.Namespace))
			writeLP(w.h, []byte(kw.Key))
			if kw.IsDelete {
				w.h.Write([]byte{1})
			} else {
				w.h.Write([]byte{0})
			}
			writeLP(w.h, kw.Value)
		}
	}
}

// Sum returns the writes hash of what was added.
func (w *WritesHash) Sum() []byte {
	if w.h == nil {
		w.h = sha256.New()
	}
	return w.h.Sum(nil)
}

func writeLP(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
