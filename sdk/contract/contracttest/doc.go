// Package contracttest runs contracts in memory, without a network or
// WebAssembly, with the semantics a Chorus peer gives them (and Fabric's):
// a transaction reads the committed state only and never its own writes;
// its writes become visible when it commits; range queries return keys in
// order over [start, end); composite keys use U+0000 separators; every
// commit adds to each written key's history; a transaction emits at most
// one event, the last set, and none when it fails; the creator is an
// Identity of an organization, with a certificate. Transaction ids and
// timestamps are deterministic.
//
// A test deploys contracts on a Ledger and submits transactions:
//
//	l := contracttest.NewLedger()
//	l.Deploy("assets", contract.Registered())
//	alice := contracttest.NewIdentity("Org1MSP", "alice@org1.example.com")
//	r := l.Submit(alice, "assets", "CreateAsset", "asset1", "blue", "5", "Tomoko", "300")
//	// r.Status, r.Message, r.Payload, r.Event
//
// or opens a transaction, which is a contract.Stub, to call transaction
// functions directly:
//
//	tx := l.Begin(alice, "assets")
//	err := Assets{}.CreateAsset(contract.NewContext(tx), "asset1", "blue", 5, "Tomoko", 300)
//	err = tx.Commit()
//
// A Ledger and its transactions belong to one goroutine.
package contracttest
