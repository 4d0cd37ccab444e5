package orderer

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/consensus/raft"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// TestBlockWriterApply feeds the block writer the entries a Raft log can
// hold: blocks that extend the chain are signed and appended; a stale
// entry (proposed by a leader that lost its place) and one whose data
// hash does not match its transactions are skipped; every entry's index
// is recorded as applied, and the record survives a reopening.
func TestBlockWriterApply(t *testing.T) {
	signer := testSigner(t)
	fs := kv.NewCrashableMemFS()
	db, err := kv.Open("db", kv.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(db, "ch")
	if err != nil {
		t.Fatal(err)
	}
	w, err := newBlockWriter("ch", db, l, signer, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var appended, skipped []uint64
	w.onBlock = func(b *commonpb.Block) { appended = append(appended, b.Header.Number) }
	w.onSkip = func(b *commonpb.Block) { skipped = append(skipped, b.Header.Number) }

	entry := func(index uint64, b *commonpb.Block) raft.Entry {
		t.Helper()
		data, err := encodeEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		return raft.Entry{Index: index, Term: 1, Data: data}
	}
	apply := func(e raft.Entry) {
		t.Helper()
		if err := w.Apply(e); err != nil {
			t.Fatalf("entry %d: %v", e.Index, err)
		}
		if w.Applied() != e.Index {
			t.Fatalf("entry %d: applied index %d", e.Index, w.Applied())
		}
	}
	b0 := ledger.NewBlock(0, nil, [][]byte{[]byte("genesis")})
	apply(entry(1, b0))
	b1 := ledger.NewBlock(1, ledger.HeaderHash(b0.Header), [][]byte{[]byte("tx1")})
	apply(entry(2, b1))
	apply(entry(3, b1)) // stale: block 1 again
	forged := ledger.NewBlock(2, ledger.HeaderHash(b1.Header), [][]byte{[]byte("tx2")})
	forged.Data.Data = append(forged.Data.Data, []byte("smuggled"))
	apply(entry(4, forged))
	b2 := ledger.NewBlock(2, ledger.HeaderHash(b1.Header), [][]byte{[]byte("tx2")})
	apply(entry(5, b2))

	if want := []uint64{0, 1, 2}; !slices.Equal(appended, want) {
		t.Fatalf("appended blocks %v, want %v", appended, want)
	}
	if want := []uint64{1, 2}; !slices.Equal(skipped, want) {
		t.Fatalf("skipped blocks %v, want %v", skipped, want)
	}
	verify := ledger.VerifyOptions{Verifier: func(creator, msg, sig []byte) error {
		_, cert, err := identity.Deserialize(creator)
		if err != nil {
			return err
		}
		return identity.Verify(cert.PublicKey, msg, sig)
	}, MinSignatures: 1}
	if rep, err := l.Verify(verify); err != nil || rep.Blocks != 3 {
		t.Fatalf("the orderer's chain: %v (%+v)", err, rep)
	}
	l.Close()

	again, err := newBlockWriter("ch", db, l, signer, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if again.Applied() != 5 {
		t.Fatalf("applied index %d after reopening, want 5", again.Applied())
	}
	db.Close()
}

// testSigner is an orderer identity issued by a fresh CA.
func testSigner(t *testing.T) *identity.SigningIdentity {
	t.Helper()
	ca, err := identity.NewCA("ca", "OrdererMSP", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("orderer0", identity.RoleOrderer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.LoadSigningIdentity("OrdererMSP", certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}
