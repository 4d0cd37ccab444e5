package envelope

import (
	"crypto/sha256"
	"fmt"

	"github.com/chorusledger/chorus/internal/zerocopy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// Proposal is a parsed SignedProposal for a contract invocation, with the
// bytes that were signed and hashed kept as received.
type Proposal struct {
	Signed          *peerpb.SignedProposal
	Proposal        *peerpb.Proposal
	Header          *commonpb.Header
	ChannelHeader   *commonpb.ChannelHeader
	SignatureHeader *commonpb.SignatureHeader
	Creator         *msppb.SerializedIdentity
	Extension       *peerpb.ChaincodeHeaderExtension
	Payload         *peerpb.ChaincodeProposalPayload
	Invocation      *peerpb.ChaincodeInvocationSpec
}

// TxID is the transaction id in the proposal's channel header.
func (p *Proposal) TxID() string { return p.ChannelHeader.TxId }

// ChannelID is the channel the proposal is for.
func (p *Proposal) ChannelID() string { return p.ChannelHeader.ChannelId }

// ContractName is the invoked contract.
func (p *Proposal) ContractName() string {
	return p.Invocation.ChaincodeSpec.ChaincodeId.Name
}

// Args are the function name followed by its arguments.
func (p *Proposal) Args() [][]byte { return p.Invocation.ChaincodeSpec.GetInput().GetArgs() }

// ParseProposal decodes a SignedProposal and applies Fabric's structural
// checks: an ENDORSER_TRANSACTION for a named channel and contract, epoch 0,
// a nonce and a creator, and tx_id = hex(SHA-256(nonce ‖ creator)). It does
// not check the signature or the creator's membership.
func ParseProposal(sp *peerpb.SignedProposal) (*Proposal, error) {
	if sp == nil || len(sp.ProposalBytes) == 0 {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, nil, "a signed proposal is required")
	}
	p := &Proposal{Signed: sp, Proposal: &peerpb.Proposal{}, Header: &commonpb.Header{}}
	if err := zerocopy.Unmarshal(sp.ProposalBytes, p.Proposal); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode proposal")
	}
	if err := zerocopy.Unmarshal(p.Proposal.Header, p.Header); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_COMMON_HEADER, err, "decode proposal header")
	}
	var err error
	p.ChannelHeader, p.SignatureHeader, p.Creator, err = parseHeader(p.Header)
	if err != nil {
		return nil, err
	}
	ch := p.ChannelHeader
	if ch.Type != int32(commonpb.HeaderType_ENDORSER_TRANSACTION) {
		return nil, malformed(peerpb.TxValidationCode_UNSUPPORTED_TX_PAYLOAD, nil, "proposal header type %s, want ENDORSER_TRANSACTION", headerTypeName(ch.Type))
	}
	if ch.ChannelId == "" {
		return nil, malformed(peerpb.TxValidationCode_BAD_CHANNEL_HEADER, nil, "proposal has no channel id")
	}
	if ch.Epoch != 0 {
		return nil, malformed(peerpb.TxValidationCode_BAD_CHANNEL_HEADER, nil, "proposal epoch is %d, want 0", ch.Epoch)
	}
	p.Extension = &peerpb.ChaincodeHeaderExtension{}
	if err := zerocopy.Unmarshal(ch.Extension, p.Extension); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_HEADER_EXTENSION, err, "decode chaincode header extension")
	}
	if p.Extension.GetChaincodeId().GetName() == "" {
		return nil, malformed(peerpb.TxValidationCode_BAD_HEADER_EXTENSION, nil, "chaincode header extension names no contract")
	}
	if err := CheckTxID(ch.TxId, p.SignatureHeader); err != nil {
		return nil, err
	}
	p.Payload = &peerpb.ChaincodeProposalPayload{}
	if err := zerocopy.Unmarshal(p.Proposal.Payload, p.Payload); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode chaincode proposal payload")
	}
	p.Invocation = &peerpb.ChaincodeInvocationSpec{}
	if err := zerocopy.Unmarshal(p.Payload.Input, p.Invocation); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode chaincode invocation spec")
	}
	if p.Invocation.GetChaincodeSpec().GetChaincodeId().GetName() == "" {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, nil, "proposal names no contract")
	}
	if len(p.Invocation.ChaincodeSpec.GetInput().GetArgs()) == 0 {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, nil, "proposal names no function")
	}
	return p, nil
}

// CheckTxID checks that txID = hex(SHA-256(nonce ‖ creator)) for the
// signature header's nonce and creator.
func CheckTxID(txID string, sh *commonpb.SignatureHeader) error {
	if len(sh.GetNonce()) == 0 {
		return malformed(peerpb.TxValidationCode_BAD_COMMON_HEADER, nil, "signature header has no nonce")
	}
	if len(sh.GetCreator()) == 0 {
		return malformed(peerpb.TxValidationCode_BAD_COMMON_HEADER, nil, "signature header has no creator")
	}
	if want := TxID(sh.Nonce, sh.Creator); txID != want {
		return malformed(peerpb.TxValidationCode_BAD_PROPOSAL_TXID, nil, "transaction id %q is not hex(SHA-256(nonce ‖ creator)) = %q", txID, want)
	}
	return nil
}

// PayloadWithoutTransient returns the marshalled ChaincodeProposalPayload
// with its transient map removed: what goes into the transaction and the
// proposal hash, so transient data never reaches the ledger.
func (p *Proposal) PayloadWithoutTransient() ([]byte, error) {
	return Marshal(&peerpb.ChaincodeProposalPayload{Input: p.Payload.Input})
}

// Hash returns the proposal hash placed in ProposalResponsePayload:
// SHA-256(channel header ‖ signature header ‖ payload without transient map).
func (p *Proposal) Hash() ([]byte, error) {
	pl, err := p.PayloadWithoutTransient()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(p.Header.ChannelHeader)
	h.Write(p.Header.SignatureHeader)
	h.Write(pl)
	return h.Sum(nil), nil
}

func headerTypeName(t int32) string {
	if n, ok := commonpb.HeaderType_name[t]; ok {
		return n
	}
	return fmt.Sprintf("%d", t)
}
