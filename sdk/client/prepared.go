package client

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/chorusledger/chorus/internal/zerocopy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// preparedTransaction is what the client reads from the prepared
// transaction the Gateway returns from Endorse.
type preparedTransaction struct {
	channel string // the channel header's channel id
	txID    string // the channel header's transaction id
	result  []byte // the contract's response payload
}

// parsePreparedTransaction reads the payload of a prepared transaction
// envelope as Fabric's clients do (FABRIC-WIRE §1.6, Endorse): the channel
// from Payload.header.channel_header, and the result from Payload.data →
// Transaction → actions[0] → ChaincodeActionPayload.action →
// ProposalResponsePayload.extension → ChaincodeAction.response.payload.
// Nothing else is checked: the client cannot verify endorsements. The
// channel and transaction ids share payloadBytes's memory.
func parsePreparedTransaction(payloadBytes []byte) (preparedTransaction, error) {
	fail := func(what string, err error) (preparedTransaction, error) {
		return preparedTransaction{}, fmt.Errorf("malformed prepared transaction: %s: %w", what, err)
	}
	var payload commonpb.Payload
	if err := zerocopy.Unmarshal(payloadBytes, &payload); err != nil {
		return fail("payload", err)
	}
	if payload.GetHeader() == nil {
		return fail("payload", errors.New("no header"))
	}
	var channelHeader commonpb.ChannelHeader
	if err := zerocopy.Unmarshal(payload.GetHeader().GetChannelHeader(), &channelHeader); err != nil {
		return fail("channel header", err)
	}
	if channelHeader.GetChannelId() == "" {
		return fail("channel header", errors.New("no channel id"))
	}
	var tx peerpb.Transaction
	if err := zerocopy.Unmarshal(payload.GetData(), &tx); err != nil {
		return fail("transaction", err)
	}
	if len(tx.GetActions()) == 0 {
		return fail("transaction", errors.New("no actions"))
	}
	var actionPayload peerpb.ChaincodeActionPayload
	if err := zerocopy.Unmarshal(tx.GetActions()[0].GetPayload(), &actionPayload); err != nil {
		return fail("chaincode action payload", err)
	}
	if actionPayload.GetAction() == nil {
		return fail("chaincode action payload", errors.New("no endorsed action"))
	}
	var responsePayload peerpb.ProposalResponsePayload
	if err := zerocopy.Unmarshal(actionPayload.GetAction().GetProposalResponsePayload(), &responsePayload); err != nil {
		return fail("proposal response payload", err)
	}
	var action peerpb.ChaincodeAction
	if err := zerocopy.Unmarshal(responsePayload.GetExtension(), &action); err != nil {
		return fail("chaincode action", err)
	}
	if action.GetResponse() == nil {
		return fail("chaincode action", errors.New("no proposal response found"))
	}
	return preparedTransaction{
		channel: channelHeader.GetChannelId(),
		txID:    channelHeader.GetTxId(),
		// The caller owns the result; the rest shares payloadBytes.
		result: bytes.Clone(action.GetResponse().GetPayload()),
	}, nil
}
