package gateway

import (
	"errors"
	"fmt"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// ChaincodeEvents streams the events a contract set in valid transactions,
// one response per block that has any, in block order, from the requested
// start: a block number, the block after a given transaction, or the next
// block to commit. The stream ends only when the client ends it.
func (s *Server) ChaincodeEvents(req *gatewaypb.SignedChaincodeEventsRequest, stream gatewaypb.Gateway_ChaincodeEventsServer) (err error) {
	defer func() { s.count("ChaincodeEvents", err) }()
	ctx := stream.Context()
	cer := &gatewaypb.ChaincodeEventsRequest{}
	if err := proto.Unmarshal(req.GetRequest(), cer); err != nil {
		return status.Errorf(codes.InvalidArgument, "failed to unpack the events request: %v", err)
	}
	if cer.ChannelId == "" || cer.ChaincodeId == "" || len(cer.Identity) == 0 {
		return status.Error(codes.InvalidArgument, "a channel, a contract name and an identity are required")
	}
	bundle, err := s.opts.Peer.Bundle(cer.ChannelId)
	if err != nil {
		return status.Error(codes.NotFound, err.Error())
	}
	if err := bundle.CheckSigned(channelconfig.PolicyReaders, channelconfig.SignedData{Data: req.Request, Identity: cer.Identity, Signature: req.Signature}); err != nil {
		return status.Errorf(codes.PermissionDenied, "events request: %v", err)
	}
	l, err := s.opts.Peer.Ledger(cer.ChannelId)
	if err != nil {
		return status.Error(codes.NotFound, err.Error())
	}
	start, skipUntil, err := eventsStart(l, cer)
	if err != nil {
		return err
	}
	for num := start; ; num++ {
		// A channel that stops committing ends the stream, once the
		// blocks it did commit are sent, with the reason.
		if err := s.opts.Peer.WaitForHeight(ctx, cer.ChannelId, num+1); err != nil {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return status.Error(codes.Unavailable, err.Error())
		}
		b, err := l.Block(num)
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		var events []*peerpb.ChaincodeEvent
		events, skipUntil = blockEvents(b, cer.ChaincodeId, skipUntil)
		if len(events) == 0 {
			continue
		}
		if err := stream.Send(&gatewaypb.ChaincodeEventsResponse{Events: events, BlockNumber: num}); err != nil {
			return err
		}
	}
}

// eventsStart resolves where an events stream starts, and the transaction
// after which events are wanted within the first block (empty for all).
func eventsStart(l *ledger.Ledger, req *gatewaypb.ChaincodeEventsRequest) (uint64, string, error) {
	if req.AfterTransactionId != "" {
		rec, err := l.TxByID(req.AfterTransactionId)
		if err == nil {
			return rec.BlockNumber, req.AfterTransactionId, nil
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return 0, "", status.Error(codes.Internal, err.Error())
		}
	}
	switch p := req.GetStartPosition().GetType().(type) {
	case nil, *ordererpb.SeekPosition_NextCommit:
		return l.Height(), "", nil
	case *ordererpb.SeekPosition_Specified:
		return p.Specified.Number, "", nil
	case *ordererpb.SeekPosition_Oldest:
		return 0, "", nil
	case *ordererpb.SeekPosition_Newest:
		if h := l.Height(); h > 0 {
			return h - 1, "", nil
		}
		return 0, "", nil
	default:
		return 0, "", status.Error(codes.InvalidArgument, fmt.Sprintf("unsupported start position %T", p))
	}
}

// blockEvents extracts the contract's events from the valid transactions
// of a block, leaving out those up to and including skipUntil.
func blockEvents(b *commonpb.Block, contract, skipUntil string) ([]*peerpb.ChaincodeEvent, string) {
	filter := ledger.TxFilter(b)
	var out []*peerpb.ChaincodeEvent
	for i, raw := range b.GetData().GetData() {
		env, err := envelope.ParseEnvelope(raw)
		if err != nil {
			continue
		}
		if skipUntil != "" {
			if env.TxID() == skipUntil {
				skipUntil = ""
			}
			continue
		}
		if i >= len(filter) || peerpb.TxValidationCode(filter[i]) != peerpb.TxValidationCode_VALID {
			continue
		}
		if env.Type() != commonpb.HeaderType_ENDORSER_TRANSACTION {
			continue
		}
		tx, err := envelope.ParseEndorserTransaction(env.Payload.Data)
		if err != nil || tx.Event == nil || tx.ContractName() != contract {
			continue
		}
		ev := proto.Clone(tx.Event).(*peerpb.ChaincodeEvent)
		ev.ChaincodeId, ev.TxId = contract, env.TxID()
		out = append(out, ev)
	}
	return out, skipUntil
}
