package worldstate_test

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/worldstate"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// The life of two transactions: both are simulated on the same snapshot,
// both read asset1 and write it; in the block, the second one conflicts.
func Example() {
	db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	state, err := worldstate.New("mychannel")
	if err != nil {
		panic(err)
	}

	// Endorsement: simulate on a snapshot, keep the read/write set bytes.
	endorse := func(owner string) []byte {
		snap := db.NewSnapshot()
		defer snap.Close()
		sim := state.NewSimulator(snap)
		if _, err := sim.GetState("assets", "asset1"); err != nil {
			panic(err)
		}
		if err := sim.PutState("assets", "asset1", []byte(owner)); err != nil {
			panic(err)
		}
		_, rwset, err := sim.Results()
		if err != nil {
			panic(err)
		}
		return rwset
	}
	txs := [][]byte{endorse("alice"), endorse("bob")}

	// Validation and commit of block 1, in block order, in one batch.
	updates := state.NewBlockUpdates(1)
	for i, rwset := range txs {
		_, nsRWSets, err := envelope.ParseRWSet(rwset)
		if err != nil {
			panic(err)
		}
		code, reason, err := state.CheckReads(db, updates, nsRWSets)
		if err != nil {
			panic(err)
		}
		if code != peerpb.TxValidationCode_VALID {
			fmt.Println(i, code, reason)
			continue
		}
		fmt.Println(i, code)
		if err := updates.Add(uint64(i), fmt.Sprint("tx", i), timestamppb.Now(), nsRWSets); err != nil {
			panic(err)
		}
	}
	batch := db.NewBatch()
	defer batch.Close()
	if err := updates.WriteTo(batch); err != nil { // beside the block itself
		panic(err)
	}
	if err := batch.Commit(true); err != nil {
		panic(err)
	}

	value, version, err := state.Get(db, "assets", "asset1")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s at %v\n", value, version)
	// Output:
	// 0 VALID
	// 1 MVCC_READ_CONFLICT key "asset1" in namespace "assets" read when absent, written by transaction 0 of this block
	// alice at 1:0
}
