package contract

import (
	"errors"
	"fmt"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/worldstate"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// MaxCallDepth is the largest number of contracts on one call stack: the
// contract the client invoked and those it invokes through
// Stub.InvokeContract, directly or not, itself included.
const MaxCallDepth = 8

// ErrNotInstalled matches the error of Execute when the contract to run,
// or one it invokes, is not in the peer's registry.
var ErrNotInstalled = errors.New("contract: contract not installed")

// Invocation is one contract invocation of a transaction proposal.
type Invocation struct {
	// ChannelID is the channel the transaction runs on.
	ChannelID string
	// Contract names the contract to run, which is also its namespace.
	Contract string
	// Args are the proposal's ChaincodeInput args: Args[0] is the function
	// name (see Stub.Function), the rest its arguments.
	Args [][]byte
	// TxID is the transaction id.
	TxID string
	// Timestamp is the timestamp of the proposal's channel header.
	Timestamp time.Time
	// Creator is the proposal's creator, validated by the peer. Required.
	Creator *identity.Identity
	// CreatorBytes are the serialized creator as it appears in the
	// proposal; when nil, Creator.Serialized() is used.
	CreatorBytes []byte
	// Definitions tells whether a contract is defined on the channel; it
	// is consulted for the contract invoked and for every contract it
	// invokes, except system contracts. Required unless Contract is a
	// system contract. An endorser should pass SimulatorDefinitions over
	// the same simulator, so that the definition read joins the read set
	// and a definition committed meanwhile invalidates the transaction, as
	// in Fabric.
	Definitions DefinitionReader
	// Lifecycle is what _lifecycle needs to know of the channel to commit
	// a definition: its application organizations and whether a set of
	// their approvals satisfies the channel's LifecycleEndorsement policy.
	// Other contracts never see it.
	Lifecycle *LifecycleContext
}

// LifecycleContext is the channel as _lifecycle sees it.
type LifecycleContext struct {
	// Organizations are the MSP ids of the channel's application
	// organizations, in configuration order.
	Organizations []string
	// ApprovalPolicy returns nil when the organizations that approved a
	// definition are enough to commit it, or an error saying what is
	// missing.
	ApprovalPolicy func(approved []string) error
}

// Result is the outcome of an invocation that ran: the contract's
// Response, and what an endorser needs besides the simulator's read/write
// set.
type Result struct {
	Response
	// Event is the event the contract set, filled as Fabric's peer fills
	// it: chaincode_id is the contract's name, tx_id the transaction id.
	// It is nil when the contract set none, and when the Response is an
	// error (Fabric's endorser drops it then: nothing is endorsed).
	Event *peerpb.ChaincodeEvent
	// Definition is the definition the contract ran under, whose Version
	// goes into the ChaincodeAction's chaincode_id as Fabric's endorser
	// puts it; nil for a system contract.
	Definition *lifecyclepb.ContractDefinition
}

// execution is the state shared by the stubs of one transaction.
type execution struct {
	reg          *Registry
	sim          *worldstate.Simulator
	inv          Invocation
	creatorBytes []byte
	// err is the first failure that must end the invocation without a
	// response, even if a contract swallowed it: a nested contract that
	// is not installed, or a definition that could not be read.
	err error
}

func (x *execution) fail(err error) {
	if x.err == nil {
		x.err = err
	}
}

// Execute runs the invocation inv against sim: it checks that the
// contract is defined on the channel (system contracts need no definition)
// and installed in reg, then runs it with a Stub whose state calls go to
// sim under the contract's namespace.
//
// Execute returns an error, and no Result, when the contract could not be
// run at all on this peer: the invocation is malformed, the contract is not
// defined on the channel (matching ErrNotDefined), not installed on this
// peer (matching ErrNotInstalled), or its definition cannot be read. These
// are endorsement failures, not contract errors: the peer answers the
// proposal with an error and simulates nothing. The same holds when a
// contract invoked through Stub.InvokeContract is not installed here, or
// its definition cannot be read: another peer might run it, so the outcome
// is this peer's, not the transaction's, and no Response may be endorsed.
//
// Otherwise the contract ran and Result holds its Response, whatever its
// status: an error Response is the contract's answer (bad arguments, an
// asset that does not exist, a panic, which is recovered and becomes a 500
// Response "contract: contract X panicked: ..."), deterministic across
// peers.
//
// Execute neither closes sim nor takes its results: the caller calls
// sim.Results for the read/write set (which fails if a storage error
// happened during the run, even one the contract ignored), or sim.Close.
// Execute reads no clock and no randomness; it is safe to call
// concurrently with different simulators.
func Execute(reg *Registry, sim *worldstate.Simulator, inv Invocation) (*Result, error) {
	if reg == nil || sim == nil {
		return nil, errors.New("contract: Execute needs a registry and a simulator")
	}
	if err := worldstate.ValidateNamespace(inv.Contract); err != nil {
		return nil, fmt.Errorf("contract: invalid contract name: %w", err)
	}
	if inv.Creator == nil {
		return nil, fmt.Errorf("contract: invocation of %s has no creator", inv.Contract)
	}
	var def *lifecyclepb.ContractDefinition
	if !IsSystem(inv.Contract) {
		if inv.Definitions == nil {
			return nil, fmt.Errorf("contract: invocation of %s has no definition reader", inv.Contract)
		}
		var err error
		if def, err = lookupDefinition(inv.Definitions, inv.Contract, inv.ChannelID); err != nil {
			return nil, err
		}
	}
	c, err := reg.resolve(inv.Contract, inv.ChannelID, def)
	if err != nil {
		return nil, err
	}

	x := &execution{reg: reg, sim: sim, inv: inv, creatorBytes: inv.CreatorBytes}
	if x.creatorBytes == nil {
		x.creatorBytes = inv.Creator.Serialized()
	}
	s := newStub(x, inv.Contract, cloneArgs(inv.Args), 1, nil)
	resp := x.run(c, s)
	if x.err != nil {
		return nil, x.err
	}
	res := &Result{Response: resp, Definition: def}
	if s.event != nil && !resp.IsError() {
		res.Event = &peerpb.ChaincodeEvent{
			ChaincodeId: inv.Contract,
			TxId:        inv.TxID,
			EventName:   s.event.name,
			Payload:     s.event.payload,
		}
	}
	return res, nil
}

// run invokes c with s, recovering a panic into a 500 Response, and ends
// s.
func (x *execution) run(c Contract, s *stub) (resp Response) {
	defer func() {
		s.done = true
		if r := recover(); r != nil {
			// The panic value only: a stack trace holds addresses, which
			// differ between peers, and the Response must not.
			resp = Errorf("contract: contract %s panicked: %v", s.name, r)
		}
	}()
	return c.Invoke(s)
}

// invokeNested runs the contract name for caller, as Stub.InvokeContract.
func (x *execution) invokeNested(caller *stub, name string, args [][]byte) Response {
	if caller.depth >= MaxCallDepth {
		return Errorf("contract: invoking %s from %s would exceed the call depth limit of %d (%s)",
			name, caller.name, MaxCallDepth, caller.callChain())
	}
	if err := worldstate.ValidateNamespace(name); err != nil {
		return Errorf("contract: cannot invoke %q: %w", name, err)
	}
	if IsSystem(name) {
		return Errorf("contract: system contract %s cannot be invoked from another contract", name)
	}
	if x.inv.Definitions == nil {
		x.fail(fmt.Errorf("contract: %s invoked %s, but the invocation has no definition reader", caller.name, name))
		return Errorf("contract: cannot check the definition of %s", name)
	}
	def, err := lookupDefinition(x.inv.Definitions, name, x.inv.ChannelID)
	if err != nil {
		if errors.Is(err, ErrNotDefined) {
			// A fact of the channel, the same on every peer: the caller's
			// to handle.
			return Errorf("%w", err)
		}
		x.fail(err)
		return Errorf("%w", err)
	}
	c, err := x.reg.resolve(name, x.inv.ChannelID, def)
	if err != nil {
		x.fail(fmt.Errorf("%w (invoked by %s)", err, caller.callChain()))
		return Errorf("%w", err)
	}
	return x.run(c, newStub(x, name, cloneArgs(args), caller.depth+1, caller))
}

// lookupDefinition reads the definition of name through defs, turning a
// missing one into an error naming the channel.
func lookupDefinition(defs DefinitionReader, name, channel string) (*lifecyclepb.ContractDefinition, error) {
	def, err := defs.Definition(name)
	switch {
	case errors.Is(err, ErrNotDefined):
		return nil, &markedError{
			msg:  fmt.Sprintf("contract: contract %s is not defined on channel %s", name, channel),
			mark: ErrNotDefined,
		}
	case err != nil:
		return nil, fmt.Errorf("contract: reading the definition of %s on channel %s: %w", name, channel, err)
	case def == nil:
		return nil, fmt.Errorf("contract: the definition reader returned no definition of %s and no error", name)
	}
	return def, nil
}

func notInstalled(name, channel string) error {
	msg := fmt.Sprintf("contract: contract %s is defined on channel %s but not installed on this peer", name, channel)
	if IsSystem(name) {
		msg = fmt.Sprintf("contract: system contract %s is not installed on this peer", name)
	}
	return &markedError{msg: msg, mark: ErrNotInstalled}
}

func cloneArgs(args [][]byte) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = append([]byte(nil), a...)
	}
	return out
}

// markedError is an error with its own message that matches a sentinel.
type markedError struct {
	msg  string
	mark error
}

func (e *markedError) Error() string        { return e.msg }
func (e *markedError) Is(target error) bool { return target == e.mark }
