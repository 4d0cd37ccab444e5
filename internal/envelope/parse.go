package envelope

import (
	"github.com/chorusledger/chorus/internal/zerocopy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// Envelope is a parsed common.Envelope. Raw, PayloadBytes, the header bytes
// and Signature are the bytes as received.
type Envelope struct {
	Raw             []byte // the marshalled envelope
	PayloadBytes    []byte // what Signature signs
	Signature       []byte
	Payload         *commonpb.Payload
	ChannelHeader   *commonpb.ChannelHeader
	SignatureHeader *commonpb.SignatureHeader
	Creator         *msppb.SerializedIdentity
}

// Type is the envelope's header type.
func (e *Envelope) Type() commonpb.HeaderType { return commonpb.HeaderType(e.ChannelHeader.Type) }

// TxID is the transaction id written in the channel header.
func (e *Envelope) TxID() string { return e.ChannelHeader.TxId }

// ParseEnvelope decodes an envelope and its headers. It checks structure
// only: that the headers are present and decodable and the creator is a
// serialized identity. It does not verify signatures or the transaction id.
func ParseEnvelope(raw []byte) (*Envelope, error) {
	if len(raw) == 0 {
		return nil, malformed(peerpb.TxValidationCode_NIL_ENVELOPE, nil, "empty envelope")
	}
	env := &commonpb.Envelope{}
	if err := zerocopy.Unmarshal(raw, env); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode envelope")
	}
	e, err := ParseEnvelopeMessage(env)
	if err != nil {
		return nil, err
	}
	e.Raw = raw
	return e, nil
}

// ParseEnvelopeMessage is ParseEnvelope for an envelope already decoded.
// Raw is left nil.
func ParseEnvelopeMessage(env *commonpb.Envelope) (*Envelope, error) {
	if env == nil || len(env.Payload) == 0 {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, nil, "envelope has no payload")
	}
	payload := &commonpb.Payload{}
	if err := zerocopy.Unmarshal(env.Payload, payload); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode payload")
	}
	if payload.Header == nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_COMMON_HEADER, nil, "payload has no header")
	}
	ch, sh, creator, err := parseHeader(payload.Header)
	if err != nil {
		return nil, err
	}
	return &Envelope{
		PayloadBytes:    env.Payload,
		Signature:       env.Signature,
		Payload:         payload,
		ChannelHeader:   ch,
		SignatureHeader: sh,
		Creator:         creator,
	}, nil
}

func parseHeader(h *commonpb.Header) (*commonpb.ChannelHeader, *commonpb.SignatureHeader, *msppb.SerializedIdentity, error) {
	if len(h.ChannelHeader) == 0 {
		return nil, nil, nil, malformed(peerpb.TxValidationCode_BAD_CHANNEL_HEADER, nil, "empty channel header")
	}
	ch := &commonpb.ChannelHeader{}
	if err := zerocopy.Unmarshal(h.ChannelHeader, ch); err != nil {
		return nil, nil, nil, malformed(peerpb.TxValidationCode_BAD_CHANNEL_HEADER, err, "decode channel header")
	}
	sh := &commonpb.SignatureHeader{}
	if err := zerocopy.Unmarshal(h.SignatureHeader, sh); err != nil {
		return nil, nil, nil, malformed(peerpb.TxValidationCode_BAD_COMMON_HEADER, err, "decode signature header")
	}
	creator := &msppb.SerializedIdentity{}
	if err := zerocopy.Unmarshal(sh.Creator, creator); err != nil {
		return nil, nil, nil, malformed(peerpb.TxValidationCode_BAD_COMMON_HEADER, err, "decode creator")
	}
	return ch, sh, creator, nil
}

// EndorserTransaction is a parsed ENDORSER_TRANSACTION: one contract
// invocation and its endorsements. Fabric's clients always send one action;
// transactions with any other count are refused.
type EndorserTransaction struct {
	// SignatureHeaderBytes is the proposal's signature header as the
	// action carries it.
	SignatureHeaderBytes []byte
	// ProposalPayloadBytes is the ChaincodeProposalPayload without the
	// transient map, as it was hashed into the proposal hash.
	ProposalPayloadBytes []byte
	ProposalPayload      *peerpb.ChaincodeProposalPayload
	Invocation           *peerpb.ChaincodeInvocationSpec
	// ResponsePayloadBytes is what every endorser signed (followed by its
	// own serialized identity).
	ResponsePayloadBytes []byte
	ResponsePayload      *peerpb.ProposalResponsePayload
	Action               *peerpb.ChaincodeAction
	RWSet                *rwsetpb.TxReadWriteSet
	// NsRWSets holds each namespace's decoded KV read/write set, in the
	// order of RWSet.NsRwset.
	NsRWSets     []NsRWSet
	Event        *peerpb.ChaincodeEvent // nil when the contract set none
	Endorsements []*peerpb.Endorsement
}

// NsRWSet is the read/write set of one namespace.
type NsRWSet struct {
	Namespace string
	KV        *kvrwsetpb.KVRWSet
}

// ContractName is the name of the invoked contract.
func (t *EndorserTransaction) ContractName() string {
	return t.Invocation.GetChaincodeSpec().GetChaincodeId().GetName()
}

// ParseEndorserTransaction decodes the data of an ENDORSER_TRANSACTION
// payload down to the read/write sets.
func ParseEndorserTransaction(data []byte) (*EndorserTransaction, error) {
	tx := &peerpb.Transaction{}
	if err := zerocopy.Unmarshal(data, tx); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode transaction")
	}
	if len(tx.Actions) == 0 {
		return nil, malformed(peerpb.TxValidationCode_NIL_TXACTION, nil, "transaction has no actions")
	}
	if len(tx.Actions) > 1 {
		return nil, malformed(peerpb.TxValidationCode_INVALID_OTHER_REASON, nil, "transaction has %d actions; exactly one is supported", len(tx.Actions))
	}
	action := tx.Actions[0]
	out := &EndorserTransaction{SignatureHeaderBytes: action.Header}

	actionPayload := &peerpb.ChaincodeActionPayload{}
	if err := zerocopy.Unmarshal(action.Payload, actionPayload); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode chaincode action payload")
	}
	if actionPayload.Action == nil {
		return nil, malformed(peerpb.TxValidationCode_NIL_TXACTION, nil, "chaincode action payload has no endorsed action")
	}
	out.ProposalPayloadBytes = actionPayload.ChaincodeProposalPayload
	out.ProposalPayload = &peerpb.ChaincodeProposalPayload{}
	if err := zerocopy.Unmarshal(actionPayload.ChaincodeProposalPayload, out.ProposalPayload); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode chaincode proposal payload")
	}
	out.Invocation = &peerpb.ChaincodeInvocationSpec{}
	if err := zerocopy.Unmarshal(out.ProposalPayload.Input, out.Invocation); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_PAYLOAD, err, "decode chaincode invocation spec")
	}
	out.Endorsements = actionPayload.Action.Endorsements
	out.ResponsePayloadBytes = actionPayload.Action.ProposalResponsePayload

	prp := &peerpb.ProposalResponsePayload{}
	if err := zerocopy.Unmarshal(actionPayload.Action.ProposalResponsePayload, prp); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_RESPONSE_PAYLOAD, err, "decode proposal response payload")
	}
	out.ResponsePayload = prp
	ca := &peerpb.ChaincodeAction{}
	if err := zerocopy.Unmarshal(prp.Extension, ca); err != nil {
		return nil, malformed(peerpb.TxValidationCode_BAD_RESPONSE_PAYLOAD, err, "decode chaincode action")
	}
	out.Action = ca
	if len(ca.Events) > 0 {
		ev := &peerpb.ChaincodeEvent{}
		if err := zerocopy.Unmarshal(ca.Events, ev); err != nil {
			return nil, malformed(peerpb.TxValidationCode_BAD_RESPONSE_PAYLOAD, err, "decode chaincode event")
		}
		out.Event = ev
	}
	rws, ns, err := ParseRWSet(ca.Results)
	if err != nil {
		return nil, err
	}
	out.RWSet, out.NsRWSets = rws, ns
	return out, nil
}

// ParseRWSet decodes a marshalled TxReadWriteSet and each namespace's KV
// read/write set. A namespace may appear only once. Hashed private-data
// collection sets are decoded as they are; deciding whether to accept them
// is the validator's business.
func ParseRWSet(b []byte) (*rwsetpb.TxReadWriteSet, []NsRWSet, error) {
	rws := &rwsetpb.TxReadWriteSet{}
	if err := zerocopy.Unmarshal(b, rws); err != nil {
		return nil, nil, malformed(peerpb.TxValidationCode_BAD_RWSET, err, "decode read/write set")
	}
	if rws.DataModel != rwsetpb.TxReadWriteSet_KV {
		return nil, nil, malformed(peerpb.TxValidationCode_BAD_RWSET, nil, "unsupported read/write set data model %v", rws.DataModel)
	}
	ns := make([]NsRWSet, 0, len(rws.NsRwset))
	seen := make(map[string]bool, len(rws.NsRwset))
	for _, n := range rws.NsRwset {
		if seen[n.Namespace] {
			return nil, nil, malformed(peerpb.TxValidationCode_BAD_RWSET, nil, "namespace %q appears twice in the read/write set", n.Namespace)
		}
		seen[n.Namespace] = true
		kv := &kvrwsetpb.KVRWSet{}
		if err := zerocopy.Unmarshal(n.Rwset, kv); err != nil {
			return nil, nil, malformed(peerpb.TxValidationCode_BAD_RWSET, err, "decode KV read/write set of namespace %q", n.Namespace)
		}
		ns = append(ns, NsRWSet{Namespace: n.Namespace, KV: kv})
	}
	return rws, ns, nil
}

// EndorsementSignedBytes returns what an endorser signs: the proposal
// response payload followed by the endorser's serialized identity.
func EndorsementSignedBytes(responsePayload, endorser []byte) []byte {
	return AppendEndorsementSignedBytes(make([]byte, 0, len(responsePayload)+len(endorser)), responsePayload, endorser)
}

// AppendEndorsementSignedBytes appends what an endorser signs to dst, for
// a caller that reuses a buffer.
func AppendEndorsementSignedBytes(dst, responsePayload, endorser []byte) []byte {
	return append(append(dst, responsePayload...), endorser...)
}
