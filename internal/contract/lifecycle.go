package contract

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
	"google.golang.org/protobuf/proto"
)

// Lifecycle is the native _lifecycle system contract, which manages
// contract definitions as Fabric 2.x does. It keeps, in the _lifecycle
// namespace, each committed definition at DefinitionKey(name) and each
// organization's approval at "approvals/<name>/<sequence>/<MSPID>", both
// deterministic encodings of chorus.lifecycle.v1 messages. Register it
// under LifecycleName.
//
// Functions (args[0]; the rest are the arguments; definitions are JSON as
// DefinitionJSON, checked by ParseDefinitionJSON):
//
//   - ApproveForMyOrg(definition): records the caller's organization's
//     approval of the definition for the contract's next sequence (1 for a
//     new contract). Only an organization admin may call it; approving the
//     sequence again replaces the organization's earlier approval.
//   - CheckCommitReadiness(definition): which organizations approved
//     exactly this definition: {"approvals":{"Org1MSP":true,...}}.
//   - CommitDefinition(definition): commits the definition as the next
//     sequence once the organizations that approved exactly it satisfy the
//     channel's LifecycleEndorsement policy (by default a majority); the
//     refusal names who approved and who did not. Admins only.
//   - QueryApprovals(name, sequence): each organization's approved
//     definition for that sequence, or null.
//   - QueryDefinition(name), QueryDefinitions(): the committed
//     definitions; 404 when the contract is not defined.
//
// The channel's organizations and its approval rule reach _lifecycle
// through Invocation.Lifecycle; user contracts cannot see them.
type Lifecycle struct{}

// Invoke runs one _lifecycle function.
func (Lifecycle) Invoke(stub Stub) Response {
	args := stub.Args()
	oneDefinition := func(fn string) ([]byte, Response, bool) {
		if len(args) != 1 {
			return nil, Errorf("%s takes 1 argument (the definition as JSON); got %d", fn, len(args)), false
		}
		return args[0], Response{}, true
	}
	switch fn := stub.Function(); fn {
	case "ApproveForMyOrg":
		arg, bad, ok := oneDefinition(fn)
		if !ok {
			return bad
		}
		return approveForMyOrg(stub, arg)
	case "CheckCommitReadiness":
		arg, bad, ok := oneDefinition(fn)
		if !ok {
			return bad
		}
		return checkCommitReadiness(stub, arg)
	case "CommitDefinition":
		arg, bad, ok := oneDefinition(fn)
		if !ok {
			return bad
		}
		return commitDefinition(stub, arg)
	case "QueryApprovals":
		if len(args) != 2 {
			return Errorf("QueryApprovals takes 2 arguments (name, sequence); got %d", len(args))
		}
		seq, err := strconv.ParseUint(string(args[1]), 10, 64)
		if err != nil {
			return Errorf("QueryApprovals: sequence %q is not a number", args[1])
		}
		return queryApprovals(stub, string(args[0]), seq)
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
		return Errorf("unknown function %q of %s; it has ApproveForMyOrg, CheckCommitReadiness, CommitDefinition, QueryApprovals, QueryDefinition and QueryDefinitions", fn, LifecycleName)
	}
}

// lifecycleOf returns the channel context of a _lifecycle invocation.
func lifecycleOf(stub Stub) *LifecycleContext {
	if s, ok := stub.(interface{ lifecycle() *LifecycleContext }); ok {
		return s.lifecycle()
	}
	return nil
}

// approvalKey is where an organization's approval of a definition's
// sequence is kept: "approvals/<name>/<sequence>/<MSPID>".
func approvalKey(name string, seq uint64, mspID string) string {
	return fmt.Sprintf("approvals/%s/%d/%s", name, seq, mspID)
}

// checkNext parses a definition argument and checks that an admin calls
// and that its sequence is the contract's next one.
func checkNext(stub Stub, arg []byte, verb string) (*lifecyclepb.ContractDefinition, Response, bool) {
	creator := stub.Creator()
	if creator == nil || !creator.HasRole(identity.RoleAdmin) {
		return nil, Errorf("only an organization admin may %s a contract definition; the caller is %s", verb, callerName(creator)), false
	}
	def, err := parseDefinition(arg)
	if err != nil {
		return nil, Errorf("%w", err), false
	}
	current, err := storedDefinition(stub, def.GetName())
	if err != nil {
		return nil, Errorf("%w", err), false
	}
	var seq uint64
	if current != nil {
		seq = current.GetSequence()
	}
	if seq == math.MaxUint64 || def.GetSequence() != seq+1 {
		if current == nil {
			return nil, Errorf("sequence %d is not the next sequence of contract %s (it is not defined yet: the first sequence is 1)", def.GetSequence(), def.GetName()), false
		}
		return nil, Errorf("sequence %d is not the next sequence of contract %s (current %d)", def.GetSequence(), def.GetName(), seq), false
	}
	return def, Response{}, true
}

// approveForMyOrg records the caller's organization's approval of a
// definition for the contract's next sequence. Approving again replaces
// the organization's earlier approval of that sequence.
func approveForMyOrg(stub Stub, arg []byte) Response {
	def, bad, ok := checkNext(stub, arg, "approve")
	if !ok {
		return bad
	}
	b, err := envelope.Marshal(&lifecyclepb.Approval{FormatVersion: DefinitionFormatVersion, Definition: def})
	if err != nil {
		return Errorf("encoding the approval: %w", err)
	}
	mspID := stub.Creator().MSPID()
	if err := stub.PutState(approvalKey(def.GetName(), def.GetSequence(), mspID), b); err != nil {
		return Errorf("%w", err)
	}
	return jsonResponse(map[string]any{"approvedBy": mspID, "definition": toJSON(def)})
}

// approvalsOf returns, for each organization of the channel, whether it
// approved exactly def, and the approving and missing organizations.
func approvalsOf(stub Stub, lc *LifecycleContext, def *lifecyclepb.ContractDefinition) (map[string]bool, []string, []string, error) {
	status := map[string]bool{}
	var approved, missing []string
	for _, org := range lc.Organizations {
		b, err := stub.GetState(approvalKey(def.GetName(), def.GetSequence(), org))
		if err != nil {
			return nil, nil, nil, err
		}
		ok := false
		if b != nil {
			a := &lifecyclepb.Approval{}
			if err := proto.Unmarshal(b, a); err != nil {
				return nil, nil, nil, fmt.Errorf("the approval of %s by %s does not decode: %w", def.GetName(), org, err)
			}
			ok = proto.Equal(a.GetDefinition(), def)
		}
		status[org] = ok
		if ok {
			approved = append(approved, org)
		} else {
			missing = append(missing, org)
		}
	}
	return status, approved, missing, nil
}

// checkCommitReadiness says which organizations approved the definition.
func checkCommitReadiness(stub Stub, arg []byte) Response {
	lc := lifecycleOf(stub)
	if lc == nil {
		return Errorf("%s needs the channel's organizations, which this invocation lacks", LifecycleName)
	}
	def, err := parseDefinition(arg)
	if err != nil {
		return Errorf("%w", err)
	}
	status, _, _, err := approvalsOf(stub, lc, def)
	if err != nil {
		return Errorf("%w", err)
	}
	return jsonResponse(map[string]any{"approvals": status})
}

// commitDefinition commits a definition once enough organizations
// approved exactly it, per the channel's LifecycleEndorsement policy.
func commitDefinition(stub Stub, arg []byte) Response {
	def, bad, ok := checkNext(stub, arg, "commit")
	if !ok {
		return bad
	}
	lc := lifecycleOf(stub)
	if lc == nil || lc.ApprovalPolicy == nil {
		return Errorf("%s needs the channel's approval policy, which this invocation lacks", LifecycleName)
	}
	_, approved, missing, err := approvalsOf(stub, lc, def)
	if err != nil {
		return Errorf("%w", err)
	}
	if err := lc.ApprovalPolicy(approved); err != nil {
		return Errorf("contract %s sequence %d cannot be committed: not enough organizations approved this definition (approved: %s; not approved: %s): %v",
			def.GetName(), def.GetSequence(), listOrNone(approved), listOrNone(missing), err)
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

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// queryApprovals returns, per organization of the channel, the definition
// it approved for that sequence (null when none).
func queryApprovals(stub Stub, name string, seq uint64) Response {
	lc := lifecycleOf(stub)
	if lc == nil {
		return Errorf("%s needs the channel's organizations, which this invocation lacks", LifecycleName)
	}
	out := map[string]*DefinitionJSON{}
	for _, org := range lc.Organizations {
		b, err := stub.GetState(approvalKey(name, seq, org))
		if err != nil {
			return Errorf("%w", err)
		}
		out[org] = nil
		if b != nil {
			a := &lifecyclepb.Approval{}
			if err := proto.Unmarshal(b, a); err != nil {
				return Errorf("the approval of %s by %s does not decode: %v", name, org, err)
			}
			j := toJSON(a.GetDefinition())
			out[org] = &j
		}
	}
	return jsonResponse(out)
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
