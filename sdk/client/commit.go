package client

import (
	"context"
	"fmt"
	"sync"

	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// Status is the outcome of a committed transaction.
type Status struct {
	// Code is the transaction's validation code (Fabric's
	// TxValidationCode): 0 (VALID) when its writes were applied.
	Code int32
	// CodeName is the name of Code, such as "VALID" or
	// "MVCC_READ_CONFLICT".
	CodeName string
	// BlockNumber is the block the transaction is in.
	BlockNumber uint64
	// TransactionID is the transaction's id.
	TransactionID string
	// Successful is Code == 0: the transaction is valid and its writes were
	// applied.
	Successful bool
}

// Commit is a transaction submitted to ordering, whose commit status can be
// awaited. It is safe for concurrent use.
type Commit struct {
	gw      *Gateway
	txID    string
	channel string

	mu      sync.Mutex
	request *gatewaypb.SignedCommitStatusRequest // signed once, on first use
	status  *Status                              // cached once known: it never changes
}

// TransactionID returns the transaction id.
func (c *Commit) TransactionID() string { return c.txID }

// Status waits until the transaction is committed (or ctx ends) and returns
// its status. A committed but invalid transaction is not an error here:
// check Status.Successful (Contract.Submit turns it into a *CommitError).
// A failed call returns a *CommitStatusError; the transaction's fate is
// then unknown, and calling Status again is safe.
func (c *Commit) Status(ctx context.Context) (*Status, error) {
	req, cached, err := c.prepare()
	if err != nil || cached != nil {
		return cached, err
	}
	ctx, cancel := withTimeout(ctx, c.gw.opts.commitStatusTimeout)
	defer cancel()
	resp, err := c.gw.client.CommitStatus(ctx, req)
	if err != nil {
		return nil, &CommitStatusError{TransactionID: c.txID, Err: newGatewayError(ctx, err)}
	}
	s := &Status{
		Code:          int32(resp.GetResult()),
		CodeName:      validationCodeName(int32(resp.GetResult())),
		BlockNumber:   resp.GetBlockNumber(),
		TransactionID: c.txID,
		Successful:    resp.GetResult() == peerpb.TxValidationCode_VALID,
	}
	c.mu.Lock()
	c.status = s
	c.mu.Unlock()
	copied := *s
	return &copied, nil
}

// prepare returns the signed commit-status request, signing it on first
// use, or a copy of the status when it is already known.
func (c *Commit) prepare() (*gatewaypb.SignedCommitStatusRequest, *Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != nil {
		copied := *c.status
		return nil, &copied, nil
	}
	if c.request != nil {
		return c.request, nil, nil
	}
	request, err := marshal(&gatewaypb.CommitStatusRequest{
		TransactionId: c.txID,
		ChannelId:     c.channel,
		Identity:      c.gw.creator,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("client: building commit status request of transaction %s: %w", c.txID, err)
	}
	sig, err := c.gw.signer.Sign(request)
	if err != nil {
		return nil, nil, fmt.Errorf("client: signing commit status request of transaction %s: %w", c.txID, err)
	}
	c.request = &gatewaypb.SignedCommitStatusRequest{Request: request, Signature: sig}
	return c.request, nil, nil
}

// validationCodeName returns the name of a validation code, or
// "TxValidationCode(n)" for a code Fabric does not define.
func validationCodeName(code int32) string {
	if name, ok := peerpb.TxValidationCode_name[code]; ok {
		return name
	}
	return fmt.Sprintf("TxValidationCode(%d)", code)
}
