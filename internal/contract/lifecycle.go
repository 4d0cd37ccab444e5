package contract

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
)

// Lifecycle is the native _lifecycle system contract: it keeps the
// channel's contract definitions, at DefinitionKey(name) in the _lifecycle
// namespace, each the deterministic encoding of a
// lifecyclepb.ContractDefinition. Register it under LifecycleName.
//
// Functions (args[0]; the rest are the arguments):
//
//   - CommitDefinition(definition): commits the definition given as JSON
//     (DefinitionJSON, checked by ParseDefinitionJSON) as the contract's
//     next sequence: 1 for a new contract, the current sequence + 1 for
//     another. Only an admin of one of the channel's organizations may
//     call it. The payload is the committed definition as JSON. The
//     channel's LifecycleEndorsement policy, which the validator enforces
//     on writes to _lifecycle, decides how many organizations must endorse
//     it.
//   - QueryDefinition(name): the definition of name as JSON; a 404
//     Response when it is not defined.
//   - QueryDefinitions(): every definition as a JSON array sorted by name
//     ([] when none).
//
// Approvals by each organization come later; for now a commit needs no
// prior approval. The zero Lifecycle is ready to use and safe for
// concurrent use.
type Lifecycle struct{}

// Invoke runs one _lifecycle function.
func (Lifecycle) Invoke(stub Stub) Response {
	args := stub.Args()
	switch fn := stub.Function(); fn {
	case "CommitDefinition":
		if len(args) != 1 {
			return Errorf("CommitDefinition takes 1 argument (the definition as JSON); got %d", len(args))
		}
		return commitDefinition(stub, args[0])
	case "QueryDefinition":
		if len(args) != 1 {
			return Errorf("QueryDefinition takes 1 argument (name); got %d", len(args))
		}
		return queryDefinition(stub, string(args[0]))
	case "QueryDefinitions":
		if len(args) != 0 {
			return Errorf("QueryDefinitions takes no arguments; got %d", len(args))
		}
		return queryDefinitions(stub)
	default:
		return Errorf("unknown function %q of %s; it has CommitDefinition, QueryDefinition and QueryDefinitions", fn, LifecycleName)
	}
}

func commitDefinition(stub Stub, arg []byte) Response {
	creator := stub.Creator()
	if creator == nil || !creator.HasRole(identity.RoleAdmin) {
		return Errorf("only an organization admin may commit a contract definition; the caller is %s", callerName(creator))
	}
	def, err := parseDefinition(arg)
	if err != nil {
		return Errorf("%w", err)
	}
	current, err := storedDefinition(stub, def.GetName())
	if err != nil {
		return Errorf("%w", err)
	}
	var seq uint64
	if current != nil {
		seq = current.GetSequence()
	}
	if seq == math.MaxUint64 || def.GetSequence() != seq+1 {
		if current == nil {
			return Errorf("sequence %d is not the next sequence of contract %s (it is not defined yet: the first sequence is 1)", def.GetSequence(), def.GetName())
		}
		return Errorf("sequence %d is not the next sequence of contract %s (current %d)", def.GetSequence(), def.GetName(), seq)
	}
	b, err := envelope.Marshal(def)
	if err != nil {
		return Errorf("encoding the definition of %s: %w", def.GetName(), err)
	}
	if err := stub.PutState(DefinitionKey(def.GetName()), b); err != nil {
		return Errorf("%w", err)
	}
	return jsonResponse(toJSON(def))
}

func queryDefinition(stub Stub, name string) Response {
	def, err := storedDefinition(stub, name)
	if err != nil {
		return Errorf("%w", err)
	}
	if def == nil {
		return Statusf(StatusNotFound, "contract %s is not defined on channel %s", name, stub.ChannelID())
	}
	return jsonResponse(toJSON(def))
}

func queryDefinitions(stub Stub) Response {
	// The keys after the prefix are the names; in key order, they are
	// sorted by name. '0' follows '/'.
	it, err := stub.GetStateByRange(definitionPrefix, "definitions0")
	if err != nil {
		return Errorf("%w", err)
	}
	defer it.Close()
	out := []DefinitionJSON{}
	for it.Next() {
		name := it.Key()[len(definitionPrefix):]
		def, err := decodeDefinition(name, it.Value())
		if err != nil {
			return Errorf("%w", err)
		}
		out = append(out, toJSON(def))
	}
	if err := it.Err(); err != nil {
		return Errorf("%w", err)
	}
	return jsonResponse(out)
}

// storedDefinition returns the committed definition of name, or nil.
func storedDefinition(stub Stub, name string) (*lifecyclepb.ContractDefinition, error) {
	b, err := stub.GetState(DefinitionKey(name))
	if err != nil || b == nil {
		return nil, err
	}
	return decodeDefinition(name, b)
}

func jsonResponse(v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return Errorf("encoding the response: %w", err)
	}
	return Success(b)
}

// callerName names an identity as a policy principal: "Org1MSP.client".
func callerName(id *identity.Identity) string {
	if id == nil {
		return "unknown"
	}
	return fmt.Sprintf("%s.%s", id.MSPID(), id.Role())
}
