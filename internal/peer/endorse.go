package peer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/policy"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// ProposalError is a proposal refused before or instead of simulation.
// Status is what the ProposalResponse carries (400 for a bad request, 403
// for access denied, 404 for an unknown channel or contract, 409 for a
// duplicate transaction id, 500 otherwise).
type ProposalError struct {
	Status  int32
	Message string
}

func (e *ProposalError) Error() string { return e.Message }

func refuseProposal(status int32, format string, args ...any) *ProposalError {
	return &ProposalError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Simulation is the outcome of running a proposal's contract call.
type Simulation struct {
	Proposal *envelope.Proposal
	// Response is the contract's answer; status ≥ 400 means it failed and
	// nothing is endorsed.
	Response *peerpb.Response
	// ResponsePayload is the marshalled ProposalResponsePayload (proposal
	// hash and ChaincodeAction), what endorsers sign; nil on failure.
	ResponsePayload []byte
}

// Simulate checks a signed proposal and runs its contract call against a
// snapshot of the channel's state, without writing anything. accessPolicy
// is the channel policy the creator must satisfy (Writers to endorse,
// Readers to evaluate).
func (p *Peer) Simulate(sp *peerpb.SignedProposal, accessPolicy string) (*Simulation, error) {
	prop, err := parseProposal(sp)
	if err != nil {
		return nil, err
	}
	return p.simulate(sp, prop, accessPolicy)
}

func parseProposal(sp *peerpb.SignedProposal) (*envelope.Proposal, error) {
	prop, err := envelope.ParseProposal(sp)
	if err != nil {
		return nil, refuseProposal(400, "malformed proposal: %v", err)
	}
	return prop, nil
}

// simulate is Simulate of a proposal already parsed.
func (p *Peer) simulate(sp *peerpb.SignedProposal, prop *envelope.Proposal, accessPolicy string) (*Simulation, error) {
	ch, err := p.channel(prop.ChannelID())
	if err != nil {
		return nil, refuseProposal(404, "%v", err)
	}
	if err := ch.stopped(); err != nil {
		// Its state no longer follows the ledger: an endorsement would
		// read stale versions.
		return nil, refuseProposal(503, "%v", err)
	}
	bundle := ch.bundle()
	err = bundle.CheckSigned(accessPolicy, channelconfig.SignedData{Data: sp.ProposalBytes, Identity: prop.SignatureHeader.Creator, Signature: sp.Signature})
	switch {
	case errors.Is(err, channelconfig.ErrBadSignature):
		return nil, refuseProposal(400, "proposal signature: %v", err)
	case err != nil:
		return nil, refuseProposal(403, "the creator may not use channel %s: %v", ch.id, err)
	}
	creator, err := bundle.Manager().DeserializeIdentity(prop.SignatureHeader.Creator)
	if err != nil {
		return nil, refuseProposal(400, "creator: %v", err)
	}
	if _, err := ch.ledger.TxByID(prop.TxID()); err == nil {
		return nil, refuseProposal(409, "duplicate transaction found [%s]", prop.TxID())
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return nil, refuseProposal(500, "looking up transaction %s: %v", prop.TxID(), err)
	}

	snap := ch.state.NewSnapshot(p.opts.DB)
	defer snap.Close()
	name := prop.ContractName()
	sim := ch.state.NewSimulator(snap)
	defer sim.Close()
	// The definition is read through the simulator, so the read is
	// recorded: a transaction endorsed under a definition that changes
	// before it commits fails MVCC validation, as in Fabric.
	res, err := contract.Execute(p.contracts, sim, contract.Invocation{
		ChannelID:    ch.id,
		Contract:     name,
		Args:         prop.Args(),
		TxID:         prop.TxID(),
		Timestamp:    prop.ChannelHeader.GetTimestamp().AsTime(),
		Creator:      creator,
		CreatorBytes: prop.SignatureHeader.Creator,
		Definitions:  contract.SimulatorDefinitions{Simulator: sim},
		Lifecycle:    lifecycleContext(bundle),
	})
	switch {
	case errors.Is(err, contract.ErrNotDefined):
		return nil, refuseProposal(404, "%v", err)
	case errors.Is(err, contract.ErrNotInstalled):
		return nil, refuseProposal(404, "%v", err)
	case err != nil:
		return nil, refuseProposal(500, "%v", err)
	}
	version := ""
	if res.Definition != nil {
		version = res.Definition.Version
	}
	out := &Simulation{Proposal: prop, Response: &peerpb.Response{Status: res.Response.Status, Message: res.Response.Message, Payload: res.Response.Payload}}
	if out.Response.Status >= 400 {
		return out, nil
	}
	_, results, err := sim.Results()
	if err != nil {
		return nil, refuseProposal(500, "read/write set: %v", err)
	}
	var events []byte
	if res.Event != nil {
		if events, err = envelope.Marshal(res.Event); err != nil {
			return nil, refuseProposal(500, "event: %v", err)
		}
	}
	action, err := envelope.Marshal(&peerpb.ChaincodeAction{
		Results:     results,
		Events:      events,
		Response:    out.Response,
		ChaincodeId: &peerpb.ChaincodeID{Name: name, Version: version},
	})
	if err != nil {
		return nil, refuseProposal(500, "chaincode action: %v", err)
	}
	hash, err := prop.Hash()
	if err != nil {
		return nil, refuseProposal(500, "proposal hash: %v", err)
	}
	if out.ResponsePayload, err = envelope.Marshal(&peerpb.ProposalResponsePayload{ProposalHash: hash, Extension: action}); err != nil {
		return nil, refuseProposal(500, "proposal response payload: %v", err)
	}
	return out, nil
}

// Endorse simulates a proposal for a transaction and, when the contract
// succeeds, signs the result: the ProposalResponse Fabric's endorsers
// return. A failed contract gives a response with its status and message
// and no endorsement. The proposal is counted and timed in the peer's
// metrics, whether it came to the Endorser service or to this peer's
// Gateway.
func (p *Peer) Endorse(sp *peerpb.SignedProposal) (*peerpb.ProposalResponse, error) {
	start := time.Now()
	prop, err := parseProposal(sp)
	var res *peerpb.ProposalResponse
	if err == nil {
		res, err = p.endorse(sp, prop)
	}
	p.recordProposal(prop, start, res, err)
	return res, err
}

// endorse is Endorse of a proposal already parsed.
func (p *Peer) endorse(sp *peerpb.SignedProposal, prop *envelope.Proposal) (*peerpb.ProposalResponse, error) {
	sim, err := p.simulate(sp, prop, channelconfig.PolicyWriters)
	if err != nil {
		return nil, err
	}
	res := &peerpb.ProposalResponse{Version: 1, Response: sim.Response}
	if sim.Response.Status >= 400 {
		return res, nil
	}
	endorser := p.opts.Signer.Serialize()
	signed := envelope.EndorsementSignedBytes(sim.ResponsePayload, endorser)
	sig, err := p.signRemembered(signed)
	if err != nil {
		return nil, refuseProposal(500, "signing the endorsement: %v", err)
	}
	res.Payload = sim.ResponsePayload
	res.Endorsement = &peerpb.Endorsement{Endorser: endorser, Signature: sig}
	return res, nil
}

// ProcessProposal is Fabric's Endorser service. Refusals are answered, as
// Fabric's endorser does, with a ProposalResponse carrying the status and
// the reason, not with a gRPC error.
func (p *Peer) ProcessProposal(ctx context.Context, sp *peerpb.SignedProposal) (*peerpb.ProposalResponse, error) {
	res, err := p.Endorse(sp)
	if err != nil {
		var pe *ProposalError
		if !errors.As(err, &pe) {
			pe = &ProposalError{Status: 500, Message: err.Error()}
		}
		res = &peerpb.ProposalResponse{Version: 1, Response: &peerpb.Response{Status: pe.Status, Message: pe.Message}}
	}
	return res, nil
}

// recordProposal counts a proposal that started at start, and times it,
// by outcome. The label is the channel's own name, and only for a channel
// this peer serves: a client chooses what a proposal says, and a label
// string, kept by the metric for good, would keep the proposal's memory
// alive (its fields share it).
func (p *Peer) recordProposal(prop *envelope.Proposal, start time.Time, res *peerpb.ProposalResponse, err error) {
	channelName := ""
	if prop != nil {
		if ch, chErr := p.channel(prop.ChannelID()); chErr == nil {
			channelName = ch.id
		}
	}
	outcome := "endorsed"
	switch {
	case err != nil:
		outcome = "refused"
	case res.Response.GetStatus() >= 400:
		outcome = "contract-error"
	}
	p.metrics.endorsements.WithLabelValues(channelName, outcome).Inc()
	p.metrics.proposalTime.WithLabelValues(channelName, outcome).Observe(time.Since(start).Seconds())
}

// lifecycleContext is the channel as _lifecycle needs it: its application
// organizations, and whether the organizations that approved a definition
// satisfy the channel's LifecycleEndorsement policy (an approving
// organization counts as if one of its members of any role had signed).
func lifecycleContext(bundle *channelconfig.Bundle) *contract.LifecycleContext {
	var orgs []string
	for _, o := range bundle.Organizations() {
		if o.Type() == policy.ApplicationOrg {
			orgs = append(orgs, o.MSPID())
		}
	}
	pol, ok := bundle.Policy(channelconfig.PolicyLifecycleEndorsement)
	return &contract.LifecycleContext{
		Organizations: orgs,
		ApprovalPolicy: func(approved []string) error {
			if !ok {
				return fmt.Errorf("channel %s has no %s policy", bundle.ChannelID(), channelconfig.PolicyLifecycleEndorsement)
			}
			signers := make([]policy.Signer, len(approved))
			for i, org := range approved {
				signers[i] = approvingOrg(org)
			}
			return pol.Evaluate(signers)
		},
	}
}

// approvingOrg stands for an organization that approved a definition.
type approvingOrg string

func (a approvingOrg) ID() string                 { return "approval of " + string(a) }
func (a approvingOrg) MSPID() string              { return string(a) }
func (a approvingOrg) HasRole(identity.Role) bool { return true }

// signRemembered signs an endorsement and, when the signer can, remembers
// the signature in the signature cache: the peer meets its own
// endorsement again when it validates the transaction's block, and does
// not verify it then. (identity.SigningIdentity can; it also verifies a
// signing device's signature before remembering it.)
func (p *Peer) signRemembered(msg []byte) ([]byte, error) {
	if s, ok := p.opts.Signer.(interface {
		SignAndRemember([]byte, *identity.SignatureCache) ([]byte, error)
	}); ok {
		return s.SignAndRemember(msg, p.opts.SignatureCache)
	}
	return p.opts.Signer.Sign(msg)
}
