package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// ProposalOption configures a proposal made by Contract.NewProposal.
type ProposalOption func(*proposalOptions)

type proposalOptions struct {
	transient     map[string][]byte
	endorsingOrgs []string
	bytesArgs     [][]byte
	hasBytesArgs  bool
}

// WithTransient passes transient data to the contract: private inputs the
// contract can read but that are not recorded in the transaction. The map
// is copied.
func WithTransient(transient map[string][]byte) ProposalOption {
	return func(o *proposalOptions) { o.transient = maps.Clone(transient) }
}

// WithEndorsingOrganizations asks the Gateway to have the proposal endorsed
// (or, for Evaluate, evaluated) by peers of exactly these organizations,
// given by MSP id, instead of the ones it would choose.
func WithEndorsingOrganizations(mspIDs ...string) ProposalOption {
	return func(o *proposalOptions) { o.endorsingOrgs = slices.Clone(mspIDs) }
}

// WithBytesArguments gives the function's arguments as bytes, for
// arguments that are not text. NewProposal's args must then be empty.
func WithBytesArguments(args ...[]byte) ProposalOption {
	return func(o *proposalOptions) {
		o.bytesArgs = make([][]byte, len(args))
		for i, a := range args {
			o.bytesArgs[i] = slices.Clone(a)
		}
		o.hasBytesArgs = true
	}
}

// Proposal is a signed transaction proposal: the invocation of one contract
// function, with its transaction id fixed. Evaluate it (a query) or Endorse
// it (the first step of a transaction). It is immutable and safe for
// concurrent use; endorse a given proposal at most once, as its transaction
// id can be committed only once.
type Proposal struct {
	gw            *Gateway
	channel       string
	txID          string
	signed        *peerpb.SignedProposal
	endorsingOrgs []string
}

// NewProposal builds and signs the proposal to run function fn of the
// contract with args, exactly as Fabric's Gateway clients build it: a
// fresh 24-byte nonce, the transaction id hex(SHA-256(nonce ‖ creator)), an
// ENDORSER_TRANSACTION channel header stamped now, and the invocation
// [fn, args...]. It makes no call.
func (c *Contract) NewProposal(fn string, args []string, opts ...ProposalOption) (*Proposal, error) {
	gw := c.network.gw
	var o proposalOptions
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case c.network.name == "":
		return nil, errors.New("client: proposal without a channel name")
	case c.name == "":
		return nil, errors.New("client: proposal without a contract name")
	case fn == "":
		return nil, fmt.Errorf("client: proposal to contract %s without a function name", c.name)
	case o.hasBytesArgs && len(args) > 0:
		return nil, errors.New("client: proposal with both string arguments and WithBytesArguments")
	}
	input := make([][]byte, 0, 1+len(args)+len(o.bytesArgs))
	input = append(input, []byte(fn))
	for _, a := range args {
		input = append(input, []byte(a))
	}
	input = append(input, o.bytesArgs...)

	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(gw.opts.rand, nonce); err != nil {
		return nil, fmt.Errorf("client: generating a nonce: %w", err)
	}
	txID, proposalBytes, err := buildProposal(proposalInput{
		creator:   gw.creator,
		nonce:     nonce,
		timestamp: gw.opts.now(),
		channel:   c.network.name,
		chaincode: c.name,
		args:      input,
		transient: o.transient,
	})
	if err != nil {
		return nil, err
	}
	sig, err := gw.signer.Sign(proposalBytes)
	if err != nil {
		return nil, fmt.Errorf("client: signing proposal %s: %w", txID, err)
	}
	return &Proposal{
		gw:            gw,
		channel:       c.network.name,
		txID:          txID,
		signed:        &peerpb.SignedProposal{ProposalBytes: proposalBytes, Signature: sig},
		endorsingOrgs: o.endorsingOrgs,
	}, nil
}

// TransactionID returns the proposal's transaction id: 64 lowercase hex
// digits.
func (p *Proposal) TransactionID() string { return p.txID }

// Evaluate sends the proposal to the Gateway for evaluation: a peer runs the
// function without ordering or committing anything, and Evaluate returns
// its result. Failures, a contract error among them, return a
// *GatewayError.
func (p *Proposal) Evaluate(ctx context.Context) ([]byte, error) {
	ctx, cancel := withTimeout(ctx, p.gw.opts.evaluateTimeout)
	defer cancel()
	resp, err := p.gw.client.Evaluate(ctx, &gatewaypb.EvaluateRequest{
		TransactionId:       p.txID,
		ChannelId:           p.channel,
		ProposedTransaction: p.signed,
		TargetOrganizations: p.endorsingOrgs,
	})
	if err != nil {
		return nil, newGatewayError(ctx, err)
	}
	return resp.GetResult().GetPayload(), nil
}

// Endorse sends the proposal to the Gateway for endorsement and signs the
// prepared transaction it returns. The returned Transaction holds the
// contract's result and is ready to Submit. Failures of the Endorse call
// return a *EndorseError.
func (p *Proposal) Endorse(ctx context.Context) (*Transaction, error) {
	callCtx, cancel := withTimeout(ctx, p.gw.opts.endorseTimeout)
	defer cancel()
	resp, err := p.gw.client.Endorse(callCtx, &gatewaypb.EndorseRequest{
		TransactionId:          p.txID,
		ChannelId:              p.channel,
		ProposedTransaction:    p.signed,
		EndorsingOrganizations: p.endorsingOrgs,
	})
	if err != nil {
		return nil, &EndorseError{TransactionID: p.txID, Err: newGatewayError(callCtx, err)}
	}
	env := resp.GetPreparedTransaction()
	if env == nil || len(env.GetPayload()) == 0 {
		return nil, fmt.Errorf("client: endorsing transaction %s: the Gateway returned no prepared transaction", p.txID)
	}
	prepared, err := parsePreparedTransaction(env.GetPayload())
	if err != nil {
		return nil, fmt.Errorf("client: endorsing transaction %s: %w", p.txID, err)
	}
	// Sign only the transaction that was proposed.
	if prepared.txID != p.txID || prepared.channel != p.channel {
		return nil, fmt.Errorf("client: endorsing transaction %s on channel %q: the Gateway prepared transaction %s on channel %q",
			p.txID, p.channel, prepared.txID, prepared.channel)
	}
	// The signature covers the payload bytes exactly as received.
	sig, err := p.gw.signer.Sign(env.GetPayload())
	if err != nil {
		return nil, fmt.Errorf("client: signing transaction %s: %w", p.txID, err)
	}
	return &Transaction{
		gw:       p.gw,
		txID:     p.txID,
		channel:  prepared.channel,
		envelope: &commonpb.Envelope{Payload: env.GetPayload(), Signature: sig},
		result:   prepared.result,
	}, nil
}

// Transaction is an endorsed transaction, signed by the client and ready
// to be submitted to ordering. It is immutable and safe for concurrent use.
type Transaction struct {
	gw       *Gateway
	txID     string
	channel  string
	envelope *commonpb.Envelope
	result   []byte
}

// TransactionID returns the transaction id.
func (t *Transaction) TransactionID() string { return t.txID }

// Result returns the contract's result, as the endorsing peers computed it.
// It is a copy.
func (t *Transaction) Result() []byte { return slices.Clone(t.result) }

// Submit hands the transaction to the Gateway, which sends it to ordering.
// It returns once ordering accepted it; the returned Commit waits for it to
// be committed. Failures return a *SubmitError.
func (t *Transaction) Submit(ctx context.Context) (*Commit, error) {
	ctx, cancel := withTimeout(ctx, t.gw.opts.submitTimeout)
	defer cancel()
	_, err := t.gw.client.Submit(ctx, &gatewaypb.SubmitRequest{
		TransactionId:       t.txID,
		ChannelId:           t.channel,
		PreparedTransaction: t.envelope,
	})
	if err != nil {
		return nil, &SubmitError{TransactionID: t.txID, Err: newGatewayError(ctx, err)}
	}
	return &Commit{gw: t.gw, txID: t.txID, channel: t.channel}, nil
}

// proposalInput is everything a proposal is made of.
type proposalInput struct {
	creator   []byte // the serialized identity
	nonce     []byte
	timestamp time.Time
	channel   string
	chaincode string
	args      [][]byte // [fn, args...]
	transient map[string][]byte
}

// transactionID returns Fabric's transaction id of a proposal: the
// lowercase hex SHA-256 of the nonce followed by the creator.
func transactionID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// buildProposal returns the transaction id and the bytes of the
// peer.Proposal of in, built field for field as Fabric's clients build it.
func buildProposal(in proposalInput) (txID string, proposal []byte, err error) {
	txID = transactionID(in.nonce, in.creator)
	chaincodeID := &peerpb.ChaincodeID{Name: in.chaincode}
	var b builder
	extension := b.marshal(&peerpb.ChaincodeHeaderExtension{ChaincodeId: chaincodeID})
	channelHeader := b.marshal(&commonpb.ChannelHeader{
		Type:      int32(commonpb.HeaderType_ENDORSER_TRANSACTION),
		Timestamp: timestamppb.New(in.timestamp),
		ChannelId: in.channel,
		TxId:      txID,
		Epoch:     0,
		Extension: extension,
	})
	signatureHeader := b.marshal(&commonpb.SignatureHeader{Creator: in.creator, Nonce: in.nonce})
	header := b.marshal(&commonpb.Header{ChannelHeader: channelHeader, SignatureHeader: signatureHeader})
	invocation := b.marshal(&peerpb.ChaincodeInvocationSpec{ChaincodeSpec: &peerpb.ChaincodeSpec{
		Type:        peerpb.ChaincodeSpec_GOLANG,
		ChaincodeId: chaincodeID,
		Input:       &peerpb.ChaincodeInput{Args: in.args},
	}})
	payload := b.marshal(&peerpb.ChaincodeProposalPayload{Input: invocation, TransientMap: in.transient})
	proposal = b.marshal(&peerpb.Proposal{Header: header, Payload: payload})
	if b.err != nil {
		return "", nil, fmt.Errorf("client: building proposal %s: %w", txID, b.err)
	}
	return txID, proposal, nil
}

// builder marshals messages until the first error, which it keeps.
type builder struct{ err error }

func (b *builder) marshal(m proto.Message) []byte {
	if b.err != nil {
		return nil
	}
	out, err := marshal(m)
	if err != nil {
		b.err = err
	}
	return out
}
