package ledger

import (
	"errors"
	"fmt"
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
)

// TestTxByIDFiltered: a ledger with a filter of transaction ids answers
// TxByID exactly as one without, for ids in blocks appended before the
// filter was built and after, for absent ids, and for an id that a later
// block repeats (the first occurrence is indexed).
func TestTxByIDFiltered(t *testing.T) {
	db := openMemDB(t, kv.NewCrashableMemFS())
	defer db.Close()
	l := openLedger(t, db)
	defer l.Close()
	c := newChain(t, newTestSigner(t, "OrdererMSP"))
	buildLedger(t, l, c, 5, 20) // ids of seeds 1..100
	if err := l.FilterTxIDs(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		peerAppend(t, l, c.next(c.txs(20, 0), nil)) // seeds 101..200
	}
	// A block repeating ids of blocks 1 and 7.
	peerAppend(t, l, c.next([][]byte{endorserTx(t, 3, nil, 0), endorserTx(t, 150, nil, 0)}, nil))

	plain := openLedger(t, db) // reads the index only
	defer plain.Close()
	ids := []string{"", "absent", "x"}
	for seed := uint64(1); seed <= 210; seed++ {
		ids = append(ids, txIDOfSeed(seed))
	}
	found := 0
	for _, id := range ids {
		got, gotErr := l.TxByID(id)
		want, wantErr := plain.TxByID(id)
		switch {
		case errors.Is(wantErr, ErrNotFound):
			if !errors.Is(gotErr, ErrNotFound) {
				t.Errorf("TxByID(%q) = %v, %v; the index does not hold it", id, got, gotErr)
			}
			if gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Errorf("TxByID(%q): message %q, want %q", id, gotErr, wantErr)
			}
		case wantErr != nil:
			t.Fatal(wantErr)
		case gotErr != nil || got.BlockNumber != want.BlockNumber || got.TxNumber != want.TxNumber:
			t.Errorf("TxByID(%q) = %v, %v; want %v", id, got, gotErr, want)
		default:
			found++
		}
	}
	if found != 200 {
		t.Errorf("found %d of the 200 transactions", found)
	}
	if rec, err := l.TxByID(txIDOfSeed(3)); err != nil || rec.BlockNumber != 1 {
		t.Errorf("a repeated id: %v, %v; want its first block, 1", rec, err)
	}
}

// BenchmarkTxByIDAbsent measures the lookup of an id the index does not
// hold, the common case under load, with and without the filter.
func BenchmarkTxByIDAbsent(b *testing.B) {
	for _, filtered := range []bool{false, true} {
		b.Run(fmt.Sprintf("filter=%v", filtered), func(b *testing.B) {
			db := openMemDB(b, kv.NewCrashableMemFS())
			defer db.Close()
			l := openLedger(b, db)
			defer l.Close()
			c := newChain(b, newTestSigner(b, "OrdererMSP"))
			buildLedger(b, l, c, 20, 100)
			if filtered {
				if err := l.FilterTxIDs(); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			for b.Loop() {
				i++
				if _, err := l.TxByID(txIDOfSeed(uint64(1_000_000 + i))); !errors.Is(err, ErrNotFound) {
					b.Fatal(err)
				}
			}
		})
	}
}
