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
	if block.GetHeader() == nil {
		return nil, errors.New("ledger: commit hash: block has no header")
	}
	data := block.GetData().GetData()
	filter := TxFilter(block)
	if len(filter) != len(data) {
		return nil, fmt.Errorf("ledger: commit hash of block %d: transaction filter has %d entries for %d transactions", block.Header.Number, len(filter), len(data))
	}
	wh, err := writesHash(data, filter)
	if err != nil {
		return nil, fmt.Errorf("ledger: commit hash of block %d: %w", block.Header.Number, err)
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

func writesHash(data [][]byte, filter []byte) ([]byte, error) {
	h := sha256.New()
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
		for _, ns := range tx.NsRWSets {
			for _, w := range ns.KV.GetWrites() {
				writeLP(h, []byte(ns.Namespace))
				writeLP(h, []byte(w.Key))
				if w.IsDelete {
					h.Write([]byte{1})
				} else {
					h.Write([]byte{0})
				}
				writeLP(h, w.Value)
			}
		}
	}
	return h.Sum(nil), nil
}

func writeLP(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
