// Package contract is the Chorus SDK for smart contracts written in Go and
// run by Chorus peers as WebAssembly modules. It is the guest side of the
// contract ABI, version 1 (docs/spec/contract-abi.md), and imports nothing
// but the standard library.
//
// # Writing a contract
//
// A contract is a Go type whose exported methods are its transaction
// functions. Each takes a Context first, then its arguments, and returns
// nothing, an error, a value, or a value and an error:
//
//	package main
//
//	import "github.com/chorusledger/chorus/sdk/contract"
//
//	type Counter struct{}
//
//	func (Counter) Add(ctx contract.Context, key string, n int64) (int64, error) {
//		stub := ctx.GetStub()
//		b, err := stub.GetState(key)
//		...
//		return total, stub.PutState(key, []byte(strconv.FormatInt(total, 10)))
//	}
//
//	func init() { contract.Register(Counter{}, contract.Name("counter"), contract.Params("Add", "key", "n")) }
//
//	func main() {}
//
// The module is a WebAssembly reactor: the peer runs its initialisation
// (package variables and init functions) once per instance and then calls
// its exports, never main. So the contract must be registered from an init
// function or a package-level variable, and package main must still declare
// an empty main, which the Go toolchain requires. The exports themselves,
// chorus_invoke and chorus_abi_version, are declared in this package with
// //go:wasmexport, which works outside package main: importing the package
// is enough.
//
// Build the module with the standard toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o counter.wasm .
//
// With the same toolchain and these flags the build is reproducible: the
// same source gives the same bytes, so a module can be checked against its
// source.
//
// # The router
//
// Register wraps the contract in a Router (NewRouter describes its rules):
// it takes the function name from the first argument, dropping a
// "Contract:" prefix as Fabric's contract API does; checks the number of
// arguments; converts each argument, a byte string, to its parameter's type
// (strings and byte slices as they are, booleans, integers with range
// checks, finite floats, anything else from JSON); calls the method; and
// answers with its result (strings and byte slices raw, anything else as
// JSON) or, for an error or a panic, a 500 Response with its text. Contracts
// that want Fabric's low-level style implement Handler and call
// RegisterHandler instead.
//
// The router calls a method through reflection, which in WebAssembly costs
// about 15 µs a call. The Direct option gives it typed callers instead,
// made at compile time from method expressions, for the functions whose
// cost matters; invocations answer exactly as without it:
//
//	contract.Register(Counter{}, contract.Params("Add", "key", "n"),
//		contract.Direct(contract.TxR2(Counter.Add)))
//
// # What a contract sees
//
// Stub is Fabric's ChaincodeStubInterface narrowed to what Chorus supports:
// the arguments; the transaction's id, timestamp, channel and creator; the
// committed world state of the contract's namespace (reads never see the
// transaction's own writes), range and partial composite key queries,
// history; one event; calls to other contracts. Package cid reads the
// creator's certificate and computes Fabric's client id.
//
// Everything a contract sees is deterministic, and a contract must keep it
// so, or peers will not agree on its results: no clock (time.Now returns a
// constant; use GetTxTimestamp), no randomness (crypto/rand returns zeros),
// no map iteration order in results, no goroutines whose scheduling changes
// a result. Nothing survives from one invocation to the next: the peer
// resets the instance's memory, so package variables hold what
// initialisation left in them. Standard output and standard error go to
// the peer's debug log.
//
// # Testing
//
// Package contracttest runs a contract in memory on the host, with plain
// go test, against a ledger that has a peer's semantics, and with
// identities of several organizations:
//
//	l := contracttest.NewLedger()
//	l.Deploy("counter", contract.Registered())
//	r := l.Submit(contracttest.NewIdentity("Org1MSP", "User1@org1.example.com"), "counter", "Add", "k", "5")
//
// # Layout
//
// The stub over the ABI (hoststub.go) is written against an interface of
// the host functions, so that it runs and is tested on any platform; only
// the //go:wasmimport declarations and the exports are in a file built for
// wasip1 (wasm.go). Package abi holds the ABI's byte encodings as pure
// functions, usable by hosts and fakes too.
package contract
