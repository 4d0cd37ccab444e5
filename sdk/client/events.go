package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
)

// ChaincodeEvent is an event a contract emitted in a committed, valid
// transaction.
type ChaincodeEvent struct {
	// BlockNumber is the block holding the transaction.
	BlockNumber uint64
	// TransactionID is the id of the transaction that emitted the event.
	TransactionID string
	// ChaincodeName is the contract that emitted it.
	ChaincodeName string
	// EventName is the name the contract gave the event.
	EventName string
	// Payload is the data the contract attached.
	Payload []byte
}

// EventsOption configures Network.ChaincodeEvents.
type EventsOption func(*eventsOptions)

type eventsOptions struct {
	startBlock    uint64
	hasStartBlock bool
	afterTxID     string
}

// WithStartBlock starts the events at block number n (inclusive) instead of
// at the next block to be committed.
func WithStartBlock(n uint64) EventsOption {
	return func(o *eventsOptions) { o.startBlock, o.hasStartBlock = n, true }
}

// WithAfterTransaction resumes the events after the transaction txID: when
// the Gateway finds it, events start in its block, after its own events.
// Together with WithStartBlock(block of txID) it resumes exactly after the
// last event processed, as a checkpoint does.
func WithAfterTransaction(txID string) EventsOption {
	return func(o *eventsOptions) { o.afterTxID = txID }
}

// ChaincodeEvents streams the events of contract contractName on the
// channel, in block order, from the next block to be committed unless an
// option says otherwise.
//
// Events arrive on the returned channel, which is closed when ctx ends or
// the stream fails; cancel ctx to stop receiving (and keep receiving until
// then: the stream waits for each event to be taken). Once the channel is
// closed, the returned function reports why: ctx's error when ctx ended, a
// *GatewayError when the Gateway refused or broke the stream. The error
// result reports failures to build or send the request.
func (n *Network) ChaincodeEvents(ctx context.Context, contractName string, opts ...EventsOption) (<-chan *ChaincodeEvent, func() error, error) {
	gw := n.gw
	var o eventsOptions
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case n.name == "":
		return nil, nil, errors.New("client: chaincode events without a channel name")
	case contractName == "":
		return nil, nil, errors.New("client: chaincode events without a contract name")
	}
	start := &ordererpb.SeekPosition{Type: &ordererpb.SeekPosition_NextCommit{NextCommit: &ordererpb.SeekNextCommit{}}}
	if o.hasStartBlock {
		start = &ordererpb.SeekPosition{Type: &ordererpb.SeekPosition_Specified{Specified: &ordererpb.SeekSpecified{Number: o.startBlock}}}
	}
	request, err := marshal(&gatewaypb.ChaincodeEventsRequest{
		ChannelId:          n.name,
		ChaincodeId:        contractName,
		Identity:           gw.creator,
		StartPosition:      start,
		AfterTransactionId: o.afterTxID,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("client: building chaincode events request: %w", err)
	}
	sig, err := gw.signer.Sign(request)
	if err != nil {
		return nil, nil, fmt.Errorf("client: signing chaincode events request: %w", err)
	}
	stream, err := gw.client.ChaincodeEvents(ctx, &gatewaypb.SignedChaincodeEventsRequest{Request: request, Signature: sig})
	if err != nil {
		return nil, nil, newGatewayError(ctx, err)
	}

	events := make(chan *ChaincodeEvent)
	var (
		mu       sync.Mutex
		finalErr error
	)
	go func() {
		err := receiveEvents(ctx, stream, events)
		mu.Lock()
		finalErr = err
		mu.Unlock()
		close(events)
	}()
	errFunc := func() error {
		mu.Lock()
		defer mu.Unlock()
		return finalErr
	}
	return events, errFunc, nil
}

// receiveEvents passes the events of stream to events until ctx ends or the
// stream fails, and returns why it stopped.
func receiveEvents(ctx context.Context, stream gatewaypb.Gateway_ChaincodeEventsClient, events chan<- *ChaincodeEvent) error {
	for {
		resp, err := stream.Recv()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if errors.Is(err, io.EOF) {
				return errors.New("client: chaincode events: the Gateway ended the stream")
			}
			return newGatewayError(ctx, err)
		}
		for _, ev := range resp.GetEvents() {
			e := &ChaincodeEvent{
				BlockNumber:   resp.GetBlockNumber(),
				TransactionID: ev.GetTxId(),
				ChaincodeName: ev.GetChaincodeId(),
				EventName:     ev.GetEventName(),
				Payload:       ev.GetPayload(),
			}
			select {
			case events <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}
