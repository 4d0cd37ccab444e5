// Package contract is the boundary between a peer and the contracts it runs
// (DESIGN §7): what a contract sees of its transaction (Stub), what it is
// (Contract), which contracts a peer has installed (Registry), how one runs
// against a transaction simulator (Execute), where the channel's contract
// definitions live (DefinitionReader, StateDefinitions), and the native
// _lifecycle system contract that writes them (Lifecycle).
//
// Contracts are native Go for now (the _lifecycle contract and, in
// package assets, the sample); WebAssembly contracts will plug in behind
// the same Contract interface, their host functions calling a Stub.
//
// # Running a contract
//
// An endorser opens a kv.Snapshot, makes a worldstate.Simulator on it and
// calls
//
//	res, err := contract.Execute(registry, sim, contract.Invocation{
//		ChannelID: ch, Contract: name, Args: input.Args, TxID: txID,
//		Timestamp: ts, Creator: creator, CreatorBytes: creatorBytes,
//		Definitions: contract.SimulatorDefinitions{Simulator: sim},
//	})
//
// then takes the read/write set from sim.Results. The stub maps every state
// call to the simulator under the contract's namespace, which is its name:
// a contract reads and writes only its own keys. Reads return committed
// state (a transaction never sees its own writes), the last write to a key
// wins, and the simulator records what Fabric records (worldstate's package
// comment has the details).
//
// # Errors and Responses
//
// Two kinds of failure are kept apart:
//
//   - Execute returns an error when the contract cannot run on this peer:
//     the invocation is malformed; the contract is not defined on the
//     channel (ErrNotDefined); it is defined but not installed on this peer
//     (ErrNotInstalled); its definition cannot be read. These are
//     endorsement failures: the peer refuses the proposal and endorses
//     nothing. A contract invoked through Stub.InvokeContract that is not
//     installed here, or whose definition cannot be read, fails the whole
//     invocation in the same way: it is a fact about this peer, not about
//     the transaction, and another peer would answer differently.
//   - Otherwise the contract ran, and its Response is the answer, whatever
//     its status (200 for success, 400 and above for errors, as in Fabric).
//     A contract error is deterministic: every endorser gives the same
//     Response. A panic is recovered and becomes a 500 Response
//     "contract: contract X panicked: <value>" (no stack trace: it holds
//     addresses that differ between peers). A contract invoked through
//     InvokeContract that is not defined on the channel, or is a system
//     contract, gives its caller a 500 Response, which the caller may
//     handle.
//
// Go errors of this package start with "contract: ". Response messages are
// a contract's words to the client and carry no prefix ("the asset asset1
// does not exist", as Fabric's sample says it), except those the host
// writes (a panic, the call depth limit), which start with "contract: ".
//
// # Invoking another contract
//
// Stub.InvokeContract runs another contract in the same transaction, as
// Fabric's chaincode-to-chaincode calls on one channel: the callee gets its
// own stub on the same simulator (so its reads and writes join the
// transaction's read/write set under its own namespace), the same creator,
// transaction id and timestamp, and its own arguments. Its writes stay even
// if it returns an error, as in Fabric: a caller that ignores the error
// keeps them. Its event is dropped, as in Fabric, where only the event of
// the contract the client invoked reaches the transaction. At most
// MaxCallDepth (8) contracts are on a call stack, the first included; a
// contract may invoke itself within that limit. System contracts (names
// beginning with '_') cannot be invoked this way. Every namespace a
// transaction writes needs its own contract's endorsement policy met at
// validation, as in Fabric.
//
// # Definitions and _lifecycle
//
// A contract runs only when it is defined on the channel: a
// lifecyclepb.ContractDefinition (name, version, sequence, endorsement
// policy, package hash, init required) stored by the _lifecycle system
// contract at key "definitions/<name>" of namespace "_lifecycle", as its
// deterministic protobuf encoding with format_version 1. System contracts
// need no definition. DefinitionReader is how everyone finds definitions:
//
//   - SimulatorDefinitions reads through a transaction's simulator, so the
//     definition read joins the read set: a definition committed between
//     endorsement and validation makes the transaction an MVCC conflict,
//     as in Fabric, whose endorser reads definitions through its simulator.
//     Endorsers use it. Result.Definition returns what was read, for the
//     version in the ChaincodeAction.
//   - StateDefinitions reads committed state through a kv.Reader, recording
//     nothing: validators and the Gateway use it, with EndorsementPolicyOf
//     to find a contract's policy, a signature expression or the name of a
//     channel policy ("/Channel/Endorsement" names Endorsement).
//
// Lifecycle's CommitDefinition takes the definition as JSON
// (DefinitionJSON, checked by ParseDefinitionJSON, which tools can call
// before submitting). Only an admin of one of the channel's organizations
// may call it; the name must be a valid namespace not beginning with '_';
// the sequence must be the current one plus 1 (1 for a new contract); an
// empty endorsement policy means "/Channel/Endorsement", and signature
// expressions are stored in canonical form, so that every endorser writes
// the same bytes. The check of the sequence reads the current definition
// through the stub, so two commits of one sequence endorsed on the same
// state cannot both commit. Approvals by each organization come later.
//
// # Determinism
//
// Endorsements from different peers must match byte for byte, so:
//
//  1. Nothing on the path from Invocation to Result reads the clock or
//     randomness; the transaction's timestamp is the proposal's.
//  2. A Contract must be deterministic too: no clock, randomness,
//     environment, network or map iteration order; it keeps no state
//     between invocations except in the world state.
//  3. Response messages produced by the host depend only on the
//     invocation and the committed state.
//  4. Range queries apply Fabric's shim conventions (an empty start becomes
//     "\x01"; bounds beginning with U+0000 are refused), so composite keys
//     never appear in simple-key ranges and the recorded ranges are those a
//     Fabric peer records.
//
// # Concurrency and ownership
//
// A Registry is safe for concurrent use. Execute may run concurrently for
// different transactions, each with its own simulator; one invocation,
// nested contracts included, runs on the calling goroutine, and its stubs
// and iterators belong to that goroutine. A Stub is valid only until its
// Contract.Invoke returns; then every call fails. The package starts no
// goroutines and has no global state.
//
// # Differences from Fabric
//
//   - Functions are addressed as in Fabric's contract API: a client may
//     write "Contract:fn" as args[0]; the stub drops everything up to the
//     last ':' (Stub.Function).
//   - Contracts invoked through InvokeContract must be on the same channel;
//     Fabric's read-only calls to another channel are not supported.
//   - Private data, key-level endorsement (state metadata) and rich queries
//     are not supported; Init (init_required) is recorded in definitions
//     but not yet enforced.
package contract
