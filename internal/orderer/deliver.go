package orderer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Deliver streams a channel's blocks. Each request is an envelope whose
// payload is a SeekInfo, signed by an identity that satisfies the channel's
// Readers policy; the stream sends blocks from the start position to the
// stop position, waiting at the tip for new ones, then a SUCCESS status.
func (o *Orderer) Deliver(stream ordererpb.AtomicBroadcast_DeliverServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := o.deliverOne(stream.Context(), req, func(buf []byte) error {
			return stream.Send(blockResponse(buf))
		})
		if err != nil {
			return err
		}
		if err := stream.Send(&ordererpb.DeliverResponse{Type: &ordererpb.DeliverResponse_Status{Status: st}}); err != nil {
			return err
		}
	}
}

// deliverBlockField is the field number of DeliverResponse.block.
var deliverBlockField = (&ordererpb.DeliverResponse{}).ProtoReflect().Descriptor().Fields().ByName("block").Number()

// blockResponse is a DeliverResponse carrying a block exactly as the
// ledger stored it: buf[ledger.BlockHeadroom:] (buf as
// Ledger.BlockBytesWithHeadroom returns it). The stored bytes are a
// marshalled Block, so the field DeliverResponse.block is their tag and
// length followed by them; written into the headroom in front of the
// block and set as the message's unknown fields, they are sent as they
// are, and the receiver decodes a DeliverResponse holding the block. The
// block is neither decoded, nor copied by us, nor encoded again on its
// way out (gRPC copies it once into its send buffer).
func blockResponse(buf []byte) *ordererpb.DeliverResponse {
	raw := buf[ledger.BlockHeadroom:]
	hdr := protowire.AppendVarint(protowire.AppendTag(nil, deliverBlockField, protowire.BytesType), uint64(len(raw)))
	var field []byte
	if len(hdr) <= ledger.BlockHeadroom {
		field = buf[ledger.BlockHeadroom-len(hdr):]
		copy(field, hdr)
	} else { // blocks of 2^49 bytes and more; never in practice
		field = append(hdr, raw...)
	}
	resp := &ordererpb.DeliverResponse{}
	resp.ProtoReflect().SetUnknown(field)
	return resp
}

// deliverOne serves one seek request, returning the final status; an error
// means the stream broke.
func (o *Orderer) deliverOne(ctx context.Context, req *commonpb.Envelope, send func(buf []byte) error) (commonpb.Status, error) {
	env, err := envelope.ParseEnvelopeMessage(req)
	if err != nil {
		o.log.Debug("deliver: malformed request", "err", err)
		return commonpb.Status_BAD_REQUEST, nil
	}
	if env.Type() != commonpb.HeaderType_DELIVER_SEEK_INFO {
		return commonpb.Status_BAD_REQUEST, nil
	}
	ch := o.channel(env.ChannelHeader.ChannelId)
	if ch == nil {
		return commonpb.Status_NOT_FOUND, nil
	}
	if err := ch.bundle().CheckSigned(channelconfig.PolicyReaders, channelconfig.SignedData{
		Data: env.PayloadBytes, Identity: env.SignatureHeader.Creator, Signature: env.Signature,
	}); err != nil {
		o.log.Info("deliver refused", "channel", ch.id, "err", err)
		return commonpb.Status_FORBIDDEN, nil
	}
	seek := &ordererpb.SeekInfo{}
	if err := proto.Unmarshal(env.Payload.Data, seek); err != nil || seek.Start == nil {
		return commonpb.Status_BAD_REQUEST, nil
	}
	// A draining orderer ends its Deliver streams so that clients move on.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-o.drainC:
			cancel()
		case <-dctx.Done():
		}
	}()
	st, err := serveSeek(dctx, ch.ledger, seek, send)
	if err != nil && ctx.Err() == nil {
		return commonpb.Status_SERVICE_UNAVAILABLE, nil
	}
	return st, err
}

// serveSeek streams the blocks a SeekInfo asks for from l, each as it is
// stored, with headroom (Ledger.BlockBytesWithHeadroom).
func serveSeek(ctx context.Context, l *ledger.Ledger, seek *ordererpb.SeekInfo, send func(buf []byte) error) (commonpb.Status, error) {
	height := l.Height()
	start, err := seekNumber(seek.Start, height, false)
	if err != nil {
		return commonpb.Status_BAD_REQUEST, nil
	}
	stop := start
	if seek.Stop != nil {
		if stop, err = seekNumber(seek.Stop, height, true); err != nil {
			return commonpb.Status_BAD_REQUEST, nil
		}
	}
	if stop < start {
		return commonpb.Status_BAD_REQUEST, nil
	}
	if seek.Behavior == ordererpb.SeekInfo_FAIL_IF_NOT_READY && start >= height {
		return commonpb.Status_NOT_FOUND, nil
	}
	for n := start; ; n++ {
		if err := l.WaitForHeight(ctx, n+1); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return commonpb.Status_SERVICE_UNAVAILABLE, nil
		}
		buf, err := l.BlockBytesWithHeadroom(n)
		if err != nil {
			return commonpb.Status_INTERNAL_SERVER_ERROR, nil
		}
		if err := send(buf); err != nil {
			return 0, err
		}
		if n == stop || n == math.MaxUint64 {
			return commonpb.Status_SUCCESS, nil
		}
	}
}

// seekNumber resolves a seek position against the current height.
func seekNumber(p *ordererpb.SeekPosition, height uint64, isStop bool) (uint64, error) {
	switch t := p.Type.(type) {
	case *ordererpb.SeekPosition_Oldest:
		return 0, nil
	case *ordererpb.SeekPosition_Newest:
		if height == 0 {
			return 0, nil
		}
		return height - 1, nil
	case *ordererpb.SeekPosition_Specified:
		return t.Specified.Number, nil
	case *ordererpb.SeekPosition_NextCommit:
		if isStop {
			return 0, fmt.Errorf("next commit is not a stop position")
		}
		return height, nil
	default:
		return 0, fmt.Errorf("unknown seek position")
	}
}
